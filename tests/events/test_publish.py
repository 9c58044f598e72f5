"""Publishing: types from manifests, payloads checked against their schemas, and the outbox: an
event and its deliveries commit with the change that caused them, or not at all."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import psycopg
import pytest

import tenantry
from tenantry.events.models import (
    InvalidEventPayload,
    InvalidSubscription,
    UnknownEventType,
    matches,
)
from tenantry.kit.context import TenantContext
from tests.events.conftest import ORDER_SCHEMA, World, emitting_manifest
from tests.support.wiring import FIXTURES

ORDER = {"order_id": "o-1", "total": 5}


class Boom(Exception):
    pass


async def _count(world: World, table: str) -> int:
    async with world.services.db.platform_transaction() as tx:
        row = await tx.fetch_one(
            f"SELECT count(*) AS n FROM tenantry.{table} WHERE tenant_id = %s",
            [world.tenant_id],
        )
    assert row is not None
    return int(row["n"])


async def test_publishing_a_manifest_registers_its_types(world: World) -> None:
    types = {t.type: t for t in await world.events.types()}
    created = types[world.type("order.created")]
    assert (created.catalog_app_id, created.version) == (world.app_id, "1.0.0")
    assert created.schema == ORDER_SCHEMA
    document = emitting_manifest(world.app_slug, "1.1.0")
    document["events"]["emits"][1]["schema"] = {"type": "object", "required": ["id"]}  # type: ignore[index] # a nested dict of the manifest
    await world.services.registry.publish(document, by=FIXTURES)
    types = {t.type: t for t in await world.events.types()}
    assert types[world.type("order.paid")].schema == {"type": "object", "required": ["id"]}
    assert types[world.type("order.paid")].version == "1.1.0"
    with pytest.raises(InvalidEventPayload):
        await world.events.publish(world.tenant_id, world.app_id, world.type("order.paid"), {})


async def test_a_rolled_back_change_leaves_no_event_and_no_delivery(world: World) -> None:
    await world.events.subscribe(
        world.tenant_id, world.consumer_app_id, "indexer", [world.type("order.*")]
    )
    context = TenantContext(world.tenant_id, world.app_id)
    with pytest.raises(Boom):
        async with world.services.db.tenant_transaction(context) as tx:
            await world.events.publish_in(
                tx,
                tenant_id=world.tenant_id,
                app_id=world.app_id,
                type=world.type("order.created"),
                payload=ORDER,
            )
            raise Boom
    assert await _count(world, "events") == 0
    assert await _count(world, "event_deliveries") == 0
    async with world.services.db.tenant_transaction(context) as tx:
        event = await world.events.publish_in(
            tx,
            tenant_id=world.tenant_id,
            app_id=world.app_id,
            type=world.type("order.created"),
            payload=ORDER,
            key="order-o-1",
        )
    assert await _count(world, "events") == 1
    stored, deliveries = await world.events.event(world.tenant_id, event.id)
    assert stored.payload == ORDER
    assert stored.key == "order-o-1"
    [delivery] = deliveries
    assert (delivery.consumer, delivery.status, delivery.attempts) == ("indexer", "pending", 0)
    assert delivery.ordering_key == "order-o-1"
    assert delivery.event_created_at == stored.created_at


async def test_an_invalid_payload_is_refused_with_its_json_path(world: World) -> None:
    publish = world.events.publish
    with pytest.raises(InvalidEventPayload) as invalid:
        await publish(
            world.tenant_id, world.app_id, world.type("order.created"), {**ORDER, "total": "5"}
        )
    assert invalid.value.path == "$.total"
    assert invalid.value.status == 422
    assert invalid.value.code == "invalid_event_payload"
    with pytest.raises(InvalidEventPayload) as missing:
        await publish(
            world.tenant_id,
            world.app_id,
            world.type("order.created"),
            {**ORDER, "lines": [{"sku": "a"}, {}]},
        )
    assert missing.value.path == "$.lines[1]"
    with pytest.raises(UnknownEventType) as unknown:
        await publish(world.tenant_id, world.app_id, world.type("order.lost"), {})
    assert unknown.value.code == "unknown_event_type"
    assert await _count(world, "events") == 0


async def test_deliveries_go_to_matching_active_subscriptions_only(world: World) -> None:
    subscribe = world.events.subscribe
    await subscribe(world.tenant_id, world.consumer_app_id, "exact", [world.type("order.paid")])
    await subscribe(world.tenant_id, world.consumer_app_id, "orders", [world.type("order.*")])
    await subscribe(world.tenant_id, world.consumer_app_id, "everything", ["*"])
    await subscribe(world.tenant_id, world.consumer_app_id, "invoices", [world.type("invoice.*")])
    paused = await subscribe(world.tenant_id, world.consumer_app_id, "paused", ["*"])
    await world.events.update_subscription(world.tenant_id, paused.id, active=False)
    paid = await world.events.publish(world.tenant_id, world.app_id, world.type("order.paid"), {})
    _, deliveries = await world.events.event(world.tenant_id, paid.id)
    assert sorted(d.consumer for d in deliveries) == ["everything", "exact", "orders"]
    sent = await world.events.publish(world.tenant_id, world.app_id, world.type("invoice.sent"), {})
    _, deliveries = await world.events.event(world.tenant_id, sent.id)
    assert sorted(d.consumer for d in deliveries) == ["everything", "invoices"]
    # Another tenant's subscriptions never see this tenant's events.
    assert all(d.tenant_id == world.tenant_id for d in deliveries)


def test_patterns_match_as_the_database_does() -> None:
    assert matches("a.b.*", "a.b.c")
    assert matches("a.b.*", "a.b.c.d")
    assert not matches("a.b.*", "a.bc.d")
    assert not matches("a.b.*", "a.b")
    assert matches("*", "x.y")
    assert matches("x.y", "x.y")


async def test_subscriptions_are_checked(world: World) -> None:
    for consumer, types in (("Bad Name", ["*"]), ("ok", []), ("ok", ["a.*.b"]), ("ok", ["a"])):
        with pytest.raises(InvalidSubscription):
            await world.events.subscribe(world.tenant_id, world.consumer_app_id, consumer, types)
    await world.events.subscribe(world.tenant_id, world.consumer_app_id, "twice", ["*"])
    with pytest.raises(Exception, match="conflicts"):
        await world.events.subscribe(world.tenant_id, world.consumer_app_id, "twice", ["*"])
    subscriptions = await world.events.subscriptions(world.tenant_id)
    assert [s.consumer for s in subscriptions] == ["twice"]
    await world.events.unsubscribe(world.tenant_id, subscriptions[0].id)
    assert await world.events.subscriptions(world.tenant_id) == []


def _backfill_sql() -> str:
    path = Path(tenantry.__file__).parent / "migrations" / "versions" / "0017_events.py"
    spec = importlib.util.spec_from_file_location("tenantry_revision_0017", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    sql: str = module._BACKFILL_TYPES
    return sql


async def test_the_migration_backfills_types_from_published_versions(world: World, urls) -> None:
    with psycopg.connect(urls.admin) as conn:
        conn.execute("DELETE FROM tenantry.event_types WHERE catalog_app_id = %s", [world.app_id])
        conn.execute(_backfill_sql())
        rows = conn.execute(
            "SELECT type, version, schema FROM tenantry.event_types WHERE catalog_app_id = %s"
            " ORDER BY type",
            [world.app_id],
        ).fetchall()
        conn.rollback()
    assert [(t, v) for t, v, _ in rows] == [
        (world.type("invoice.sent"), "1.0.0"),
        (world.type("order.created"), "1.0.0"),
        (world.type("order.paid"), "1.0.0"),
    ]
    assert rows[1][2] == ORDER_SCHEMA


async def test_many_events_of_one_change_are_all_or_none(world: World) -> None:
    await world.events.subscribe(
        world.tenant_id, world.consumer_app_id, "ledger", [world.type("order.*")]
    )
    created = world.type("order.created")
    context = TenantContext(world.tenant_id, world.app_id)
    with pytest.raises(InvalidEventPayload):
        async with world.services.db.tenant_transaction(context) as tx:
            await world.events.publish_many_in(
                tx,
                tenant_id=world.tenant_id,
                app_id=world.app_id,
                events=[(created, ORDER, None), (created, {"total": "x"}, None)],
            )
    assert await _count(world, "events") == 0
    async with world.services.db.tenant_transaction(context) as tx:
        inserted = await world.events.publish_many_in(
            tx,
            tenant_id=world.tenant_id,
            app_id=world.app_id,
            events=[(created, {**ORDER, "order_id": f"o-{n}"}, "k") for n in range(5)],
        )
    assert inserted == 5
    assert await _count(world, "events") == 5
    assert await _count(world, "event_deliveries") == 5
