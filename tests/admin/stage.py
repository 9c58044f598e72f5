"""The stage the admin UI suites play on: a live server with a platform administrator, a
tenant with people in two apps, a flag to override and one security event."""

from __future__ import annotations

import re
from dataclasses import dataclass

import httpx

from tenantry.kit.ids import uuid7
from tests.support.cli import tenantry
from tests.support.database import Urls
from tests.support.wiring import PASSWORD

PLATFORM = "ui-operators"
ADMIN_EMAIL = "ui-admin@example.com"


@dataclass(frozen=True)
class Stage:
    url: str
    tenant: str
    flag: str
    person: str


def add_platform_admin(urls: Urls, email: str) -> None:
    """A platform administrator of the UI's operators' tenant, created as an operator does."""
    result = tenantry(
        urls,
        "admins",
        "create",
        email,
        "--password-stdin",
        stdin=PASSWORD + "\n",
        platform_tenant=PLATFORM,
    )
    assert result.returncode == 0 or "already" in result.stderr, result.stderr


def prepare(urls, url: str) -> Stage:
    add_platform_admin(urls, ADMIN_EMAIL)
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


def signed_in_client(stage) -> tuple[httpx.Client, str]:
    client = httpx.Client(base_url=stage.url, follow_redirects=False)
    page = client.get("/admin/login")
    nonce = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    done = client.post(
        "/admin/login", data={"email": ADMIN_EMAIL, "password": PASSWORD, "csrf": nonce}
    )
    assert done.status_code == 303, done.text
    cookie = done.headers["set-cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    dashboard = client.get("/admin")
    token = re.search(r'name="csrf" value="([^"]+)"', dashboard.text).group(1)
    return client, token
