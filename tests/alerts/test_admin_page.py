"""The admin console's Alerts page over HTTP: probing raises an alert that the page lists and
the dashboard counts; acknowledging and resolving need the form's CSRF token."""

from __future__ import annotations

import re

import httpx

from tests.admin.stage import ADMIN_EMAIL, PLATFORM, signed_in_client
from tests.support.wiring import PASSWORD

ACK = re.compile(r'action="/admin/alerts/([0-9a-f-]{36})/acknowledge"')
RESOLVE = re.compile(r'action="/admin/alerts/([0-9a-f-]{36})/resolve"')


def test_alerts_page_lists_and_acknowledges(stage) -> None:
    with httpx.Client(base_url=stage.url) as api:
        login = api.post(
            "/v1/apps/admin/auth/login",
            json={"tenant": PLATFORM, "email": ADMIN_EMAIL, "password": PASSWORD},
        )
        auth = {"Authorization": f"Bearer {login.json()['access_token']}"}
        # Five cross-app attempts from one address: the probing rule's threshold.
        for _ in range(5):
            assert api.get("/v1/apps/thinktank/me", headers=auth).status_code == 403
    client, token = signed_in_client(stage)
    try:
        dashboard = client.get("/admin")
        assert dashboard.status_code == 200
        assert re.search(r"[1-9]\d* open alerts? →", dashboard.text)
        page = client.get(
            "/admin/alerts",
            params={"tenant": PLATFORM, "status": "open", "rule": "cross_scope_probing"},
        )
        assert page.status_code == 200
        assert "Repeated attempts to use a credential" in page.text
        [alert_id, *_] = ACK.findall(page.text)
        forged = client.post(
            f"/admin/alerts/{alert_id}/acknowledge", data={"csrf": "forged", "tenant": PLATFORM}
        )
        assert forged.status_code in {400, 403}
        done = client.post(
            f"/admin/alerts/{alert_id}/acknowledge",
            data={"csrf": token, "tenant": PLATFORM, "status": "open"},
            follow_redirects=False,
        )
        assert done.status_code == 303
        assert alert_id not in client.get("/admin/alerts", params={"status": "open"}).text
        seen = client.get("/admin/alerts", params={"tenant": PLATFORM, "status": "acknowledged"})
        assert "acknowledged by platform-admin:" in seen.text
        # An acknowledged alert can still be resolved, with the form's CSRF token only.
        assert alert_id in RESOLVE.findall(seen.text)
        forged = client.post(
            f"/admin/alerts/{alert_id}/resolve", data={"csrf": "forged", "tenant": PLATFORM}
        )
        assert forged.status_code in {400, 403}
        resolved = client.post(
            f"/admin/alerts/{alert_id}/resolve",
            data={"csrf": token, "tenant": PLATFORM, "status": "acknowledged"},
            follow_redirects=False,
        )
        assert resolved.status_code == 303
        assert alert_id not in client.get("/admin/alerts", params={"status": "acknowledged"}).text
        closed = client.get("/admin/alerts", params={"tenant": PLATFORM, "status": "resolved"})
        # A resolved alert offers no button any more; who resolved it is shown.
        assert "resolved by platform-admin:" in closed.text
        assert RESOLVE.findall(closed.text) == []
        nothing = client.get("/admin/alerts", params={"tenant": "no-such-tenant", "status": ""})
        assert "No alerts." in nothing.text
    finally:
        client.close()
