"""Who may change an account's credentials, and how often a secret may be used.

Regressions from an outside review: an API token took over its owner's second factor, a TOTP
code was accepted twice, API tokens survived a password reset, and a suspended tenant told a
right password from a wrong one.
"""

from __future__ import annotations

import asyncio

import psycopg
import pyotp

from tenantry.identity import totp
from tests.support.accounts import (
    User,
    latest_mail,
    login,
    make_tenant,
    signed_in,
    totp_next,
    transition,
)
from tests.support.wiring import PASSWORD

NEW_PASSWORD = "granite-meadow-compass-71"


async def api_token(client, user: User, scopes: list[str]) -> dict[str, str]:
    created = await client.post(
        f"/v1/apps/{user.app}/api-tokens", headers=user.auth, json={"name": "t", "scopes": scopes}
    )
    assert created.status_code == 201, created.text
    return {"Authorization": f"Bearer {created.json()['token']}"}


async def enable_mfa(client, user: User) -> str:
    secret = (await client.post(f"/v1/apps/{user.app}/mfa/totp", headers=user.auth)).json()[
        "secret"
    ]
    confirm = await client.post(
        f"/v1/apps/{user.app}/mfa/totp/confirm",
        headers=user.auth,
        json={"code": pyotp.TOTP(secret).now()},
    )
    assert confirm.status_code == 200, confirm.text
    return secret


async def test_an_api_token_cannot_touch_credentials_or_sessions(client, tenant) -> None:
    user = await signed_in(client, "thinktank", tenant, "owner@example.com")
    token = await api_token(client, user, ["profile"])
    assert (await client.get("/v1/apps/thinktank/me", headers=token)).status_code == 200
    session_id = (await client.get("/v1/apps/thinktank/sessions", headers=user.auth)).json()[0][
        "id"
    ]
    attempts = [
        ("POST", "/mfa/totp", None),
        ("POST", "/mfa/totp/confirm", {"code": "123456"}),
        ("POST", "/password", {"current_password": PASSWORD, "new_password": NEW_PASSWORD}),
        ("GET", "/sessions", None),
        ("DELETE", f"/sessions/{session_id}", None),
        ("POST", "/auth/logout", None),
        ("GET", "/api-tokens", None),
        ("POST", "/api-tokens", {"name": "more", "scopes": ["profile"]}),
    ]
    for method, path, body in attempts:
        response = await client.request(
            method, f"/v1/apps/thinktank{path}", headers=token, json=body
        )
        assert response.status_code == 403, (path, response.text)
        assert response.json()["code"] == "insufficient_scope"
    # Nothing changed: no second factor, the password still works, the session still lives.
    assert (await client.get("/v1/apps/thinktank/me", headers=user.auth)).json()[
        "mfa_enabled"
    ] is False
    assert (await login(client, user)).status_code == 200
    # And a token can never be given those scopes.
    for scope in ("sessions", "api_tokens", "account"):
        refused = await client.post(
            "/v1/apps/thinktank/api-tokens",
            headers=user.auth,
            json={"name": "wide", "scopes": [scope]},
        )
        assert refused.status_code == 422, scope


async def test_credential_changes_need_a_recent_sign_in(client, tenant, urls) -> None:
    user = await signed_in(client, "thinktank", tenant, "stale@example.com")
    # The session's sign-in was two hours ago; refreshing keeps that sign-in time.
    with psycopg.connect(urls.admin, autocommit=True) as conn:
        conn.execute(
            """UPDATE tenantry.sessions SET created_at = now() - interval '2 hours'
                WHERE tenant_id = %s""",
            [tenant.id],
        )
    refreshed = await client.post(
        "/v1/apps/thinktank/auth/refresh", json={"refresh_token": user.refresh}
    )
    assert refreshed.status_code == 200
    stale = {"Authorization": f"Bearer {refreshed.json()['access_token']}"}
    assert (await client.get("/v1/apps/thinktank/me", headers=stale)).status_code == 200
    for method, path, body in (
        ("POST", "/mfa/totp", None),
        ("POST", "/password", {"current_password": PASSWORD, "new_password": NEW_PASSWORD}),
        ("POST", "/api-tokens", {"name": "late", "scopes": ["profile"]}),
    ):
        response = await client.request(
            method, f"/v1/apps/thinktank{path}", headers=stale, json=body
        )
        assert response.status_code == 401, path
        problem = response.json()
        assert problem["code"] == "reauthentication_required"
        assert problem["max_age"] == 900
        assert "insufficient_user_authentication" in response.headers["www-authenticate"]
    # Signing in again is the way through.
    assert (await login(client, user)).status_code == 200
    assert (await client.post("/v1/apps/thinktank/mfa/totp", headers=user.auth)).status_code == 200


