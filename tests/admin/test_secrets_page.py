"""A tenant's secrets in the admin UI: metadata, the access log with reasons and the data key's
master key, and never a value."""

from __future__ import annotations

import os

import pytest

from tests.admin.stage import signed_in_client
from tests.support.cli import tenantry


@pytest.fixture
def admin(stage):
    client, _ = signed_in_client(stage)
    yield client
    client.close()


def test_metadata_and_access_log_without_a_value(stage, urls, admin) -> None:
    value = "never-shown-" + os.urandom(4).hex()
    where = ("--tenant", stage.tenant, "--app", "thinktank")
    stored = tenantry(urls, "secrets", "set", "smtp-pass", *where, "--reason", "setup", stdin=value)
    assert stored.returncode == 0, stored.stderr
    read = tenantry(urls, "secrets", "get", "smtp-pass", *where, "--reason", "mail outage")
    assert read.stdout.strip() == value
    base = f"/admin/tenants/{stage.tenant}"
    assert f'href="{base}/secrets"' in admin.get(base).text
    page = admin.get(f"{base}/secrets")
    assert page.status_code == 200, page.text
    assert "smtp-pass" in page.text
    assert "mail outage" in page.text
    assert "local-" in page.text
    assert value not in page.text
