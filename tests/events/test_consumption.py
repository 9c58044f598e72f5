"""A consumer applies an event's effect once: its consumption commits with the effect, and a
redelivery (even a concurrent one) finds it and skips."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import pytest

from tenantry.events.delivery import Event
from tenantry.events.service import apply_once
from tenantry.kit.context import TenantContext
from tenantry.kit.errors import InvalidInput

if TYPE_CHECKING:
    from tenantry.kit.db import Transaction
    from tests.events.conftest import World


async def _event(world: World) -> Event:
    stored = await world.events.publish(
        world.tenant_id, world.app_id, world.type("order.paid"), {"n": 1}, key="k"
    )
    return Event(
        stored.id,
        stored.tenant_id,
        stored.app_id,
        stored.type,
        stored.key,
        stored.payload,
        stored.created_at,
    )


async def test_applying_twice_has_one_effect(world: World) -> None:
    event = await _event(world)
    context = TenantContext(world.tenant_id, world.consumer_app_id)
    effects: list[str] = []

    async def effect(tx: Transaction) -> None:
        effects.append("applied")

    db = world.services.db
    assert await apply_once(db, context, "indexer", event, effect) is True
    assert await apply_once(db, context, "indexer", event, effect) is False
    # Another consumer keeps its own record.
    assert await apply_once(db, context, "mailer", event, effect) is True
    assert effects == ["applied", "applied"]


async def test_a_failed_effect_records_nothing(world: World) -> None:
    event = await _event(world)
    context = TenantContext(world.tenant_id, world.consumer_app_id)

    async def failing(tx: Transaction) -> None:
        raise RuntimeError("consumer down")

    async def working(tx: Transaction) -> None:
        return None

    db = world.services.db
    with pytest.raises(RuntimeError):
        await apply_once(db, context, "indexer", event, failing)
    assert await apply_once(db, context, "indexer", event, working) is True


async def test_concurrent_redeliveries_apply_once(world: World) -> None:
    event = await _event(world)
    context = TenantContext(world.tenant_id, world.consumer_app_id)
    effects: list[int] = []

    async def slow_effect(tx: Transaction) -> None:
        # Hold the transaction open so the others queue on the consumption's unique key.
        await asyncio.sleep(0.05)
        effects.append(1)

    results = await asyncio.gather(
        *(apply_once(world.services.db, context, "indexer", event, slow_effect) for _ in range(6))
    )
    assert sorted(results) == [False] * 5 + [True]
    assert effects == [1]
    async with world.services.db.platform_transaction() as tx:
        row = await tx.fetch_one(
            "SELECT count(*) AS n FROM tenantry.event_consumption WHERE event_id = %s", [event.id]
        )
    assert row == {"n": 1}


async def test_consumption_is_recorded_in_the_events_tenant(world: World) -> None:
    event = await _event(world)

    async def effect(tx: Transaction) -> None:
        return None

    with pytest.raises(InvalidInput):
        await apply_once(world.services.db, TenantContext(world.tenant_id), "x", event, effect)
