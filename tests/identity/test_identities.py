"""Per-app identities, API tokens, brute-force defence and password policy, over HTTP."""

from __future__ import annotations

import statistics
import time

import pyotp

from tests.support.accounts import login, make_tenant, signed_in, signup, transition
from tests.support.http import client_for

EMAIL = "same.person@example.com"


async def test_same_email_in_two_apps_and_two_tenants_is_four_identities(client, db, app) -> None:
    tenant_a = await make_tenant(db, "thinktank", "launchboard")
    tenant_b = await make_tenant(db, "thinktank", "launchboard")
    passwords = {}
    users = {}
    for n, (tenant, app_slug) in enumerate(
        [
            (tenant_a, "thinktank"),
            (tenant_a, "launchboard"),
            (tenant_b, "thinktank"),
            (tenant_b, "launchboard"),
        ]
    ):
        passwords[(tenant.slug, app_slug)] = f"distinct-passphrase-{n}-orchid-river"
        users[(tenant.slug, app_slug)] = await signed_in(
            client, app_slug, tenant, EMAIL, passwords[(tenant.slug, app_slug)]
        )

    ids = {
        (await client.get(f"/v1/apps/{u.app}/me", headers=u.auth)).json()["id"]
        for u in users.values()
    }
    assert len(ids) == 4

    # Each password opens exactly its own identity.
    for key, user in users.items():
        for other_key, password in passwords.items():
            attempt = await client.post(
                f"/v1/apps/{user.app}/auth/login",
                json={"tenant": user.tenant.slug, "email": EMAIL, "password": password},
            )
            assert attempt.status_code == (200 if other_key == key else 401), (key, other_key)

    # MFA on one identity leaves the other three alone.
    target = users[(tenant_a.slug, "thinktank")]
    secret = (await client.post("/v1/apps/thinktank/mfa/totp", headers=target.auth)).json()[
        "secret"
    ]
    confirmed = await client.post(
        "/v1/apps/thinktank/mfa/totp/confirm",
        headers=target.auth,
        json={"code": pyotp.TOTP(secret).now()},
    )
    assert confirmed.status_code == 200
    assert (await login(client, target)).json()["code"] == "mfa_required"
    for key, user in users.items():
        if user is not target:
            assert (await login(client, user)).status_code == 200, key

    # Sessions are per identity: logging out of one ends nothing elsewhere.
    other = users[(tenant_a.slug, "launchboard")]
    sessions = (await client.get("/v1/apps/launchboard/sessions", headers=other.auth)).json()
    # Its own three sign-ins (signed_in, its own password above, after the MFA change).
    assert len(sessions) == 3
    assert all(s["id"] for s in sessions)
    assert (
        await client.post("/v1/apps/launchboard/auth/logout", headers=other.auth)
    ).status_code == 204
    for key, user in users.items():
        expected = 401 if user is other else 200
        assert (
            await client.get(f"/v1/apps/{user.app}/me", headers=user.auth)
        ).status_code == expected, key


async def test_signup_answers_alike_for_existing_accounts_and_rejects_weak_passwords(
    client, db, tenant
) -> None:
    await signup(client, "thinktank", tenant, "dup@example.com")
    again = await client.post(
        "/v1/apps/thinktank/auth/signup",
        json={
            "tenant": tenant.slug,
            "email": "DUP@example.com",
            "password": "another-fine-phrase-12",
        },
    )
    # The same answer as a new account; the existing owner is told by mail instead.
    assert again.status_code == 202
    assert again.json() == {"status": "accepted"}
    async with db.platform_transaction() as tx:
        accounts = await tx.fetch_all(
            "SELECT email FROM tenantry.app_users WHERE tenant_id = %s AND lower(email) = %s",
            [tenant.id, "dup@example.com"],
        )
        subjects = await tx.fetch_all(
            "SELECT subject FROM tenantry.mail_outbox WHERE tenant_id = %s ORDER BY id",
            [tenant.id],
        )
    assert [a["email"] for a in accounts] == ["dup@example.com"]
    assert [m["subject"] for m in subjects] == [
        "Verify your email address",
        "Someone tried to sign up with your email address",
    ]
    for password in (
        "short",
        "password1234",
        "qwertyuiop123",
        "dupdup@example.com",
        f"{tenant.slug}{tenant.slug}1",
    ):
        weak = await client.post(
            "/v1/apps/thinktank/auth/signup",
            json={"tenant": tenant.slug, "email": "dupdup@example.com", "password": password},
        )
        assert weak.status_code == 422, password
        assert weak.json()["code"] == "invalid_input"


async def test_signup_for_unknown_tenant_or_disabled_app_is_404(client, tenant) -> None:
    for app_slug, slug in (
        ("thinktank", "no-such-tenant"),
        ("alwaysme", tenant.slug),
        ("nope", tenant.slug),
    ):
        response = await client.post(
            f"/v1/apps/{app_slug}/auth/signup",
            json={"tenant": slug, "email": "x@example.com", "password": "fine-long-phrase-77-q"},
        )
        assert response.status_code == 404, (app_slug, slug)


