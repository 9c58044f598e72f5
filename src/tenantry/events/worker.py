"""`tenantry worker`: hands published events to their consumers, at least once, in key order.

Each of `concurrency` lanes claims up to `batch` due deliveries (`repository.worker.claim`:
SKIP LOCKED and a lease), hands them to their consumers at once, records every outcome in one
statement and claims again. Idle lanes sleep until a publishing transaction commits (NOTIFY on
`CHANNEL`, heard on one dedicated LISTEN connection) or the next retry or lease is due: no
polling. SIGTERM (`stop`) ends claiming; lanes finish what they hold, within the lease.

Consumers are in-process handlers (`register(name, handler)`; a handler raises to fail the
attempt) or, for names starting `webhook:`, the `Deliverer` given to the worker. Delivery is
at least once: a consumer records what it applied (`event_consumption`) to skip a redelivery.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from collections import Counter
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import psycopg
from prometheus_client import CollectorRegistry
from prometheus_client import Counter as PromCounter

from tenantry.events.delivery import (
    WEBHOOK_PREFIX,
    Deliverer,
    Delivery,
    Event,
    Outcome,
    metric_label,
    short_error,
    verdict,
)
from tenantry.events.repository import worker as repository
from tenantry.kit.errors import ConfigurationError
from tenantry.kit.ids import uuid7

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable
    from uuid import UUID

    from tenantry.kit.db import Database

CHANNEL = "tenantry_events"
# Without a notification, idle lanes still look once in a while (a NOTIFY lost while the
# listening connection was down).
IDLE_CHECK = timedelta(seconds=30)
log = logging.getLogger("tenantry.worker")
# Metric results by the status an attempt leaves its delivery in.
_RESULTS = {"delivered": "delivered", "pending": "failed", "dead": "dead"}


class WorkerMetrics:
    """Deliveries settled, by consumer (webhooks counted together) and result."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.settled = PromCounter(
            "tenantry_event_deliveries_total",
            "Delivery attempts settled by the worker, by consumer and result.",
            ["consumer", "result"],
            registry=registry if registry is not None else CollectorRegistry(),
        )
        self.counts: Counter[tuple[str, str]] = Counter()

    def record(self, outcomes: Counter[tuple[str, str]]) -> None:
        """A claim's outcomes, (consumer, result) counted: one metric update per pair."""
        for (consumer, result), n in outcomes.items():
            label = metric_label(consumer)
            self.settled.labels(label, result).inc(n)
            self.counts[label, result] += n


