"""The events API: apps publish their own types into their tenant, tenant administrators
manage subscriptions, read the stream and replay; platform administrators reach any tenant."""

from __future__ import annotations

from uuid import UUID

from tests.support.accounts import login, signed_in
from tests.support.wiring import services_for

WORKSPACE = "thinktank.workspace.created"


async def test_tenant_admin_subscribes_reads_and_replays(client, db, tenant, admin) -> None:
    created = await client.post(
        "/v1/apps/admin/event-subscriptions",
        headers=admin.auth,
        json={"consumer": "indexer", "consumer_app": "thinktank", "types": ["thinktank.*"]},
    )
    assert created.status_code == 201, created.text
    assert created.json()["consumer_app"] == "thinktank"
    bad = await client.post(
        "/v1/apps/admin/event-subscriptions",
        headers=admin.auth,
        json={"consumer": "x", "consumer_app": "thinktank", "types": ["not a pattern"]},
    )
    assert bad.status_code == 422
    assert bad.json()["code"] == "invalid_subscription"
    services = services_for(db)
    await services.apps.reload()
    app_id = services.apps.by_slug("thinktank").id
    event = await services.outbox.publish(
        tenant.id, app_id, WORKSPACE, {"workspace_id": str(app_id)}, key="w-1"
    )
    page = await client.get("/v1/apps/admin/events", headers=admin.auth)
    assert page.status_code == 200, page.text
    assert [e["id"] for e in page.json()["items"]] == [str(event.id)]
    assert page.json()["items"][0]["app"] == "thinktank"
    detail = await client.get(f"/v1/apps/admin/events/{event.id}", headers=admin.auth)
    assert detail.status_code == 200, detail.text
    [delivery] = detail.json()["deliveries"]
    assert (delivery["consumer"], delivery["status"]) == ("indexer", "pending")
    async with services.db.platform_transaction() as tx:
        await tx.execute(
            "UPDATE tenantry.event_deliveries SET status = 'dead', attempts = 8 WHERE id = %s",
            [UUID(delivery["id"])],
        )
    replayed = await client.post(
        "/v1/apps/admin/event-deliveries/replay", headers=admin.auth, json={"dead_only": True}
    )
    assert replayed.json() == {"queued": 1}
    detail = await client.get(f"/v1/apps/admin/events/{event.id}", headers=admin.auth)
    [delivery] = detail.json()["deliveries"]
    assert (delivery["status"], delivery["attempts"]) == ("pending", 0)
    missing = await client.get(f"/v1/apps/admin/events/{UUID(int=1)}", headers=admin.auth)
    assert missing.status_code == 404


async def test_an_app_publishes_only_its_own_types(client, tenant, admin) -> None:
    refused = await client.post(
        "/v1/apps/admin/events",
        headers=admin.auth,
        json={"type": WORKSPACE, "payload": {"workspace_id": str(UUID(int=2))}},
    )
    assert refused.status_code == 422, refused.text
    assert refused.json()["code"] == "unknown_event_type"


async def test_publishing_needs_the_privilege(client, tenant, admin) -> None:
    user = await signed_in(client, "thinktank", tenant, "writer@example.com")
    published = await client.post(
        "/v1/apps/thinktank/events",
        headers=user.auth,
        json={"type": WORKSPACE, "payload": {"workspace_id": str(UUID(int=3))}},
    )
    assert published.status_code == 403, published.text
    assert published.json()["detail"] == "this needs the privilege events.publish"


async def test_platform_admins_reach_any_tenant(control_client, operator, tenant) -> None:
    signed = await login(control_client, operator)
    headers = {"Authorization": f"Bearer {signed.json()['access_token']}"}
    subscribed = await control_client.post(
        f"/v1/platform/tenants/{tenant.slug}/event-subscriptions",
        headers=headers,
        json={"consumer": "ops", "consumer_app": "thinktank", "types": ["*"]},
    )
    assert subscribed.status_code == 201, subscribed.text
    listed = await control_client.get(f"/v1/platform/tenants/{tenant.slug}/events", headers=headers)
    assert listed.json() == {"items": [], "next_before": None}
    unknown = await control_client.get("/v1/platform/tenants/nope-nope/events", headers=headers)
    assert unknown.status_code == 404
