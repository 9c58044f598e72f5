"""Deactivating a user cuts their live sessions and API tokens at once; reactivation restores
sign-in, not the old sessions."""

from __future__ import annotations

from tests.support.accounts import login, make_tenant, signed_in, tenant_admin


async def test_deactivation_cuts_sessions_and_tokens(client, db) -> None:
    tenant = await make_tenant(db, "thinktank")
    admin = await tenant_admin(client, db, tenant, "boss@example.com")
    user = await signed_in(client, "thinktank", tenant, "leaver@example.com")
    token = await client.post(
        "/v1/apps/thinktank/api-tokens", headers=user.auth, json={"name": "ci", "scopes": []}
    )
    api = {"Authorization": f"Bearer {token.json()['token']}"}
    assert (await client.get("/v1/apps/thinktank/api-tokens", headers=user.auth)).is_success
    base = f"/v1/apps/admin/apps/thinktank/users/{user.id}"
    done = await client.post(f"{base}/deactivate", headers=admin.auth, json={"reason": "left"})
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "inactive"
    assert (await client.get("/v1/apps/thinktank/me", headers=user.auth)).status_code == 401
    assert (await client.get("/v1/apps/thinktank/me", headers=api)).status_code == 401
    refreshed = await client.post(
        "/v1/apps/thinktank/auth/refresh", json={"refresh_token": user.refresh}
    )
    assert refreshed.status_code == 401
    old_access = user.auth
    assert (await login(client, user)).status_code == 401
    async with db.platform_transaction() as tx:
        row = await tx.fetch_one(
            "SELECT deactivated_by, deactivation_reason FROM tenantry.app_users WHERE id = %s",
            [user.id],
        )
    assert row == {"deactivated_by": f"admin-user:{admin.id}", "deactivation_reason": "left"}
    again = await client.post(f"{base}/deactivate", headers=admin.auth, json={"reason": "x"})
    assert again.status_code == 409

    back = await client.post(f"{base}/reactivate", headers=admin.auth)
    assert back.json()["status"] == "active"
    assert (await login(client, user)).status_code == 200
    assert (await client.get("/v1/apps/thinktank/me", headers=user.auth)).status_code == 200
    assert (await client.get("/v1/apps/thinktank/me", headers=old_access)).status_code == 401
    assert (await client.get("/v1/apps/thinktank/me", headers=api)).status_code == 401


async def test_only_the_tenants_own_users(client, db) -> None:
    tenant = await make_tenant(db, "thinktank")
    other = await make_tenant(db, "thinktank")
    admin = await tenant_admin(client, db, other, "other-boss@example.com")
    user = await signed_in(client, "thinktank", tenant, "stays@example.com")
    response = await client.post(
        f"/v1/apps/admin/apps/thinktank/users/{user.id}/deactivate",
        headers=admin.auth,
        json={"reason": "hostile"},
    )
    assert response.status_code == 404
    assert (await client.get("/v1/apps/thinktank/me", headers=user.auth)).status_code == 200
    myself = await client.post(
        f"/v1/apps/admin/apps/admin/users/{admin.id}/deactivate",
        headers=admin.auth,
        json={"reason": "oops"},
    )
    assert myself.status_code == 409
