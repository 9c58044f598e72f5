"""One person in several tenants of an app: listing them and switching with an RFC 8693 token
exchange, only between identities of the same person, one tenant per token."""

from __future__ import annotations

import jwt
import pyotp

from tests.support.accounts import (
    User,
    latest_mail,
    login,
    make_tenant,
    signed_in,
    tenant_admin,
    totp_next,
)
from tests.support.invitations import invited_user
from tests.support.wiring import FIXTURES, services_for

GRANT = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS = "urn:ietf:params:oauth:token-type:access_token"


async def exchange(client, user: User, tenant: str, app: str = "thinktank"):
    return await client.post(
        f"/v1/apps/{app}/auth/token-exchange",
        data={
            "grant_type": GRANT,
            "subject_token": user.access,
            "subject_token_type": ACCESS,
            "tenant": tenant,
        },
    )


async def _person_in_two_tenants(client, db, email: str):
    home = await make_tenant(db, "thinktank", "launchboard")
    away = await make_tenant(db, "thinktank")
    home_admin = await tenant_admin(client, db, home, f"boss@{home.slug}.test")
    away_admin = await tenant_admin(client, db, away, f"boss@{away.slug}.test")
    here = await invited_user(client, db, home_admin, "thinktank", email)
    there = await invited_user(client, db, away_admin, "thinktank", email)
    return here, there, away_admin


def claims(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


async def test_switch_tenants_without_credentials(client, db) -> None:
    here, there, _ = await _person_in_two_tenants(client, db, "consultant@example.com")
    listed = await client.get("/v1/apps/thinktank/me/tenants", headers=here.auth)
    assert listed.status_code == 200, listed.text
    assert {(t["tenant_slug"], t["current"]) for t in listed.json()} == {
        (here.tenant.slug, True),
        (there.tenant.slug, False),
    }
    switched = await exchange(client, here, there.tenant.slug)
    assert switched.status_code == 200, switched.text
    body = switched.json()
    assert body["issued_token_type"] == ACCESS
    assert body["tenant_id"] == str(there.tenant.id)
    token = claims(body["access_token"])
    assert (token["tenant_id"], token["sub"]) == (str(there.tenant.id), there.id)
    assert "exchange" in token["amr"]
    # The exchange never looks like a fresh sign-in: it keeps the subject's.
    assert token["auth_time"] == claims(here.access)["auth_time"]
    me = await client.get(
        "/v1/apps/thinktank/me", headers={"Authorization": f"Bearer {body['access_token']}"}
    )
    assert (me.json()["id"], me.json()["tenant_id"]) == (there.id, str(there.tenant.id))
    refreshed = await client.post(
        "/v1/apps/thinktank/auth/refresh", json={"refresh_token": body["refresh_token"]}
    )
    assert claims(refreshed.json()["access_token"])["tenant_id"] == str(there.tenant.id)
    # Recorded in both tenants.
    async with db.platform_transaction() as tx:
        rows = await tx.fetch_all(
            "SELECT tenant_id FROM tenantry.security_events WHERE kind = 'token_exchange' "
            "AND tenant_id = ANY(%s)",
            [[here.tenant.id, there.tenant.id]],
        )
    assert {r["tenant_id"] for r in rows} == {here.tenant.id, there.tenant.id}


async def test_only_to_the_same_persons_identities(client, db) -> None:
    here, there, away_admin = await _person_in_two_tenants(client, db, "one@example.com")
    # No identity in that tenant, an unknown tenant, the current tenant.
    nowhere = await make_tenant(db, "thinktank")
    assert (await exchange(client, here, nowhere.slug)).status_code == 404
    assert (await exchange(client, here, "no-such-tenant")).status_code == 404
    assert (await exchange(client, here, here.tenant.slug)).status_code == 422
    # Someone else's identity with an unproven address (signed up, never verified).
    stranger_home = await make_tenant(db, "thinktank")
    unproven = await signed_in(client, "thinktank", stranger_home, "one@example.com")
    assert (await exchange(client, unproven, there.tenant.slug)).status_code == 404
    assert (await client.get("/v1/apps/thinktank/me/tenants", headers=unproven.auth)).json() == []
    # Never across apps: a launchboard session at thinktank's exchange.
    neighbour = await signed_in(client, "launchboard", here.tenant, "one@example.com")
    crossed = await exchange(client, neighbour, there.tenant.slug)
    assert (crossed.status_code, crossed.json()["code"]) == (403, "app_mismatch")
    # An API token is no subject token.
    api = await client.post(
        "/v1/apps/thinktank/api-tokens", headers=here.auth, json={"name": "t", "scopes": []}
    )
    as_token = User("thinktank", here.tenant, here.email, here.password, access=api.json()["token"])
    assert (await exchange(client, as_token, there.tenant.slug)).status_code == 401
    # A deactivated target.
    deactivated = await client.post(
        f"/v1/apps/admin/apps/thinktank/users/{there.id}/deactivate",
        headers=away_admin.auth,
        json={"reason": "contract ended"},
    )
    assert deactivated.status_code == 200
    assert (await exchange(client, here, there.tenant.slug)).status_code == 404
    # A revoked subject session.
    await client.post("/v1/apps/thinktank/auth/logout", headers=here.auth)
    assert (await exchange(client, here, there.tenant.slug)).status_code == 401


async def test_the_targets_second_factor_is_required(client, db) -> None:
    here, there, _ = await _person_in_two_tenants(client, db, "careful@example.com")
    secret = (await client.post("/v1/apps/thinktank/mfa/totp", headers=there.auth)).json()["secret"]
    confirmed = await client.post(
        "/v1/apps/thinktank/mfa/totp/confirm",
        headers=there.auth,
        json={"code": pyotp.TOTP(secret).now()},
    )
    assert confirmed.status_code == 200
    challenged = await exchange(client, here, there.tenant.slug)
    assert (challenged.status_code, challenged.json()["code"]) == (401, "mfa_required")
    done = await client.post(
        "/v1/apps/thinktank/auth/mfa",
        json={"mfa_token": challenged.json()["mfa_token"], "code": totp_next(secret)},
    )
    assert done.status_code == 200, done.text
    token = claims(done.json()["access_token"])
    assert (token["tenant_id"], token["sub"]) == (str(there.tenant.id), there.id)
    assert token["amr"] == ["exchange", "otp", "mfa"]


async def test_a_tenant_requiring_mfa_refuses_an_identity_without(client, db) -> None:
    here, there, _ = await _person_in_two_tenants(client, db, "lax@example.com")
    await services_for(db).settings_admin.set(
        there.tenant.slug, "mfa_required", True, by=FIXTURES, reason="tests"
    )
    refused = await exchange(client, here, there.tenant.slug)
    assert (refused.status_code, refused.json()["code"]) == (403, "mfa_enrollment_required")


async def test_password_reset_proves_the_address(client, db) -> None:
    """A signed-up identity whose owner reset the password by mail counts as proven."""
    _, there, _ = await _person_in_two_tenants(client, db, "resetter@example.com")
    home = await make_tenant(db, "thinktank")
    user = await signed_in(client, "thinktank", home, "resetter@example.com")
    await client.post(
        "/v1/apps/thinktank/auth/password-reset",
        json={"tenant": home.slug, "email": user.email},
    )
    code = await latest_mail(db, user.email)
    reset = await client.post(
        "/v1/apps/thinktank/auth/password-reset/confirm",
        json={"token": code, "password": user.password + "-new"},
    )
    assert reset.status_code == 204
    user.password += "-new"
    assert (await login(client, user)).status_code == 200
    assert (await exchange(client, user, there.tenant.slug)).status_code == 200
