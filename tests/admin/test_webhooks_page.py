"""A tenant's webhook endpoints in the admin UI: listed with their health, disabled with a
reason and enabled again with the session's CSRF token, the delivery log per endpoint, an
unknown endpoint's test a 404 page — and never a signing secret."""

from __future__ import annotations

import httpx
import pytest

from tenantry.kit.ids import uuid7
from tests.admin.stage import ADMIN_EMAIL, PLATFORM, signed_in_client
from tests.support.wiring import PASSWORD


@pytest.fixture
def admin(stage):
    client, csrf = signed_in_client(stage)
    yield client, csrf
    client.close()


def test_endpoints_health_actions_and_log(stage, admin) -> None:
    client, csrf = admin
    with httpx.Client(base_url=stage.url) as api:
        body = {"tenant": PLATFORM, "email": ADMIN_EMAIL, "password": PASSWORD}
        token = api.post("/v1/apps/admin/auth/login", json=body).json()["access_token"]
        created = api.post(
            "/v1/apps/admin/webhooks",
            headers={"Authorization": f"Bearer {token}"},
            json={"url": f"https://hooks.example.com/{uuid7().hex}", "event_types": ["a.*"]},
        )
    assert created.status_code == 201, created.text
    endpoint = created.json()
    base = f"/admin/tenants/{PLATFORM}/webhooks"
    page = client.get(base)
    assert page.status_code == 200
    assert endpoint["url"] in page.text
    assert endpoint["secret"] not in page.text
    assert client.get(f"/admin/tenants/{PLATFORM}").text.count(f'href="{base}"') == 1

    disable = f"{base}/{endpoint['id']}/disable"
    assert client.post(disable, data={"reason": "maintenance"}).status_code == 403
    disabled = client.post(
        disable, data={"reason": "maintenance", "csrf": csrf}, follow_redirects=True
    )
    assert "endpoint disabled" in disabled.text
    assert "disabled</span>: maintenance" in disabled.text
    enabled = client.post(
        f"{base}/{endpoint['id']}/enable", data={"csrf": csrf}, follow_redirects=True
    )
    assert "endpoint enabled" in enabled.text
    log = client.get(base, params={"endpoint": endpoint["id"]})
    assert "Delivery log of" in log.text
    assert "No deliveries yet." in log.text
    unknown = client.post(f"{base}/{uuid7()}/test", data={"csrf": csrf})
    assert unknown.status_code == 404
    assert "no such webhook endpoint" in unknown.text
