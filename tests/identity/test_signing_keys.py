"""Apps' signing keys: a new key is published beside the old one, a retired key stops verifying,
and a rotation made elsewhere reaches the running service through its listener."""

from __future__ import annotations

import asyncio

import jwt

from tenantry.identity import keys
from tests.support.accounts import login, make_tenant, signed_in


def _header(token: str) -> dict:
    return jwt.get_unverified_header(token)


async def _me(client, token: str, app: str):
    return await client.get(f"/v1/apps/{app}/me", headers={"Authorization": f"Bearer {token}"})


async def test_retired_signing_key_stops_verifying(client, app, db, tenant) -> None:
    user = await signed_in(client, "alwaysme", await make_tenant(db, "alwaysme"), "rot@example.com")
    services = app.state.services
    old_kid = _header(user.access)["kid"]
    async with db.platform_transaction() as tx:
        await keys.create_key(tx, services.apps.by_slug("alwaysme").id)
    await services.keys.reload()
    jwks = (await client.get("/v1/apps/alwaysme/.well-known/jwks.json")).json()
    assert old_kid in {k["kid"] for k in jwks["keys"]}
    assert len(jwks["keys"]) == 2  # overlap: both keys are published
    assert (await _me(client, user.access, app="alwaysme")).status_code == 200
    async with db.platform_transaction() as tx:
        assert await keys.retire_key(tx, old_kid)
    await services.keys.reload()
    assert (await _me(client, user.access, app="alwaysme")).status_code == 401
    fresh = await login(client, user)
    assert _header(fresh.json()["access_token"])["kid"] != old_kid
    assert (await _me(client, user.access, app="alwaysme")).status_code == 200


async def test_app_key_rotation_reaches_the_running_service(
    control_client, control_app, db
) -> None:
    services = control_app.state.services
    tenant = await make_tenant(db, "mechanicalmaker")
    user = await signed_in(control_client, "mechanicalmaker", tenant, "rot@example.com")
    old = services.keys.signing_key(services.apps.by_slug("mechanicalmaker").id).kid
    async with db.platform_transaction() as tx:
        new = await keys.create_key(tx, services.apps.by_slug("mechanicalmaker").id)
    for _ in range(200):  # the NOTIFY reaches the service's listener, which reloads its keys
        if services.keys.signing_key(services.apps.by_slug("mechanicalmaker").id).kid == new:
            break
        await asyncio.sleep(0.01)
    assert services.keys.signing_key(services.apps.by_slug("mechanicalmaker").id).kid == new
    async with db.platform_transaction() as tx:
        await keys.retire_key(tx, old)
    for _ in range(200):
        if (
            await control_client.get("/v1/apps/mechanicalmaker/me", headers=user.auth)
        ).status_code == 401:
            break
        await asyncio.sleep(0.01)
    assert (
        await control_client.get("/v1/apps/mechanicalmaker/me", headers=user.auth)
    ).status_code == 401