class Worker:
    def __init__(
        self,
        db: Database,
        *,
        deliverer: Deliverer | None = None,
        concurrency: int = 1,
        batch: int = 100,
        lease: timedelta = timedelta(seconds=60),
        metrics: WorkerMetrics | None = None,
        name: str | None = None,
        registered_only: bool = False,
        retry_delay: Callable[[int], timedelta] | None = None,
    ) -> None:
        self.db = db
        self.deliverer = deliverer
        self.concurrency = concurrency
        self.batch = batch
        self.lease = lease
        self.metrics = metrics or WorkerMetrics()
        # Claim only what this process can deliver (several services, each with its own
        # consumers); otherwise a delivery to an unknown consumer is a failed attempt.
        self.registered_only = registered_only
        self._retry_delay = retry_delay
        self.name = name or f"{socket.gethostname()}:{os.getpid()}:{uuid7().hex[-8:]}"
        self._handlers: dict[str, Callable[[Event], Awaitable[None]]] = {}
        self._batch_handlers: dict[str, Callable[[list[Event]], Awaitable[None]]] = {}
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._listening = asyncio.Event()

    def register(self, consumer: str, handler: Callable[[Event], Awaitable[None]]) -> None:
        """Deliver `consumer`'s events to `handler`, which raises to fail the attempt."""
        if consumer.startswith(WEBHOOK_PREFIX):
            raise ValueError(f"{WEBHOOK_PREFIX}… consumers are delivered by the deliverer")
        self._handlers[consumer] = handler

    def register_batch(
        self, consumer: str, handler: Callable[[list[Event]], Awaitable[None]]
    ) -> None:
        """Deliver `consumer`'s claimed events to `handler` a tenant at a time (see
        `events.batches`); raising fails the attempt of every event it was given."""
        if consumer.startswith(WEBHOOK_PREFIX):
            raise ValueError(f"{WEBHOOK_PREFIX}… consumers are delivered by the deliverer")
        self._batch_handlers[consumer] = handler

    def summary(self) -> dict[str, int]:
        """Attempts settled so far, as `consumer/result` counts (for logs and tests)."""
        return {f"{c}/{r}": n for (c, r), n in sorted(self.metrics.counts.items())}

    def stop(self) -> None:
        """Stop claiming; `run` returns once the lanes have settled what they hold."""
        self._stopping.set()
        self._wake.set()

    async def run(self) -> None:
        """Deliver until `stop()`."""
        listener = asyncio.create_task(self._listen())
        try:
            await asyncio.wait_for(self._listening.wait(), timeout=15)
            lanes = [asyncio.create_task(self._lane()) for _ in range(self.concurrency)]
            await asyncio.gather(*lanes)
        finally:
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listener

    async def run_once(self) -> int:
        """Claim and deliver until nothing is due now; the number of attempts made."""
        total = 0
        while (handled := await self.step()) > 0:
            total += handled
        return total

    async def step(self) -> int:
        """One claim in each placement, its deliveries and their outcomes; the number of
        deliveries claimed (a silo's tenants' events wait in the silo's outbox)."""
        total = 0
        for placement in await self.db.placements.names():
            total += await self._step_in(placement)
        return total

    async def _step_in(self, placement: str) -> int:
        async with self.db.platform_transaction(placement=placement) as tx:
            rows = await repository.claim(
                tx, worker=self.name, batch=self.batch, lease=self.lease, **self._scope()
            )
        if not rows:
            return 0
        deliveries = [_delivery(row) for row in rows]
        outcomes = await self._attempts(deliveries)
        results = []
        settled: Counter[tuple[str, str]] = Counter()
        for delivery, outcome in zip(deliveries, outcomes, strict=True):
            decided = verdict(delivery.attempts, outcome, self._retry_delay)
            retry_ms = int(decided.retry_in.total_seconds() * 1000) if decided.retry_in else 0
            results.append(
                (
                    delivery.tenant_id,
                    delivery.id,
                    decided.status,
                    retry_ms,
                    outcome.error,
                    outcome.status_code,
                    outcome.latency_ms,
                )
            )
            settled[delivery.consumer, _RESULTS[decided.status]] += 1
            if decided.status == "dead":
                log.warning(
                    "delivery dead-lettered",
                    extra={"delivery_id": str(delivery.id), "consumer": delivery.consumer},
                )
        async with self.db.platform_transaction(placement=placement) as tx:
            await repository.settle(tx, self.name, results)
        self.metrics.record(settled)
        return len(deliveries)

    def _scope(self) -> dict[str, Any]:
        if not self.registered_only:
            return {"consumers": None, "webhooks": True}
        consumers = sorted({*self._handlers, *self._batch_handlers})
        return {"consumers": consumers, "webhooks": self.deliverer is not None}

    async def _attempts(self, deliveries: list[Delivery]) -> list[Outcome]:
        """Every delivery attempted at once; a batch consumer's per tenant, in one call."""
        singles = [d for d in deliveries if d.consumer not in self._batch_handlers]
        groups: dict[tuple[str, UUID], list[Delivery]] = {}
        for delivery in deliveries:
            if delivery.consumer in self._batch_handlers:
                groups.setdefault((delivery.consumer, delivery.tenant_id), []).append(delivery)
        results = await asyncio.gather(
            *(self._attempt(d) for d in singles),
            *(self._attempt_batch(consumer, group) for (consumer, _), group in groups.items()),
        )
        outcomes = dict(zip((d.id for d in singles), results[: len(singles)], strict=True))
        for group, outcome in zip(groups.values(), results[len(singles) :], strict=True):
            outcomes.update((d.id, outcome) for d in group)
        return [outcomes[d.id] for d in deliveries]

    async def _attempt_batch(self, consumer: str, group: list[Delivery]) -> Outcome:
        started = time.perf_counter()
        try:
            async with asyncio.timeout(self.lease.total_seconds() * 0.8):
                await self._batch_handlers[consumer]([d.event for d in group])
        except Exception as exc:  # noqa: BLE001 - any failure of a consumer is a failed attempt
            return Outcome(ok=False, latency_ms=_since(started), error=short_error(exc))
        return Outcome(ok=True, latency_ms=_since(started))

    async def _attempt(self, delivery: Delivery) -> Outcome:
        started = time.perf_counter()
        try:
            # An attempt must end well within the lease, or another worker could take it over.
            async with asyncio.timeout(self.lease.total_seconds() * 0.8):
                if delivery.consumer.startswith(WEBHOOK_PREFIX):
                    if self.deliverer is None:
                        return Outcome(ok=False, error="no webhook deliverer configured")
                    return await self.deliverer.deliver(delivery, delivery.event)
                handler = self._handlers.get(delivery.consumer)
                if handler is None:
                    return Outcome(ok=False, error=f"no consumer {delivery.consumer!r} here")
                await handler(delivery.event)
        except Exception as exc:  # noqa: BLE001 - any failure of a consumer is a failed attempt
            return Outcome(ok=False, latency_ms=_since(started), error=short_error(exc))
        return Outcome(ok=True, latency_ms=_since(started))

    async def _lane(self) -> None:
        while not self._stopping.is_set():
            # Cleared before claiming: a NOTIFY arriving during the claim still wakes us after.
            self._wake.clear()
            try:
                if await self.step() > 0:
                    continue
                due = None
                for placement in await self.db.placements.names():
                    async with self.db.platform_transaction(placement=placement) as tx:
                        there = await repository.next_due(tx, **self._scope())
                    due = there if due is None or (there is not None and there < due) else due
            except (psycopg.OperationalError, OSError) as exc:
                # The database went away (restart, failover): try again shortly.
                log.warning("worker lost the database", extra={"error": short_error(exc)})
                await self._sleep(1.0)
                continue
            wait = IDLE_CHECK if due is None else min(max(due, timedelta(0)), IDLE_CHECK)
            await self._sleep(wait.total_seconds())

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=seconds)

    async def _listen(self) -> None:
        url = self.db.platform_pool.conninfo
        if not isinstance(url, str):
            raise ConfigurationError("the worker listens on the platform pool's URL")
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    # What was published while nobody listened is due now.
                    self._wake.set()
                    self._listening.set()
                    async for _ in conn.notifies():
                        self._wake.set()
            except (psycopg.OperationalError, OSError):
                log.warning("worker's LISTEN connection lost; reconnecting")
                await asyncio.sleep(1)


def _since(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)


def _delivery(row: dict[str, Any]) -> Delivery:
    event = Event(
        id=row["event_id"],
        tenant_id=row["tenant_id"],
        app_id=row["event_app_id"],
        type=row["type"],
        key=row["key"],
        payload=row["payload"],
        created_at=row["event_created_at"],
    )
    return Delivery(
        tenant_id=row["tenant_id"],
        id=row["id"],
        consumer=row["consumer"],
        attempts=row["attempts"],
        event=event,
    )
