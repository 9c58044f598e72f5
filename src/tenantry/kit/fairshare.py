"""Fair share of the runtime pool: no tenant holds more than its share of the connections.

A request takes a slot before it takes a pool connection, so a tenant at its cap waits here,
holding nothing, while other tenants' requests go straight on. When a slot frees, the waiting
tenants are served in turn (round-robin between tenants, each tenant's own requests in arrival
order), so a tenant with a hundred queued requests does not stand a hundred times in front of
one with a single request. Slots also never exceed the pool's size, so the pool's own
first-come queue is never where tenants meet.

The wait is bounded: a tenant at its cap gets `ConcurrencyLimited` (429), a request kept out by
a full pool `DatabaseBusy` (503), both with a Retry-After.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from contextlib import asynccontextmanager, suppress
from typing import TYPE_CHECKING, Protocol

from tenantry.kit.errors import ConcurrencyLimited, DatabaseBusy

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from uuid import UUID

RETRY_AFTER_SECONDS = 1


class ShareObserver(Protocol):
    """Told of each wait and refusal (metrics)."""

    def waited(self, tenant: UUID, seconds: float) -> None: ...

    def refused(self, tenant: UUID) -> None: ...


class FairShare:
    """At most `cap` of `capacity` slots per tenant; waiters served round-robin by tenant."""

    def __init__(
        self,
        capacity: int,
        share: float,
        max_wait_seconds: float,
        observer: ShareObserver | None = None,
    ) -> None:
        if capacity < 1 or not 0 < share <= 1:
            raise ValueError("capacity must be at least 1 and share in (0, 1]")
        self.capacity = capacity
        # The epsilon keeps 0.3 x 10 at 3, not 2.9999... floored to 2.
        self.cap = max(1, math.floor(capacity * share + 1e-9))
        self.max_wait = max_wait_seconds
        self._observer = observer
        self._in_use: dict[UUID, int] = {}
        self._total = 0
        # Tenants with waiters, in turn order: the tenant served goes to the back.
        self._queues: dict[UUID, deque[asyncio.Future[None]]] = {}
        # Slots held, by tenant and task: a transaction opened inside another of the same
        # tenant (same task) reuses the slot, or a tenant at its cap would wait on itself.
        self._owners: dict[tuple[UUID, asyncio.Task[object] | None], int] = {}

    def in_use(self, tenant: UUID) -> int:
        return self._in_use.get(tenant, 0)

    def waiting(self, tenant: UUID) -> int:
        return len(self._queues.get(tenant, ()))

    @asynccontextmanager
    async def slot(self, tenant: UUID) -> AsyncIterator[None]:
        owner = (tenant, asyncio.current_task())
        if owner in self._owners:
            self._owners[owner] += 1
            try:
                yield
            finally:
                self._owners[owner] -= 1
            return
        await self._acquire(tenant)
        self._owners[owner] = 0
        try:
            yield
        finally:
            del self._owners[owner]
            self._release(tenant)

    def _admissible(self, tenant: UUID) -> bool:
        return self._total < self.capacity and self.in_use(tenant) < self.cap

    def _grant(self, tenant: UUID) -> None:
        self._in_use[tenant] = self.in_use(tenant) + 1
        self._total += 1

    async def _acquire(self, tenant: UUID) -> None:
        # Behind its own waiters, never in front of them.
        if tenant not in self._queues and self._admissible(tenant):
            self._grant(tenant)
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queues.setdefault(tenant, deque()).append(waiter)
        started = time.monotonic()
        try:
            async with asyncio.timeout(self.max_wait):
                await waiter
        except BaseException as exc:
            if waiter.done() and not waiter.cancelled():
                self._release(tenant)  # granted as the wait ended: give the slot on
            else:
                self._forget(tenant, waiter)
            if isinstance(exc, TimeoutError):
                raise self._refusal(tenant) from None
            raise
        if self._observer is not None:
            self._observer.waited(tenant, time.monotonic() - started)

    def _refusal(self, tenant: UUID) -> ConcurrencyLimited | DatabaseBusy:
        if self._observer is not None:
            self._observer.refused(tenant)
        if self.in_use(tenant) >= self.cap:
            return ConcurrencyLimited(
                f"this tenant already uses its {self.cap} concurrent database connections",
                RETRY_AFTER_SECONDS,
            )
        return DatabaseBusy("every database connection is in use", RETRY_AFTER_SECONDS)

    def _forget(self, tenant: UUID, waiter: asyncio.Future[None]) -> None:
        queue = self._queues.get(tenant)
        if queue is None:
            return
        with suppress(ValueError):  # already taken off by `_dispatch`
            queue.remove(waiter)
        if not queue:
            del self._queues[tenant]

    def _release(self, tenant: UUID) -> None:
        left = self.in_use(tenant) - 1
        if left:
            self._in_use[tenant] = left
        else:
            del self._in_use[tenant]
        self._total -= 1
        self._dispatch()

    def _dispatch(self) -> None:
        while self._total < self.capacity:
            turn = next((t for t in self._queues if self.in_use(t) < self.cap), None)
            if turn is None:
                return
            queue = self._queues.pop(turn)
            while queue and queue[0].done():  # cancelled while queued
                queue.popleft()
            if not queue:
                continue
            waiter = queue.popleft()
            if queue:
                self._queues[turn] = queue  # to the back of the turn order
            self._grant(turn)
            waiter.set_result(None)
