"""Impersonation and delegation: who may act for whom, for how long, and what the database
and the trails see. Each test also tries what an attacker would."""

from __future__ import annotations

import jwt
import psycopg
import pytest
from psycopg.rows import dict_row

from tenantry.kit.context import TenantContext
from tenantry.kit.ids import uuid7
from tests.support.accounts import make_tenant, signed_in, tenant_admin
from tests.support.wiring import FIXTURES, services_for


async def allow_impersonation(db, tenant, allowed: bool = True) -> None:
    await services_for(db).settings_admin.set(
        tenant.slug, "impersonation_enabled", allowed, by=FIXTURES, reason="tests"
    )


async def impersonate(client, admin, email: str, **extra):
    return await client.post(
        "/v1/apps/admin/impersonations",
        headers=admin.auth,
        json={"app": "thinktank", "email": email, "reason": "ticket 4711", **extra},
    )


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_impersonation_is_off_until_the_tenant_turns_it_on(client, db, tenant, admin) -> None:
    await signed_in(client, "thinktank", tenant, "target@example.com")
    refused = await impersonate(client, admin, "target@example.com")
    assert refused.status_code == 403
    assert refused.json()["code"] == "forbidden"


async def test_an_administrator_acts_as_a_user_read_only_and_everyone_can_tell(
    client, db, tenant, admin
) -> None:
    target = await signed_in(client, "thinktank", tenant, "target@example.com")
    await allow_impersonation(db, tenant)
    started = await impersonate(client, admin, target.email)
    assert started.status_code == 201, started.text
    token = started.json()["token"]["access_token"]
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["sub"] == target.id
    assert claims["act"] == {
        "sub": admin.id,
        "tenant_id": str(tenant.id),
        "mode": "impersonation",
        "ro": True,
    }
    me = await client.get("/v1/apps/thinktank/me", headers=bearer(token))
    assert me.status_code == 200
    assert me.json()["email"] == target.email
    # Only the profile: no sessions, tokens or credentials of the person.
    for method, path in (
        ("GET", "/v1/apps/thinktank/sessions"),
        ("GET", "/v1/apps/thinktank/api-tokens"),
        ("POST", "/v1/apps/thinktank/password"),
        ("POST", "/v1/apps/thinktank/mfa/totp"),
    ):
        answer = await client.request(method, path, headers=bearer(token), json={})
        assert answer.status_code == 403, (path, answer.text)
    # The person is told, and the tenant's security trail names the administrator.
    async with db.platform_transaction() as tx:
        mail = await tx.fetch_one(
            "SELECT subject, body FROM tenantry.mail_outbox WHERE to_address = %s"
            " ORDER BY id DESC LIMIT 1",
            [target.email],
        )
        event = await tx.fetch_one(
            "SELECT detail FROM tenantry.security_events"
            " WHERE tenant_id = %s AND kind = 'impersonation_started'",
            [tenant.id],
        )
    assert mail is not None
    assert mail["subject"] == "An administrator is acting as you"
    assert "ticket 4711" in mail["body"]
    assert event is not None
    assert (
        event["detail"]["actor"] == f"platform-admin:{admin.id}"
        or event["detail"]["actor"] == f"admin-user:{admin.id}"
    )
    # Ending it stops the token at the next request.
    grant = started.json()["impersonation"]["id"]
    ended = await client.post(
        f"/v1/apps/admin/impersonations/{grant}/end", headers=admin.auth, json={}
    )
    assert ended.status_code == 204
    assert (await client.get("/v1/apps/thinktank/me", headers=bearer(token))).status_code == 401


async def test_the_impersonated_token_can_end_itself(client, db, tenant, admin) -> None:
    target = await signed_in(client, "thinktank", tenant, "self-end@example.com")
    await allow_impersonation(db, tenant)
    token = (await impersonate(client, admin, target.email)).json()["token"]["access_token"]
    ended = await client.post("/v1/apps/thinktank/impersonation/end", headers=bearer(token))
    assert ended.status_code == 204
    assert (await client.get("/v1/apps/thinktank/me", headers=bearer(token))).status_code == 401


async def test_an_expired_impersonation_stops_working(client, db, tenant, admin, urls) -> None:
    target = await signed_in(client, "thinktank", tenant, "expiring@example.com")
    await allow_impersonation(db, tenant)
    started = (await impersonate(client, admin, target.email)).json()
    with psycopg.connect(urls.admin) as conn:
        conn.execute(
            "UPDATE tenantry.impersonation_sessions SET expires_at = started_at + interval '1 ms'"
            " WHERE id = %s",
            [started["impersonation"]["id"]],
        )
    token = started["token"]["access_token"]
    assert (await client.get("/v1/apps/thinktank/me", headers=bearer(token))).status_code == 401


