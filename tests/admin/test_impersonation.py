"""Impersonation from the admin UI: refused until the tenant allows it, then a token shown
once, a banner on every page while it runs, and an end button that stops the token."""

from __future__ import annotations

import re

import httpx

from tests.admin.stage import ADMIN_EMAIL, PLATFORM, signed_in_client
from tests.support.wiring import PASSWORD

TOKEN = re.compile(r'<p class="token"><code>([^<]+)</code>')
END = re.compile(r'action="/admin/impersonations/([0-9a-f-]{36})/end"')


def _platform_auth(api: httpx.Client) -> dict[str, str]:
    login = api.post(
        "/v1/apps/admin/auth/login",
        json={"tenant": PLATFORM, "email": ADMIN_EMAIL, "password": PASSWORD},
    )
    return {"Authorization": f"Bearer {login.json()['access_token']}"}


def test_impersonation_from_the_admin_ui(stage) -> None:
    client, csrf = signed_in_client(stage)
    form = {
        "csrf": csrf,
        "tenant": stage.tenant,
        "app": "thinktank",
        "email": stage.person,
        "reason": "support ticket 99",
        "minutes": "10",
    }
    try:
        refused = client.post("/admin/impersonations", data=form)
        assert refused.status_code == 403
        assert "impersonation is turned off for this tenant" in refused.text
        with httpx.Client(base_url=stage.url) as api:
            enabled = api.put(
                f"/v1/platform/tenants/{stage.tenant}/settings/impersonation_enabled",
                headers=_platform_auth(api),
                json={"value": True, "reason": "support"},
            )
            assert enabled.status_code == 200, enabled.text
        started = client.post("/admin/impersonations", data=form)
        assert started.status_code == 201, started.text
        token = TOKEN.search(started.text).group(1)
        # The banner is on every page while it runs.
        dashboard = client.get("/admin")
        assert f"You are acting as <strong>{stage.person}</strong>" in dashboard.text
        assert "(read-only)" in dashboard.text
        with httpx.Client(base_url=stage.url) as api:
            me = api.get("/v1/apps/thinktank/me", headers={"Authorization": f"Bearer {token}"})
            assert me.json()["email"] == stage.person
        grant = END.search(dashboard.text).group(1)
        # Ending needs the form token like every change.
        forged = client.post(
            f"/admin/impersonations/{grant}/end", data={"csrf": "x", "tenant": stage.tenant}
        )
        assert forged.status_code == 403
        ended = client.post(
            f"/admin/impersonations/{grant}/end", data={"csrf": csrf, "tenant": stage.tenant}
        )
        assert ended.status_code == 303
        assert "You are acting as" not in client.get("/admin").text
        with httpx.Client(base_url=stage.url) as api:
            after = api.get("/v1/apps/thinktank/me", headers={"Authorization": f"Bearer {token}"})
            assert after.status_code == 401
    finally:
        client.close()
