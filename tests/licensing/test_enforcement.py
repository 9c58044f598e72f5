"""Entitlements at request time: the licence state by time (valid, grace, read-only, blocked,
revoked), licensed features as a route dependency, the snapshot in the tenant context, and
the platform and tenant APIs."""

from __future__ import annotations

from typing import Annotated

import psycopg
import pytest
from fastapi import APIRouter, FastAPI

from tenantry.http.auth import LICENCE_HEADER
from tenantry.http.entitlements import RequiresFeature
from tenantry.identity.principal import Principal
from tenantry.kit import problems
from tenantry.licensing.entitlements import Entitlements
from tenantry.licensing.models import LicenceBlocked
from tests.support.accounts import make_tenant, signed_in
from tests.support.http import client_for
from tests.support.wiring import FIXTURES


@pytest.fixture
async def services(app):
    services = app.state.services
    if not await services.licences.keys.public_keys():
        await services.licences.keys.rotate()
    return services


async def _issue(services, tenant, app="thinktank", **terms):
    values = {"plan": "pro", "seats": None, "features": [], "limits": {}, "days": 30}
    stored = await services.licences.issue(
        tenant.slug, app, by=FIXTURES, grace_days=7, **{**values, **terms}
    )
    _forget(services, tenant)
    return stored


def _forget(services, tenant) -> None:
    services.entitlements.invalidate(str(tenant.id))
    services.context.invalidate(str(tenant.id))


def _move_clock(urls, services, tenant, *, valid: str, grace: str, read_only: str) -> None:
    """Set the snapshot's dates relative to now (as an expiry would leave them)."""
    with psycopg.connect(urls.admin, autocommit=True) as conn:
        conn.execute(
            """UPDATE tenantry.entitlements
                  SET valid_until = now() + %s::interval, grace_until = now() + %s::interval,
                      read_only_until = now() + %s::interval
                WHERE tenant_id = %s""",
            [valid, grace, read_only, tenant.id],
        )
    _forget(services, tenant)


async def test_licence_state_by_time_at_request_time(client, db, urls, services) -> None:
    tenant = await make_tenant(db, "thinktank")
    user = await signed_in(client, "thinktank", tenant, "clock@example.com")
    # No licence: unrestricted, and no state header.
    unlicensed = await client.get("/v1/apps/thinktank/me", headers=user.auth)
    assert unlicensed.status_code == 200
    assert LICENCE_HEADER.lower() not in unlicensed.headers

    await _issue(services, tenant)
    valid = await client.get("/v1/apps/thinktank/api-tokens", headers=user.auth)
    assert (valid.status_code, valid.headers[LICENCE_HEADER]) == (200, "valid")

    _move_clock(urls, services, tenant, valid="-1 day", grace="1 day", read_only="30 days")
    grace = await client.get("/v1/apps/thinktank/api-tokens", headers=user.auth)
    assert (grace.status_code, grace.headers[LICENCE_HEADER]) == (200, "grace")
    write = await client.post(
        "/v1/apps/thinktank/api-tokens", headers=user.auth, json={"name": "a"}
    )
    assert write.status_code == 201, write.text

    _move_clock(urls, services, tenant, valid="-9 days", grace="-1 day", read_only="29 days")
    read = await client.get("/v1/apps/thinktank/api-tokens", headers=user.auth)
    assert (read.status_code, read.headers[LICENCE_HEADER]) == (200, "read_only")
    write = await client.post(
        "/v1/apps/thinktank/api-tokens", headers=user.auth, json={"name": "b"}
    )
    assert (write.status_code, write.json()["code"]) == (403, "licence_read_only")

    _move_clock(urls, services, tenant, valid="-40 days", grace="-31 days", read_only="-1 day")
    blocked = await client.get("/v1/apps/thinktank/me", headers=user.auth)
    assert (blocked.status_code, blocked.json()["code"]) == (403, "licence_blocked")

    # A new licence restores the app at once; revoking it blocks it again.
    renewed = await _issue(services, tenant)
    assert (await client.get("/v1/apps/thinktank/me", headers=user.auth)).status_code == 200
    await services.licences.revoke(renewed.licence.id, "fraud", FIXTURES)
    _forget(services, tenant)
    revoked = await client.get("/v1/apps/thinktank/me", headers=user.auth)
    assert (revoked.status_code, revoked.json()["code"]) == (403, "licence_blocked")


async def test_licences_required_blocks_unlicensed_apps(db, services) -> None:
    tenant = await make_tenant(db, "thinktank", "admin")
    app_id = services.apps.by_slug("thinktank").id
    strict = Entitlements(db, required=True)
    with pytest.raises(LicenceBlocked):
        await strict.admit(tenant.id, app_id, "thinktank", "GET")
    # The platform's own admin app is never licensed.
    admin_id = services.apps.by_slug("admin").id
    assert await strict.admit(tenant.id, admin_id, "admin", "POST") is None
    assert await Entitlements(db).admit(tenant.id, app_id, "thinktank", "POST") is None