async def test_nobody_impersonates_across_tenants_administrators_or_themselves(
    client, db, tenant, admin
) -> None:
    other = await make_tenant(db, "thinktank", "admin")
    await allow_impersonation(db, other)
    await allow_impersonation(db, tenant)
    stranger = await signed_in(client, "thinktank", other, "stranger@example.com")
    # Another tenant's user: by naming the tenant, or by email alone.
    named = await impersonate(client, admin, stranger.email, tenant=other.slug)
    assert named.status_code == 404
    assert (await impersonate(client, admin, stranger.email)).status_code == 404
    # An administrator, including oneself.
    for email in (admin.email,):
        answer = await client.post(
            "/v1/apps/admin/impersonations",
            headers=admin.auth,
            json={"app": "admin", "email": email, "reason": "escalate"},
        )
        assert answer.status_code == 422
    # An app user's token is no administrator's: it is refused as another app's token.
    refused = await impersonate(client, stranger, stranger.email)
    assert refused.status_code == 403
    assert refused.json()["code"] == "app_mismatch"


async def test_an_impersonation_cannot_start_another_or_delegate(client, db, tenant, admin) -> None:
    target = await signed_in(client, "thinktank", tenant, "chain@example.com")
    await allow_impersonation(db, tenant)
    token = (await impersonate(client, admin, target.email)).json()["token"]["access_token"]
    delegated = await client.post(
        "/v1/apps/thinktank/delegations",
        headers=bearer(token),
        json={"email": admin.email, "reason": "x", "minutes": 5},
    )
    assert delegated.status_code == 403


async def test_a_read_only_context_refuses_every_write(db, tenant) -> None:
    services = services_for(db)
    await services.apps.reload()
    app = services.apps.by_slug("thinktank")
    user = await services.users.add(tenant.id, app.id, "ro@example.com", password_hash=None)
    context = TenantContext(tenant.id, app.id, user.id, actor_id=uuid7(), read_only=True)
    with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
        async with db.tenant_transaction(context) as tx:
            await tx.execute(
                "UPDATE tenantry.app_users SET display_name = 'changed' WHERE id = %s", [user.id]
            )


async def test_the_database_sees_the_actor_and_an_actor_id_never_sets_a_flag(
    db, tenant, urls
) -> None:
    await services_for(db).apps.reload()
    app = services_for(db).apps.by_slug("thinktank")
    # Hex digits include `a`: an actor id full of them must not make the context cross-app.
    actor = uuid7()
    actor = type(actor)(str(actor)[:-12] + "aaaaaaaaaaaa")
    token = db.signer.sign_tenant(TenantContext(tenant.id, app.id, uuid7(), actor_id=actor))
    with psycopg.connect(urls.runtime, row_factory=dict_row) as conn:
        conn.execute("SELECT set_config('tenantry.context', %s, true)", [token])
        row = conn.execute(
            "SELECT actor_id, all_apps, platform, tenantry.current_actor_id() AS via_function"
            " FROM tenantry.current_scope"
        ).fetchone()
        # A forged actor (changed after signing) gives no context at all.
        forged = token.replace(str(actor), str(uuid7()))
        conn.execute("SELECT set_config('tenantry.context', %s, true)", [forged])
        nothing = conn.execute("SELECT count(*) AS n FROM tenantry.current_scope").fetchone()
    assert row == {"actor_id": actor, "all_apps": False, "platform": False, "via_function": actor}
    assert nothing == {"n": 0}


