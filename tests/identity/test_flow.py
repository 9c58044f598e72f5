"""A user's whole journey: sign-up, verify email, MFA login, /me, refresh, logout."""

from __future__ import annotations

import pyotp

from tests.support.accounts import latest_mail, login, signup, totp_next


async def test_signup_verify_mfa_login_me_refresh_logout(client, db, tenant) -> None:
    user = await signup(client, "thinktank", tenant, "journey@example.com")

    # Verify the email with the code from the outbox.
    code = await latest_mail(db, "journey@example.com")
    assert (
        await client.post("/v1/apps/thinktank/auth/verify-email", json={"token": code})
    ).status_code == 204
    again = await client.post("/v1/apps/thinktank/auth/verify-email", json={"token": code})
    assert again.status_code == 422  # single use
    assert again.headers["content-type"] == "application/problem+json"

    # Enrol TOTP.
    assert (await login(client, user)).status_code == 200
    enrol = await client.post("/v1/apps/thinktank/mfa/totp", headers=user.auth)
    assert enrol.status_code == 200
    secret = enrol.json()["secret"]
    assert enrol.json()["otpauth_uri"].startswith("otpauth://totp/")
    wrong = await client.post(
        "/v1/apps/thinktank/mfa/totp/confirm", headers=user.auth, json={"code": "000000"}
    )
    assert wrong.status_code == 422
    confirm = await client.post(
        "/v1/apps/thinktank/mfa/totp/confirm",
        headers=user.auth,
        json={"code": pyotp.TOTP(secret).now()},
    )
    assert confirm.status_code == 200
    recovery = confirm.json()["recovery_codes"]
    assert len(recovery) == 10
    await client.post("/v1/apps/thinktank/auth/logout", headers=user.auth)

    # Login now needs the second factor.
    first = await login(client, user)
    assert first.status_code == 401
    assert first.json()["code"] == "mfa_required"
    challenge = first.json()["mfa_token"]
    # The challenge is not an access token.
    assert (
        await client.get("/v1/apps/thinktank/me", headers={"Authorization": f"Bearer {challenge}"})
    ).status_code == 401
    bad = await client.post(
        "/v1/apps/thinktank/auth/mfa", json={"mfa_token": challenge, "code": "123456"}
    )
    assert bad.status_code == 401
    done = await client.post(
        "/v1/apps/thinktank/auth/mfa",
        json={"mfa_token": challenge, "code": totp_next(secret)},
    )
    assert done.status_code == 200, done.text
    tokens = done.json()
    assert done.headers["cache-control"] == "no-store"

    me = await client.get(
        "/v1/apps/thinktank/me", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    assert me.status_code == 200
    assert me.json()["email"] == "journey@example.com"
    assert me.json()["email_verified"] is True
    assert me.json()["mfa_enabled"] is True
    assert me.json()["id"] == user.id

    # Refresh rotates; the new access token works.
    refreshed = await client.post(
        "/v1/apps/thinktank/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
    )
    assert refreshed.status_code == 200
    new = refreshed.json()
    assert new["refresh_token"] != tokens["refresh_token"]
    auth = {"Authorization": f"Bearer {new['access_token']}"}
    assert (await client.get("/v1/apps/thinktank/me", headers=auth)).status_code == 200

    # A recovery code works once as the second factor.
    second = await login(client, user)
    challenge = second.json()["mfa_token"]
    ok = await client.post(
        "/v1/apps/thinktank/auth/mfa", json={"mfa_token": challenge, "code": recovery[0]}
    )
    assert ok.status_code == 200
    third = await login(client, user)
    reuse = await client.post(
        "/v1/apps/thinktank/auth/mfa",
        json={"mfa_token": third.json()["mfa_token"], "code": recovery[0]},
    )
    assert reuse.status_code == 401

    # Logout ends the session: its access and refresh tokens stop working at once.
    assert (await client.post("/v1/apps/thinktank/auth/logout", headers=auth)).status_code == 204
    assert (await client.get("/v1/apps/thinktank/me", headers=auth)).status_code == 401
    dead = await client.post(
        "/v1/apps/thinktank/auth/refresh", json={"refresh_token": new["refresh_token"]}
    )
    assert dead.status_code == 401


async def test_password_reset_revokes_sessions_and_reveals_nothing(client, db, tenant) -> None:
    user = await signup(client, "thinktank", tenant, "forgetful@example.com")
    assert (await login(client, user)).status_code == 200
    old_auth = user.auth
    unknown = await client.post(
        "/v1/apps/thinktank/auth/password-reset",
        json={"tenant": tenant.slug, "email": "nobody@example.com"},
    )
    known = await client.post(
        "/v1/apps/thinktank/auth/password-reset", json={"tenant": tenant.slug, "email": user.email}
    )
    assert unknown.status_code == known.status_code == 202
    assert unknown.json() == known.json()
    code = await latest_mail(db, user.email)
    weak = await client.post(
        "/v1/apps/thinktank/auth/password-reset/confirm", json={"token": code, "password": "short"}
    )
    assert weak.status_code == 422
    # A failed confirmation does not burn the code.
    new_password = "quartz-meadow-sailing-71"
    done = await client.post(
        "/v1/apps/thinktank/auth/password-reset/confirm",
        json={"token": code, "password": new_password},
    )
    assert done.status_code == 204, done.text
    assert (await client.get("/v1/apps/thinktank/me", headers=old_auth)).status_code == 401
    assert (await login(client, user)).status_code == 401
    user.password = new_password
    assert (await login(client, user)).status_code == 200
    replay = await client.post(
        "/v1/apps/thinktank/auth/password-reset/confirm",
        json={"token": code, "password": "another-long-phrase-88"},
    )
    assert replay.status_code == 422
