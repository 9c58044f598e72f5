"""The worker against the real tables: delivery, retries, dead letters, ordering and waking."""

from __future__ import annotations

import asyncio
import random
import time
from datetime import timedelta
from typing import TYPE_CHECKING

from tenantry.events.batches import apply_batch_once
from tenantry.events.worker import Worker
from tenantry.kit.context import TenantContext
from tests.events.worker_support import make_stream
from tests.support.wiring import services_for

if TYPE_CHECKING:
    from tenantry.events.delivery import Event
    from tenantry.kit.db import Database, Transaction


def worker_for(db: Database, **options: object) -> Worker:
    # Only the test's own consumers: other tests' deliveries in this database are not ours.
    return Worker(db, registered_only=True, **options)  # type: ignore[arg-type]  # test options


async def test_an_event_reaches_its_in_process_consumer_once(db: Database) -> None:
    stream = await make_stream(db)
    received: list[Event] = []

    async def handler(event: Event) -> None:
        received.append(event)

    worker = worker_for(db)
    worker.register(stream.consumer, handler)
    event_id = await stream.publish({"n": 1}, key="chat-1")
    assert await worker.run_once() == 1
    assert [(e.id, e.type, e.payload, e.key) for e in received] == [
        (event_id, stream.type, {"n": 1}, "chat-1")
    ]
    (delivery,) = await stream.deliveries()
    assert (delivery.status, delivery.attempts) == ("delivered", 1)
    assert delivery.delivered_at is not None
    assert delivery.last_latency_ms is not None
    # Nothing is due any more: a second pass delivers nothing again.
    assert await worker.run_once() == 0
    assert worker.summary() == {f"{stream.consumer}/delivered": 1}


async def test_a_failed_attempt_is_retried_on_the_schedule(db: Database) -> None:
    stream = await make_stream(db)

    async def handler(_: Event) -> None:
        raise RuntimeError("indexer down token=s3cr3t")

    worker = worker_for(db)
    worker.register(stream.consumer, handler)
    await stream.publish()
    assert await worker.run_once() == 1
    (delivery,) = await stream.deliveries()
    assert (delivery.status, delivery.attempts) == ("pending", 1)
    assert delivery.last_attempt_at is not None
    wait = (delivery.next_attempt_at - delivery.last_attempt_at).total_seconds()
    assert 4.0 <= wait <= 6.0  # 5 s ± 20 %
    assert delivery.last_error is not None
    assert "indexer down" in delivery.last_error
    assert "s3cr3t" not in delivery.last_error
    # Not due yet: nothing to claim.
    assert await worker.run_once() == 0
    assert worker.summary() == {f"{stream.consumer}/failed": 1}


async def test_an_unknown_consumer_is_a_failed_attempt(db: Database) -> None:
    stream = await make_stream(db)
    await stream.publish()
    worker = Worker(db, retry_delay=lambda _: timedelta(hours=1))
    await worker.run_once()
    (delivery,) = await stream.deliveries()
    assert (delivery.status, delivery.attempts) == ("pending", 1)
    assert "no consumer" in (delivery.last_error or "")


async def test_the_last_failed_attempt_dead_letters_the_delivery(db: Database) -> None:
    stream = await make_stream(db)
    calls = 0

    async def handler(_: Event) -> None:
        nonlocal calls
        calls += 1
        raise ValueError("rejected")

    # No wait between attempts: the schedule itself is checked above and in test_worker_schedule.
    worker = worker_for(db, retry_delay=lambda _: timedelta(0))
    worker.register(stream.consumer, handler)
    await stream.publish()
    assert await worker.run_once() == 8
    (delivery,) = await stream.deliveries()
    assert (delivery.status, delivery.attempts, calls) == ("dead", 8, 8)
    assert worker.summary() == {f"{stream.consumer}/dead": 1, f"{stream.consumer}/failed": 7}
    assert [d.id for d in await stream.deliveries("dead")] == [delivery.id]


