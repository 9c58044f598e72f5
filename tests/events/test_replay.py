"""Replay: deliveries back to pending with no attempts, by consumer, time or dead letters only,
from the service and from `tenantry events …`."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from tests.support.cli import tenantry

if TYPE_CHECKING:
    from tests.events.conftest import World


async def _settle(world: World, consumer: str, status: str) -> None:
    """What the worker would leave behind (the platform path writes deliveries)."""
    async with world.services.db.platform_transaction() as tx:
        await tx.execute(
            """UPDATE tenantry.event_deliveries
                  SET status = %s, attempts = 8, last_error = 'HTTP 500',
                      delivered_at = CASE WHEN %s = 'delivered' THEN now() END
                WHERE tenant_id = %s AND consumer = %s""",
            [status, status, world.tenant_id, consumer],
        )


async def _statuses(world: World) -> dict[str, tuple[str, int]]:
    rows = await world.events.deliveries(world.tenant_id)
    return {d.consumer: (d.status, d.attempts) for d in rows}


async def test_replay_resets_the_chosen_deliveries(world: World) -> None:
    for consumer in ("dead", "done"):
        await world.events.subscribe(world.tenant_id, world.consumer_app_id, consumer, ["*"])
    await world.events.publish(world.tenant_id, world.app_id, world.type("order.paid"), {})
    await _settle(world, "dead", "dead")
    await _settle(world, "done", "delivered")
    assert await world.events.replay(world.tenant_id, dead_only=True) == 1
    assert await _statuses(world) == {"dead": ("pending", 0), "done": ("delivered", 8)}
    later = datetime.now(UTC) + timedelta(minutes=1)
    assert await world.events.replay(world.tenant_id, consumer="done", since=later) == 0
    assert await world.events.replay(world.tenant_id, consumer="done") == 1
    assert await _statuses(world) == {"dead": ("pending", 0), "done": ("pending", 0)}
    [dead] = [d for d in await world.events.deliveries(world.tenant_id) if d.consumer == "done"]
    assert dead.delivered_at is None


async def test_replay_partitions_and_prune_from_the_cli(world: World, urls) -> None:
    await world.events.subscribe(world.tenant_id, world.consumer_app_id, "dead", ["*"])
    await world.events.publish(world.tenant_id, world.app_id, world.type("order.paid"), {})
    await _settle(world, "dead", "dead")
    replayed = tenantry(
        urls, "events", "replay", "--tenant", world.tenant_slug, "--dead-only", "--consumer", "dead"
    )
    assert replayed.returncode == 0, replayed.stderr
    assert "1 delivery queued again" in replayed.stdout
    assert await _statuses(world) == {"dead": ("pending", 0)}
    unknown = tenantry(urls, "events", "replay", "--tenant", "no-such-tenant")
    assert unknown.returncode == 1
    assert unknown.stderr.strip() == "error: no tenant 'no-such-tenant'"
    listed = tenantry(urls, "events", "partitions", "--months-ahead", "3", "--json")
    assert listed.returncode == 0, listed.stderr
    names = [row["partition"] for row in json.loads(listed.stdout)]
    now = datetime.now(UTC)
    assert f"events_p{now:%Y%m}" in names
    refused = tenantry(urls, "events", "prune", "--older-than-months", "0")
    assert refused.returncode != 0
    pruned = tenantry(urls, "events", "prune", "--older-than-months", "24")
    assert pruned.returncode == 0, pruned.stderr
    assert pruned.stdout.startswith("dropped ")
