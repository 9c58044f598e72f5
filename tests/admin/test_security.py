"""Admin UI security: CSRF on every state-changing form, no access without a platform admin
session, hardened cookies and headers."""

from __future__ import annotations

import re

import httpx
import pyotp
import pytest

from tests.admin.stage import ADMIN_EMAIL, PLATFORM, add_platform_admin, signed_in_client
from tests.support.accounts import totp_next
from tests.support.wiring import PASSWORD


def test_state_changing_forms_need_the_csrf_token(stage) -> None:
    client, token = signed_in_client(stage)
    try:
        target = f"/admin/tenants/{stage.tenant}/lifecycle"
        for data in (
            {"action": "suspend", "reason": "x"},
            {"action": "suspend", "reason": "x", "csrf": "forged"},
        ):
            refused = client.post(target, data=data)
            assert refused.status_code == 403, refused.text
        page = client.get(f"/admin/tenants/{stage.tenant}")
        assert 'id="tenant-status">active<' in page.text  # nothing changed
        ok = client.post(target, data={"action": "suspend", "reason": "csrf test", "csrf": token})
        assert ok.status_code == 303
        client.post(target, data={"action": "resume", "reason": "csrf test", "csrf": token})
        assert client.post("/admin/logout", data={}).status_code == 403
    finally:
        client.close()


def test_login_form_needs_its_double_submit_token(stage) -> None:
    with httpx.Client(base_url=stage.url) as client:
        refused = client.post(
            "/admin/login", data={"email": ADMIN_EMAIL, "password": PASSWORD, "csrf": "x"}
        )
        assert refused.status_code == 403


@pytest.mark.parametrize(
    "path",
    ["/admin", "/admin/tenants", "/admin/policies", "/admin/security-events", "/admin/people"],
)
def test_no_session_means_login_for_browsers_and_404_for_apis(stage, path) -> None:
    with httpx.Client(base_url=stage.url, follow_redirects=False) as client:
        browser = client.get(path, headers={"Accept": "text/html"})
        assert browser.status_code == 303
        assert browser.headers["location"] == "/admin/login"
        api = client.get(path, headers={"Accept": "application/json"})
        assert api.status_code == 404
    forged_cookie = {"tenantry_admin": "00000000-0000-0000-0000-000000000000.abc"}
    with httpx.Client(base_url=stage.url, follow_redirects=False, cookies=forged_cookie) as client:
        assert client.get(path, headers={"Accept": "text/html"}).status_code == 303


def test_app_users_and_tenant_admins_cannot_sign_in(stage) -> None:
    with httpx.Client(base_url=stage.url, follow_redirects=False) as client:
        page = client.get("/admin/login")
        nonce = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
        # A real user of this install, but not in the operator tenant.
        refused = client.post(
            "/admin/login", data={"email": stage.person, "password": PASSWORD, "csrf": nonce}
        )
        assert refused.status_code == 401
        assert "tenantry_admin=" not in refused.headers.get("set-cookie", "")


def test_security_headers(stage) -> None:
    client, _ = signed_in_client(stage)
    response = client.get("/admin")
    client.close()
    csp = response.headers["content-security-policy"]
    assert "default-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["x-frame-options"] == "DENY"
    assert "<script" not in response.text
    assert " style=" not in response.text


def test_admin_sign_in_with_mfa(stage, urls) -> None:
    email = "mfa-admin@example.com"
    add_platform_admin(urls, email)
    with httpx.Client(base_url=stage.url, follow_redirects=False) as api:
        token = api.post(
            "/v1/apps/admin/auth/login",
            json={"tenant": PLATFORM, "email": email, "password": PASSWORD},
        ).json()["access_token"]
        auth = {"Authorization": f"Bearer {token}"}
        secret = api.post("/v1/apps/admin/mfa/totp", headers=auth).json()["secret"]
        assert (
            api.post(
                "/v1/apps/admin/mfa/totp/confirm",
                headers=auth,
                json={"code": pyotp.TOTP(secret).now()},
            ).status_code
            == 200
        )
    with httpx.Client(base_url=stage.url, follow_redirects=False) as browser:
        nonce = re.search(r'name="csrf" value="([^"]+)"', browser.get("/admin/login").text).group(1)
        step = browser.post(
            "/admin/login", data={"email": email, "password": PASSWORD, "csrf": nonce}
        )
        assert step.status_code == 200
        assert "Second factor" in step.text
        assert "tenantry_admin=" not in step.headers.get("set-cookie", "")  # not signed in yet
        challenge = re.search(r'name="mfa_token" value="([^"]+)"', step.text).group(1)
        wrong = browser.post(
            "/admin/login/mfa", data={"mfa_token": challenge, "code": "000000", "csrf": nonce}
        )
        assert wrong.status_code == 401
        done = browser.post(
            "/admin/login/mfa",
            data={"mfa_token": challenge, "code": totp_next(secret), "csrf": nonce},
        )
        assert done.status_code == 303
        assert browser.get("/admin").status_code == 200


def test_hostile_input_never_causes_a_500(stage) -> None:
    with httpx.Client(base_url=stage.url, follow_redirects=False) as client:
        raw_cookie = "tenantry_admin=\u00e9.\u00e9".encode("latin-1")
        assert (
            client.get("/admin", headers={"Accept": "text/html", "Cookie": raw_cookie}).status_code
            == 303
        )
    with httpx.Client(base_url=stage.url, follow_redirects=False) as client:
        client.get("/admin/login")
        refused = client.post(
            "/admin/login", data={"email": "a@b.co", "password": "x", "csrf": "é"}
        )
        assert refused.status_code == 403
    client, token = signed_in_client(stage)
    try:
        nested = client.post(
            f"/admin/tenants/{stage.tenant}/settings/display_name",
            data={"value": "[" * 5000, "csrf": token},
        )
        assert nested.status_code == 422  # too deep for JSON, so text, and too long a name
        hostile = '"><b id="injected">x</b>'
        saved = client.post(
            f"/admin/tenants/{stage.tenant}/settings/display_name",
            data={"value": hostile, "csrf": token},
        )
        assert saved.status_code == 303
        page = client.get(f"/admin/tenants/{stage.tenant}").text
        assert 'id="injected"' not in page
        assert "&#34;&gt;&lt;b" in page
    finally:
        client.close()