async def test_login_does_not_reveal_whether_the_account_exists(client, tenant) -> None:
    user = await signup(client, "thinktank", tenant, "exists@example.com")

    async def attempt(email: str) -> tuple[int, dict, float]:
        started = time.perf_counter()
        response = await client.post(
            "/v1/apps/thinktank/auth/login",
            json={"tenant": tenant.slug, "email": email, "password": "wrong-password-entirely"},
        )
        body = response.json()
        return (
            response.status_code,
            {k: body[k] for k in ("code", "detail")},
            time.perf_counter() - started,
        )

    known = [await attempt(user.email) for _ in range(4)]
    unknown = [await attempt(f"ghost{i}@example.com") for i in range(4)]
    assert {(s, b["code"], b["detail"]) for s, b, _ in known + unknown} == {
        (401, "invalid_credentials", "invalid email or password")
    }
    # Both paths pay for one argon2 verification; without the dummy hash the unknown path would
    # be ~100x faster. Bounds are wide: this is a shared 2-core machine.
    ratio = statistics.median(t for *_, t in unknown) / statistics.median(t for *_, t in known)
    assert 0.2 < ratio < 5, ratio


async def test_brute_force_gets_delays_then_lockout(app, tenant, db) -> None:
    async with client_for(app) as client:
        user = await signup(client, "thinktank", tenant, "target@example.com")
        statuses = []
        for _ in range(8):
            response = await client.post(
                "/v1/apps/thinktank/auth/login",
                json={"tenant": tenant.slug, "email": user.email, "password": "guess-guess-guess"},
            )
            statuses.append(response.status_code)
            if response.status_code == 429:
                assert int(response.headers["retry-after"]) >= 1
                assert response.json()["code"] == "rate_limited"
        assert statuses[:3] == [401, 401, 401]  # free failures
        assert 429 in statuses
        # Even the right password is refused while locked.
        locked = await login(client, user)
        assert locked.status_code == 429
    # Another client address and another account are not affected by this account's lock.
    async with client_for(app) as other:
        fresh = await signup(other, "thinktank", tenant, "bystander@example.com")
        assert (await login(other, fresh)).status_code == 200


async def test_api_tokens(client, db, tenant) -> None:
    user = await signed_in(client, "thinktank", tenant, "automation@example.com")
    created = await client.post(
        "/v1/apps/thinktank/api-tokens",
        headers=user.auth,
        json={"name": "ci", "scopes": ["profile"]},
    )
    assert created.status_code == 201, created.text
    token = created.json()["token"]
    assert token.startswith("tenantry_pat_")
    bearer = {"Authorization": f"Bearer {token}"}
    me = await client.get("/v1/apps/thinktank/me", headers=bearer)
    assert me.status_code == 200
    assert me.json()["id"] == user.id
    # Scoped: no sessions scope, and never the power to mint more tokens.
    assert (await client.get("/v1/apps/thinktank/sessions", headers=bearer)).status_code == 403
    assert (
        await client.post("/v1/apps/thinktank/api-tokens", headers=bearer, json={"name": "x"})
    ).status_code == 403
    escalate = await client.post(
        "/v1/apps/thinktank/api-tokens",
        headers=user.auth,
        json={"name": "x", "scopes": ["api_tokens"]},
    )
    assert escalate.status_code == 422
    # A typo fails the checksum; another app's route does not accept it.
    broken = token[:-1] + ("a" if token[-1] != "a" else "b")
    assert (
        await client.get("/v1/apps/thinktank/me", headers={"Authorization": f"Bearer {broken}"})
    ).status_code == 401
    assert (await client.get("/v1/apps/launchboard/me", headers=bearer)).status_code == 401
    # Stored as a hash only; listed by prefix.
    listed = (await client.get("/v1/apps/thinktank/api-tokens", headers=user.auth)).json()
    assert listed[0]["display_prefix"] == token[: len("tenantry_pat_") + 6]
    assert "token" not in listed[0]
    async with db.platform_transaction() as tx:
        row = await tx.fetch_one(
            "SELECT token_hash, last_used_at FROM tenantry.api_tokens WHERE id = %s",
            [listed[0]["id"]],
        )
    assert row["token_hash"] != token.encode()
    assert len(row["token_hash"]) == 32
    assert row["last_used_at"] is not None
    # Revoked: refused at once.
    assert (
        await client.delete(f"/v1/apps/thinktank/api-tokens/{listed[0]['id']}", headers=user.auth)
    ).status_code == 204
    assert (await client.get("/v1/apps/thinktank/me", headers=bearer)).status_code == 401
    assert (
        await client.delete(f"/v1/apps/thinktank/api-tokens/{listed[0]['id']}", headers=user.auth)
    ).status_code == 404


async def test_suspended_tenant_is_refused(client, app, db) -> None:
    tenant = await make_tenant(db, "thinktank")
    user = await signed_in(client, "thinktank", tenant, "soon-suspended@example.com")
    await transition(db, tenant, "suspend")
    response = await client.get("/v1/apps/thinktank/me", headers=user.auth)
    assert response.status_code == 403
    assert response.json()["code"] == "tenant_inactive"
    # The right password meets the tenant's status, not a sign-in.
    refused = await login(client, user)
    assert refused.status_code == 403
    assert refused.json()["code"] == "tenant_inactive"
