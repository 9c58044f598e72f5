"""A live server with a platform administrator, a tenant with data, and a flag to override."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from tenantry.kit.ids import uuid7
from tenantry.web import create_app
from tests.api.conftest import PASSWORD, api_settings
from tests.conftest import ROLES
from tests.live import live_server

PLATFORM = "ui-operators"
ADMIN_EMAIL = "ui-admin@example.com"


@dataclass(frozen=True)
class Stage:
    url: str
    tenant: str
    flag: str
    person: str


def _cli(urls, *args: str, stdin: str = "") -> None:
    env = {
        **os.environ,
        "TENANTRY_DATABASE_URL": urls.admin,
        "TENANTRY_ROLE_PREFIX": ROLES.prefix,
        "TENANTRY_PLATFORM_TENANT": PLATFORM,
    }
    result = subprocess.run(
        [sys.executable, "-m", "tenantry.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0 or "already" in result.stderr, result.stderr


@pytest.fixture(scope="module")
def stage(urls) -> Iterator[Stage]:
    with live_server(
        lambda url: create_app(api_settings(urls, public_url=url, platform_tenant=PLATFORM))
    ) as url:
        yield _prepare(urls, url)


def _prepare(urls, url: str) -> Stage:
    _cli(urls, "admins", "create", ADMIN_EMAIL, "--password-stdin", stdin=PASSWORD + "\n")
    tenant = f"ui-{uuid7().hex[-8:]}"
    flag = f"ui.flag-{uuid7().hex[-6:]}"
    person = "casey@example.com"
    with httpx.Client(base_url=url) as client:
        token = client.post(
            "/v1/apps/admin/auth/login",
            json={"tenant": PLATFORM, "email": ADMIN_EMAIL, "password": PASSWORD},
        ).json()["access_token"]
        auth = {"Authorization": f"Bearer {token}"}
        created = client.post(
            "/v1/platform/tenants",
            headers=auth,
            json={
                "slug": tenant,
                "name": "UI Test Co",
                "plan": "business",
                "apps": ["thinktank", "launchboard"],
                "admin_email": f"boss@{tenant}.test",
            },
        )
        assert created.status_code == 201, created.text
        assert (
            client.post(
                "/v1/platform/flags",
                headers=auth,
                json={"key": flag, "type": "boolean", "default": False, "reason": "ui test"},
            ).status_code
            == 201
        )
        for app_slug in ("thinktank", "launchboard"):
            body = {"tenant": tenant, "email": person, "password": PASSWORD}
            assert client.post(f"/v1/apps/{app_slug}/auth/signup", json=body).status_code == 202
        user = client.post(
            "/v1/apps/thinktank/auth/login",
            json={"tenant": tenant, "email": person, "password": PASSWORD},
        ).json()
        # A cross-app attempt, for the security events page.
        assert (
            client.get(
                "/v1/apps/launchboard/me",
                headers={"Authorization": f"Bearer {user['access_token']}"},
            ).status_code
            == 403
        )
    return Stage(url, tenant, flag, person)
