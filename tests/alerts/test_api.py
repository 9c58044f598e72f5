"""The alerts API: a tenant administrator lists and acknowledges their own tenant's alerts,
never another's; platform administrators list every tenant's."""

from __future__ import annotations

from tenantry.security_events.service import Origin
from tests.support.accounts import make_tenant, tenant_admin
from tests.support.wiring import services_for


async def test_tenant_admins_see_and_acknowledge_only_their_alerts(
    client, db, tenant, admin
) -> None:
    events = services_for(db).events
    other = await make_tenant(db, "admin")
    for t in (tenant, other):
        await events.record("refresh_token_reuse", tenant_id=t.id, origin=Origin(ip="192.0.2.9"))
    listed = await client.get("/v1/apps/admin/alerts", headers=admin.auth)
    assert listed.status_code == 200, listed.text
    [item] = listed.json()["items"]
    assert (item["rule"], item["status"], item["tenant"]) == (
        "refresh_token_reuse",
        "open",
        tenant.slug,
    )
    other_admin = await tenant_admin(client, db, other, "root@example.com")
    [theirs] = (await client.get("/v1/apps/admin/alerts", headers=other_admin.auth)).json()["items"]
    assert theirs["id"] != item["id"]
    # Another tenant's alert does not exist for this administrator.
    foreign = await client.post(
        f"/v1/apps/admin/alerts/{theirs['id']}/acknowledge", headers=admin.auth
    )
    assert foreign.status_code == 404
    assert foreign.json()["code"] == "not_found"
    done = await client.post(f"/v1/apps/admin/alerts/{item['id']}/acknowledge", headers=admin.auth)
    assert done.status_code == 204
    seen = await client.get(
        "/v1/apps/admin/alerts", headers=admin.auth, params={"status": "acknowledged"}
    )
    [acked] = seen.json()["items"]
    assert acked["acknowledged_by"]
    assert acked["acknowledged_at"]
    bad = await client.get("/v1/apps/admin/alerts", headers=admin.auth, params={"status": "x"})
    assert bad.status_code == 422
    # Not a platform administrator: the platform view does not exist.
    assert (await client.get("/v1/platform/alerts", headers=admin.auth)).status_code == 404


async def test_platform_admins_see_every_tenant(control_client, db, operator) -> None:
    events = services_for(db).events
    a, b = await make_tenant(db), await make_tenant(db)
    for t in (a, b):
        await events.record("refresh_token_reuse", tenant_id=t.id, origin=Origin(ip="192.0.2.8"))
    listed = await control_client.get(
        "/v1/platform/alerts", headers=operator.auth, params={"limit": 500}
    )
    assert listed.status_code == 200, listed.text
    assert {a.slug, b.slug} <= {x["tenant"] for x in listed.json()["items"]}


async def test_tenant_admins_resolve_only_their_alerts(client, db, tenant, admin) -> None:
    events = services_for(db).events
    other = await make_tenant(db, "admin")
    for t in (tenant, other):
        await events.record("refresh_token_reuse", tenant_id=t.id, origin=Origin(ip="192.0.2.10"))
    [mine] = (await services_for(db).alerts.search(tenant.id, status="open"))[:1]
    [theirs] = await services_for(db).alerts.search(other.id)
    foreign = await client.post(f"/v1/apps/admin/alerts/{theirs.id}/resolve", headers=admin.auth)
    assert foreign.status_code == 404
    assert foreign.json()["code"] == "not_found"
    for _ in range(2):  # resolving again is no error and changes nothing
        done = await client.post(f"/v1/apps/admin/alerts/{mine.id}/resolve", headers=admin.auth)
        assert done.status_code == 204
    listed = await client.get(
        "/v1/apps/admin/alerts", headers=admin.auth, params={"status": "resolved"}
    )
    [item] = [x for x in listed.json()["items"] if x["id"] == str(mine.id)]
    assert item["resolved_by"]
    assert item["resolved_at"]
    assert item["acknowledged_by"] is None
    assert (await services_for(db).alerts.search(other.id))[0].status == "open"
    # Anonymous callers and unknown alerts: nothing is resolved.
    assert (await client.post(f"/v1/apps/admin/alerts/{mine.id}/resolve")).status_code == 401
    missing = await client.post(
        "/v1/apps/admin/alerts/00000000-0000-7000-8000-000000000000/resolve", headers=admin.auth
    )
    assert missing.status_code == 404
