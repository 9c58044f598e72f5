"""Admin pages over HTTP: the security-events page shares the API's search, sign-in failures
keep what was typed, and lookups of things that do not exist say so."""

from __future__ import annotations

import re

import httpx

from tests.admin.stage import ADMIN_EMAIL, PLATFORM, signed_in_client
from tests.support.wiring import PASSWORD

EVENT_LINK = re.compile(r'href="/admin/security-events/([0-9a-f-]{36})"')


def _platform_admin_token(client: httpx.Client) -> dict[str, str]:
    login = client.post(
        "/v1/apps/admin/auth/login",
        json={"tenant": PLATFORM, "email": ADMIN_EMAIL, "password": PASSWORD},
    )
    assert login.status_code == 200, login.text
    return {"Authorization": f"Bearer {login.json()['access_token']}"}


def test_admin_page_and_api_list_the_same_events(stage) -> None:
    with httpx.Client(base_url=stage.url) as api:
        auth = _platform_admin_token(api)
        # Two cross-app attempts by the platform administrator: events of the operators' tenant.
        for _ in range(2):
            assert api.get("/v1/apps/thinktank/me", headers=auth).status_code == 403
        listed = api.get(
            "/v1/apps/admin/security-events",
            headers=auth,
            params={"kind": "app_mismatch", "app_filter": "admin", "limit": 25},
        )
        assert listed.status_code == 200, listed.text
        from_api = [e["id"] for e in listed.json()]
    client, _ = signed_in_client(stage)
    try:
        page = client.get(
            "/admin/security-events",
            params={"tenant": PLATFORM, "app": "admin", "kind": "app_mismatch"},
        )
        assert page.status_code == 200
        assert EVENT_LINK.findall(page.text) == from_api
        assert len(from_api) == 2  # the two made above: no other test signs in here

        detail = client.get(f"/admin/security-events/{from_api[0]}")
        assert detail.status_code == 200
        assert f'href="/admin/tenants/{PLATFORM}"' in detail.text
        assert "<dt>App</dt><dd>admin</dd>" in detail.text
        missing = client.get("/admin/security-events/00000000-0000-0000-0000-000000000000")
        assert missing.status_code == 404
    finally:
        client.close()


def test_event_filters_that_name_nothing_match_nothing(stage) -> None:
    client, _ = signed_in_client(stage)
    try:
        everything = client.get("/admin/security-events")
        assert everything.status_code == 200
        assert EVENT_LINK.findall(everything.text)
        for params in (
            {"tenant": "no-such-tenant"},
            {"app": "no-such-app"},
            {"tenant": stage.tenant, "since": "2999-01-01T00:00"},
        ):
            page = client.get("/admin/security-events", params=params)
            assert page.status_code == 200
            assert EVENT_LINK.findall(page.text) == []
            assert "No security events." in page.text
        # The cross-app attempt made while setting up, on this tenant only.
        own = client.get("/admin/security-events", params={"tenant": stage.tenant})
        assert len(EVENT_LINK.findall(own.text)) == 1
        assert "<td>app_mismatch</td>" in own.text
    finally:
        client.close()


def test_people_page_names_a_missing_tenant(stage) -> None:
    client, _ = signed_in_client(stage)
    try:
        page = client.get("/admin/people", params={"tenant": "no-such-tenant", "email": "a@b.co"})
        assert page.status_code == 200
        assert "no tenant &#39;no-such-tenant&#39;" in page.text
        found = client.get("/admin/people", params={"tenant": stage.tenant, "email": stage.person})
        assert found.text.count("<td><code>") == 2  # thinktank and launchboard
    finally:
        client.close()


def test_failed_sign_in_steps_show_their_form_again(stage) -> None:
    with httpx.Client(base_url=stage.url, follow_redirects=False) as browser:
        nonce = re.search(r'name="csrf" value="([^"]+)"', browser.get("/admin/login").text)[1]
        wrong = browser.post(
            "/admin/login", data={"email": ADMIN_EMAIL, "password": "not it", "csrf": nonce}
        )
        assert wrong.status_code == 401
        assert f'value="{ADMIN_EMAIL}"' in wrong.text
        assert "invalid email or password" in wrong.text
        bad_challenge = browser.post(
            "/admin/login/mfa", data={"mfa_token": "forged", "code": "000000", "csrf": nonce}
        )
        assert bad_challenge.status_code == 401
        assert "Second factor" in bad_challenge.text
        assert 'name="mfa_token" value="forged"' in bad_challenge.text
        assert "tenantry_admin=" not in bad_challenge.headers.get("set-cookie", "")


def test_unknown_domain_action_is_not_found(stage) -> None:
    client, token = signed_in_client(stage)
    try:
        refused = client.post(
            f"/admin/tenants/{stage.tenant}/domains/example.com/explode", data={"csrf": token}
        )
        assert refused.status_code == 404
    finally:
        client.close()