async def test_a_delegate_acts_for_the_grantor_until_revoked(client, db, tenant) -> None:
    grantor = await signed_in(client, "thinktank", tenant, "grantor@example.com")
    delegate = await signed_in(client, "thinktank", tenant, "delegate@example.com")
    granted = await client.post(
        "/v1/apps/thinktank/delegations",
        headers=grantor.auth,
        json={"email": delegate.email, "reason": "holiday cover", "minutes": 60},
    )
    assert granted.status_code == 201, granted.text
    grant = granted.json()
    assert grant["scopes"] == ["profile"]
    assert grant["live"] is True
    minted = await client.post(
        f"/v1/apps/thinktank/delegations/{grant['id']}/token", headers=delegate.auth
    )
    assert minted.status_code == 201, minted.text
    token = minted.json()["access_token"]
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["sub"] == grantor.id
    assert claims["act"]["sub"] == delegate.id
    assert claims["act"]["mode"] == "delegation"
    me = await client.get("/v1/apps/thinktank/me", headers=bearer(token))
    assert me.json()["email"] == grantor.email
    # Only the delegate may mint; the grantor's own token cannot.
    stolen = await client.post(
        f"/v1/apps/thinktank/delegations/{grant['id']}/token", headers=grantor.auth
    )
    assert stolen.status_code == 404
    revoked = await client.delete(
        f"/v1/apps/thinktank/delegations/{grant['id']}", headers=grantor.auth
    )
    assert revoked.status_code == 204
    assert (await client.get("/v1/apps/thinktank/me", headers=bearer(token))).status_code == 401


async def test_delegation_never_widens_or_crosses(client, db, tenant) -> None:
    grantor = await signed_in(client, "thinktank", tenant, "narrow@example.com")
    elsewhere = await make_tenant(db, "thinktank")
    outsider = await signed_in(client, "thinktank", elsewhere, "outsider@example.com")
    other_app = await signed_in(client, "launchboard", tenant, "board@example.com")
    widened = await client.post(
        "/v1/apps/thinktank/delegations",
        headers=grantor.auth,
        json={"email": outsider.email, "scopes": ["admin"], "reason": "x", "minutes": 5},
    )
    assert widened.status_code == 403
    for email in (outsider.email, other_app.email):
        crossing = await client.post(
            "/v1/apps/thinktank/delegations",
            headers=grantor.auth,
            json={"email": email, "reason": "x", "minutes": 5},
        )
        assert crossing.status_code == 404, email
    never_credentials = await client.post(
        "/v1/apps/thinktank/delegations",
        headers=grantor.auth,
        json={"email": outsider.email, "scopes": ["account"], "reason": "x", "minutes": 5},
    )
    assert never_credentials.status_code == 403


async def test_a_platform_administrator_impersonates_in_any_tenant(
    control_client, db, operator
) -> None:
    tenant = await make_tenant(db, "thinktank")
    await allow_impersonation(db, tenant)
    target = await signed_in(control_client, "thinktank", tenant, "anyone@example.com")
    started = await control_client.post(
        "/v1/apps/admin/impersonations",
        headers=operator.auth,
        json={
            "app": "thinktank",
            "email": target.email,
            "reason": "support",
            "tenant": tenant.slug,
        },
    )
    assert started.status_code == 201, started.text
    token = started.json()["token"]["access_token"]
    me = await control_client.get("/v1/apps/thinktank/me", headers=bearer(token))
    assert me.json()["email"] == target.email
    # The tenant's administrators see it; the audit names the platform administrator.
    other_admin = await tenant_admin(control_client, db, tenant, "owner@example.com")
    listed = await control_client.get("/v1/apps/admin/impersonations", headers=other_admin.auth)
    assert [g["actor"] for g in listed.json()] == [f"platform-admin:{operator.id}"]


async def test_an_expired_delegation_stops_working_and_mints_nothing(
    client, db, tenant, urls
) -> None:
    grantor = await signed_in(client, "thinktank", tenant, "lapsing@example.com")
    delegate = await signed_in(client, "thinktank", tenant, "cover@example.com")
    grant = (
        await client.post(
            "/v1/apps/thinktank/delegations",
            headers=grantor.auth,
            json={"email": delegate.email, "reason": "a week's cover", "minutes": 60},
        )
    ).json()
    base = f"/v1/apps/thinktank/delegations/{grant['id']}/token"
    token = (await client.post(base, headers=delegate.auth)).json()["access_token"]
    assert (await client.get("/v1/apps/thinktank/me", headers=bearer(token))).status_code == 200
    with psycopg.connect(urls.admin) as conn:  # the window closes
        conn.execute(
            "UPDATE tenantry.delegations SET ends_at = starts_at + interval '1 ms' WHERE id = %s",
            [grant["id"]],
        )
    assert (await client.get("/v1/apps/thinktank/me", headers=bearer(token))).status_code == 401
    # The delegate knows the grant; it is simply over.
    again = await client.post(base, headers=delegate.auth)
    assert (again.status_code, again.json()["detail"]) == (403, "this delegation is not running")