async def test_a_pending_delivery_holds_back_later_ones_of_its_key(db: Database) -> None:
    stream = await make_stream(db)
    delivered: list[int] = []

    async def handler(event: Event) -> None:
        if event.payload["n"] == 1:
            raise RuntimeError("not yet")
        delivered.append(event.payload["n"])

    worker = worker_for(db, retry_delay=lambda _: timedelta(hours=1))
    worker.register(stream.consumer, handler)
    await stream.publish({"n": 1}, key="k")
    await stream.publish({"n": 2}, key="k")
    await stream.publish({"n": 3}, key="other")
    await stream.publish({"n": 4})
    await worker.run_once()
    # 2 waits behind 1 (failed, retried in an hour); other keys and unkeyed events go on.
    assert sorted(delivered) == [3, 4]
    statuses = {d.ordering_key: d.status for d in await stream.deliveries() if d.ordering_key}
    assert statuses == {"k": "pending", "other": "delivered"}


async def test_two_workers_keep_each_key_in_order(db: Database) -> None:
    stream = await make_stream(db)
    seen: dict[str, list[int]] = {}
    in_flight: set[str] = set()
    overlaps = 0
    done = asyncio.Event()

    async def handler(event: Event) -> None:
        nonlocal overlaps
        key = event.key or ""
        if key in in_flight:
            overlaps += 1
        in_flight.add(key)
        await asyncio.sleep(random.uniform(0, 0.01))
        seen.setdefault(key, []).append(event.payload["n"])
        in_flight.discard(key)
        if sum(map(len, seen.values())) == 90:
            done.set()

    workers = [worker_for(db, batch=5, concurrency=2, name=f"w{i}") for i in range(2)]
    for worker in workers:
        worker.register(stream.consumer, handler)
    runs = [asyncio.create_task(worker.run()) for worker in workers]
    keys = [f"k{i}" for i in range(6)]
    published: dict[str, list[int]] = {key: [] for key in keys}
    # Published while both workers run: each commit wakes both, and they compete.
    for n in range(90):
        key = keys[n % 4 if n % 3 else n % 6]
        published[key].append(n)
        await stream.publish({"n": n}, key=key)
    try:
        await asyncio.wait_for(done.wait(), timeout=30)
    finally:
        for worker in workers:
            worker.stop()
        await asyncio.gather(*runs)
    assert seen == {key: numbers for key, numbers in published.items() if numbers}
    assert overlaps == 0
    # Both workers took part.
    assert all(worker.summary() for worker in workers)


async def test_a_commit_wakes_an_idle_worker_at_once(db: Database) -> None:
    stream = await make_stream(db)
    arrived = asyncio.Event()

    async def handler(_: Event) -> None:
        arrived.set()

    worker = worker_for(db)
    worker.register(stream.consumer, handler)
    run = asyncio.create_task(worker.run())
    try:
        # Idle: nothing due, so it sleeps until a NOTIFY (its safety check is 30 s away).
        await asyncio.sleep(0.5)
        started = time.monotonic()
        await stream.publish()
        await asyncio.wait_for(arrived.wait(), timeout=5)
        latency = time.monotonic() - started
    finally:
        worker.stop()
        await run
    assert latency < 1.0


async def test_a_batch_consumer_applies_a_tenants_events_once_in_one_transaction(
    db: Database,
) -> None:
    stream = await make_stream(db)
    calls: list[int] = []
    fresh_seen: list[int] = []

    async def handler(events: list[Event]) -> None:
        calls.append(len(events))

        async def effect(tx: Transaction, fresh: list[Event]) -> None:
            fresh_seen.extend(e.payload["n"] for e in fresh)
            for e in fresh:  # a real effect in the same transaction: a derived event
                await services_for(db).outbox.publish_in(
                    tx,
                    tenant_id=e.tenant_id,
                    app_id=e.app_id,
                    type=stream.derived,
                    payload={"of": str(e.id)},
                )

        context = TenantContext(stream.tenant_id, stream.app_id)
        await apply_batch_once(db, context, stream.consumer, events, effect)

    worker = worker_for(db)
    worker.register_batch(stream.consumer, handler)
    ids = [await stream.publish({"n": n}) for n in range(5)]
    assert await worker.run_once() == 5
    assert calls == [5]
    # Replayed: delivered again, applied never again.
    assert await services_for(db).outbox.replay(stream.tenant_id, consumer=stream.consumer) == 5
    assert await worker.run_once() == 5
    assert calls == [5, 5]
    assert sorted(fresh_seen) == list(range(5))
    assert sorted(await stream.derived_events()) == sorted(str(i) for i in ids)
    assert {d.status for d in await stream.deliveries()} == {"delivered"}
