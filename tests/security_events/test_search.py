"""The security-events search over the admin API: filters, newest first, paging, and one
tenant's administrator sees none of another's events."""

from __future__ import annotations

from tests.support.accounts import make_tenant, signed_in, tenant_admin


async def test_security_events_listing_with_filters(client, db, tenant, admin) -> None:
    user = await signed_in(client, "thinktank", tenant, "wanderer@example.com")
    for _ in range(2):
        assert (await client.get("/v1/apps/launchboard/me", headers=user.auth)).status_code == 403
    events = await client.get(
        "/v1/apps/admin/security-events", headers=admin.auth, params={"kind": "app_mismatch"}
    )
    assert events.status_code == 200
    listed = events.json()
    assert len(listed) == 2
    assert {e["app_user_id"] for e in listed} == {user.id}
    assert listed[0]["id"] > listed[1]["id"]  # newest first
    page = await client.get(
        "/v1/apps/admin/security-events",
        headers=admin.auth,
        params={"limit": 1, "before": listed[0]["id"]},
    )
    assert [e["id"] for e in page.json()] == [listed[1]["id"]]
    none = await client.get(
        "/v1/apps/admin/security-events",
        headers=admin.auth,
        params={"kind": "app_mismatch", "since": "2999-01-01T00:00:00Z"},
    )
    assert none.json() == []
    # Another tenant's administrator sees none of these.
    other_admin = await tenant_admin(client, db, await make_tenant(db, "admin"), "root@example.com")
    assert (
        await client.get("/v1/apps/admin/security-events", headers=other_admin.auth)
    ).json() == []