async def test_a_totp_code_is_accepted_once(client, tenant) -> None:
    user = await signed_in(client, "thinktank", tenant, "replay@example.com")
    secret = await enable_mfa(client, user)
    # The code that confirmed enrolment cannot sign in within its window.
    used = pyotp.TOTP(secret).now()
    challenge = (await login(client, user)).json()["mfa_token"]
    replayed = await client.post(
        "/v1/apps/thinktank/auth/mfa", json={"mfa_token": challenge, "code": used}
    )
    assert replayed.status_code == 401
    code = totp_next(secret)
    first = await client.post(
        "/v1/apps/thinktank/auth/mfa", json={"mfa_token": challenge, "code": code}
    )
    assert first.status_code == 200, first.text
    second_challenge = (await login(client, user)).json()["mfa_token"]
    again = await client.post(
        "/v1/apps/thinktank/auth/mfa", json={"mfa_token": second_challenge, "code": code}
    )
    assert again.status_code == 401
    assert again.json()["code"] == "invalid_credentials"


async def test_one_totp_code_raced_by_two_logins_signs_in_once(client, tenant) -> None:
    user = await signed_in(client, "thinktank", tenant, "race@example.com")
    secret = await enable_mfa(client, user)
    challenges = [(await login(client, user)).json()["mfa_token"] for _ in range(4)]
    code = totp_next(secret)
    answers = await asyncio.gather(
        *(
            client.post("/v1/apps/thinktank/auth/mfa", json={"mfa_token": c, "code": code})
            for c in challenges
        )
    )
    assert sorted(a.status_code for a in answers) == [200, 401, 401, 401]


async def test_recovery_codes_stay_single_use(client, tenant) -> None:
    user = await signed_in(client, "thinktank", tenant, "recover@example.com")
    secret = (await client.post("/v1/apps/thinktank/mfa/totp", headers=user.auth)).json()["secret"]
    codes = (
        await client.post(
            "/v1/apps/thinktank/mfa/totp/confirm",
            headers=user.auth,
            json={"code": pyotp.TOTP(secret).now()},
        )
    ).json()["recovery_codes"]
    results = []
    for _ in range(2):
        challenge = (await login(client, user)).json()["mfa_token"]
        answer = await client.post(
            "/v1/apps/thinktank/auth/mfa", json={"mfa_token": challenge, "code": codes[0]}
        )
        results.append(answer.status_code)
    assert results == [200, 401]