async def test_features_gate_routes_through_a_declared_dependency(
    app, client, db, services
) -> None:
    router = APIRouter(prefix="/v1/apps/{app}")

    @router.get("/reports")
    async def reports(principal: Annotated[Principal, RequiresFeature("reports")]) -> dict:
        return {"tenant": str(principal.tenant_id)}

    gated = FastAPI()
    gated.state.services = services
    problems.install(gated)
    gated.include_router(router)
    tenant = await make_tenant(db, "thinktank")
    user = await signed_in(client, "thinktank", tenant, "reader@example.com")
    async with client_for(gated) as gated_client:
        # Unlicensed app: unrestricted.
        assert (await gated_client.get("/v1/apps/thinktank/reports", headers=user.auth)).is_success
        await _issue(services, tenant, features=["exports"])
        refused = await gated_client.get("/v1/apps/thinktank/reports", headers=user.auth)
        assert (refused.status_code, refused.json()["code"]) == (403, "feature_not_licensed")
        await _issue(services, tenant, features=["exports", "reports"])
        allowed = await gated_client.get("/v1/apps/thinktank/reports", headers=user.auth)
        assert allowed.status_code == 200, allowed.text
        assert (await gated_client.get("/v1/apps/thinktank/reports")).status_code == 401


async def test_the_snapshot_rides_in_the_tenant_context(client, db, services) -> None:
    tenant = await make_tenant(db, "thinktank")
    user = await signed_in(client, "thinktank", tenant, "ctx@example.com")
    before = (await client.get("/v1/apps/thinktank/context", headers=user.auth)).json()
    assert before["entitlement"] is None
    stored = await _issue(services, tenant, seats=10, features=["reports"], limits={"boards": 3})
    after = (await client.get("/v1/apps/thinktank/context", headers=user.auth)).json()
    assert after["entitlement"]["licence_id"] == str(stored.licence.id)
    assert after["entitlement"]["features"] == ["reports"]
    assert (after["entitlement"]["seats"], after["entitlement"]["state"]) == (10, "valid")
    assert after["entitlement"]["limits"] == {"boards": 3}


async def test_platform_and_tenant_licence_apis(
    control_client, operator, client, db, services, admin, tenant
) -> None:
    auth = operator.auth
    base = f"/v1/platform/tenants/{tenant.slug}"
    issued = await control_client.post(
        f"{base}/licences",
        headers=auth,
        json={"app": "thinktank", "plan": "team", "seats": 3, "features": ["reports"]},
    )
    assert issued.status_code == 201, issued.text
    licence_id = issued.json()["id"]
    listed = await control_client.get(f"{base}/licences", headers=auth)
    assert [entry["id"] for entry in listed.json()] == [licence_id]
    file = await control_client.get(f"{base}/licences/{licence_id}/file", headers=auth)
    assert file.status_code == 200
    imported = await control_client.post(
        f"{base}/licences/import", headers=auth, content=file.content
    )
    assert imported.status_code == 201, imported.text
    other = await make_tenant(db, "thinktank")
    refused = await control_client.post(
        f"/v1/platform/tenants/{other.slug}/licences/import", headers=auth, content=file.content
    )
    assert (refused.status_code, refused.json()["code"]) == (422, "licence_invalid")
    garbage = await control_client.post(f"{base}/licences/import", headers=auth, content=b"{}")
    assert garbage.status_code == 422
    usage = await control_client.get(f"{base}/entitlements", headers=auth)
    assert [(u["app"], u["seats"], u["state"]) for u in usage.json()] == [("thinktank", 3, "valid")]

    # The tenant's administrator reads its own.
    own = await client.get("/v1/apps/admin/licences", headers=admin.auth)
    assert [entry["id"] for entry in own.json()] == [licence_id]
    invited = await client.post(
        "/v1/apps/admin/apps/thinktank/invitations",
        headers=admin.auth,
        json={"email": "seat@example.com", "roles": []},
    )
    assert invited.status_code == 201, invited.text
    seats = await client.get("/v1/apps/admin/entitlements", headers=admin.auth)
    assert [(u["seats"], u["seats_used"], u["open_invitations"]) for u in seats.json()] == [
        (3, 1, 1)
    ]
    # Nobody else reaches the platform routes.
    assert (await client.get(f"{base}/licences", headers=admin.auth)).status_code == 404

    revoked = await control_client.post(
        f"{base}/licences/{licence_id}/revoke", headers=auth, json={"reason": "ended"}
    )
    assert (revoked.status_code, revoked.json()["status"]) == (200, "revoked")
    again = await control_client.post(
        f"{base}/licences/{licence_id}/revoke", headers=auth, json={"reason": "ended"}
    )
    assert again.status_code == 404