def test_totp_matching_prefers_no_step_outside_the_window() -> None:
    secret = pyotp.random_base32()
    now = 1_800_000_000.0
    code_at = pyotp.TOTP(secret).at
    current = int(now // totp.STEP_SECONDS)
    assert totp.matching_step(secret, code_at(now), now) == current
    assert totp.matching_step(secret, code_at(now - 30), now) == current - 1
    assert totp.matching_step(secret, code_at(now + 30), now) == current + 1
    assert totp.matching_step(secret, code_at(now - 90), now) is None
    assert totp.matching_step(secret, "not a code", now) is None


async def test_password_reset_locks_everyone_out(client, db, tenant) -> None:
    user = await signed_in(client, "thinktank", tenant, "reset@example.com")
    token = await api_token(client, user, ["profile"])
    requested = await client.post(
        "/v1/apps/thinktank/auth/password-reset",
        json={"tenant": tenant.slug, "email": user.email},
    )
    assert requested.status_code == 202
    code = await latest_mail(db, user.email)
    confirmed = await client.post(
        "/v1/apps/thinktank/auth/password-reset/confirm",
        json={"token": code, "password": NEW_PASSWORD},
    )
    assert confirmed.status_code == 204
    assert (await client.get("/v1/apps/thinktank/me", headers=token)).status_code == 401
    assert (await client.get("/v1/apps/thinktank/me", headers=user.auth)).status_code == 401


async def test_password_change_ends_other_sessions_and_tokens(client, tenant) -> None:
    user = await signed_in(client, "thinktank", tenant, "change@example.com")
    elsewhere = User(user.app, tenant, user.email, user.password)
    assert (await login(client, elsewhere)).status_code == 200
    kept = await api_token(client, user, ["profile"])
    wrong = await client.post(
        "/v1/apps/thinktank/password",
        headers=user.auth,
        json={"current_password": "not-my-password-at-all", "new_password": NEW_PASSWORD},
    )
    assert wrong.status_code == 401
    weak = await client.post(
        "/v1/apps/thinktank/password",
        headers=user.auth,
        json={"current_password": PASSWORD, "new_password": "password1234"},
    )
    assert weak.status_code == 422
    changed = await client.post(
        "/v1/apps/thinktank/password",
        headers=user.auth,
        json={"current_password": PASSWORD, "new_password": NEW_PASSWORD, "keep_api_tokens": True},
    )
    assert changed.status_code == 204, changed.text
    assert (await client.get("/v1/apps/thinktank/me", headers=user.auth)).status_code == 200
    assert (await client.get("/v1/apps/thinktank/me", headers=elsewhere.auth)).status_code == 401
    assert (await client.get("/v1/apps/thinktank/me", headers=kept)).status_code == 200
    # Without keep_api_tokens, the tokens go too.
    changed_back = await client.post(
        "/v1/apps/thinktank/password",
        headers=user.auth,
        json={"current_password": NEW_PASSWORD, "new_password": PASSWORD},
    )
    assert changed_back.status_code == 204
    assert (await client.get("/v1/apps/thinktank/me", headers=kept)).status_code == 401
    assert (await login(client, user)).status_code == 200


async def test_reset_and_verification_mail_is_limited_per_address(client, db, tenant) -> None:
    user = await signed_in(client, "thinktank", tenant, "flooded@example.com")
    for _ in range(8):
        response = await client.post(
            "/v1/apps/thinktank/auth/password-reset",
            json={"tenant": tenant.slug, "email": user.email},
        )
        assert response.status_code == 202
    for _ in range(8):
        response = await client.post(
            "/v1/apps/thinktank/auth/signup",
            json={"tenant": tenant.slug, "email": user.email, "password": NEW_PASSWORD},
        )
        assert response.status_code == 202
    async with db.platform_transaction() as tx:
        rows = await tx.fetch_all(
            """SELECT subject, count(*) AS n FROM tenantry.mail_outbox
                WHERE tenant_id = %s AND to_address = %s GROUP BY subject""",
            [tenant.id, user.email],
        )
    assert {r["subject"]: r["n"] for r in rows} == {
        "Verify your email address": 1,
        "Reset your password": 3,
        "Someone tried to sign up with your email address": 3,
    }


async def test_a_suspended_tenant_is_no_password_oracle(app, client, db) -> None:
    tenant = await make_tenant(db, "thinktank")
    user = await signed_in(client, "thinktank", tenant, "frozen@example.com")
    await transition(db, tenant, "suspend")
    answers = []
    for password in (PASSWORD, "a-wrong-password-entirely"):
        response = await client.post(
            "/v1/apps/thinktank/auth/login",
            json={"tenant": tenant.slug, "email": user.email, "password": password},
        )
        body = response.json()
        answers.append((response.status_code, body["code"], body["detail"]))
    assert answers[0] == answers[1] == (403, "tenant_inactive", "tenant is suspended")
    # Refresh tokens do not rotate while suspended.
    refresh = await client.post(
        "/v1/apps/thinktank/auth/refresh", json={"refresh_token": user.refresh}
    )
    assert refresh.status_code == 403
    await transition(db, tenant, "resume")
    # The refused refresh did not use the token up.
    again = await client.post(
        "/v1/apps/thinktank/auth/refresh", json={"refresh_token": user.refresh}
    )
    assert again.status_code == 200


async def test_answers_that_carry_secrets_are_never_cached(client, tenant) -> None:
    user = await signed_in(client, "thinktank", tenant, "nostore@example.com")
    token = await client.post(
        "/v1/apps/thinktank/api-tokens", headers=user.auth, json={"name": "n", "scopes": []}
    )
    enrol = await client.post("/v1/apps/thinktank/mfa/totp", headers=user.auth)
    confirm = await client.post(
        "/v1/apps/thinktank/mfa/totp/confirm",
        headers=user.auth,
        json={"code": pyotp.TOTP(enrol.json()["secret"]).now()},
    )
    me = await client.get("/v1/apps/thinktank/me", headers=user.auth)
    for response, status in ((token, 201), (enrol, 200), (confirm, 200), (me, 200)):
        assert response.status_code == status, response.text
        assert response.headers["cache-control"] == "no-store"
    jwks = await client.get("/v1/apps/thinktank/.well-known/jwks.json")
    assert jwks.headers["cache-control"].startswith("public")
