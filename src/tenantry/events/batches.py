"""Consumers that take a tenant's due events together: one transaction applies them all.

A batch handler (`Worker.register_batch`) receives the deliveries the worker claimed for it,
one tenant at a time, and its result counts for each of them. `apply_batch_once` is
`apply_once` for such a batch: the consumption of every event is recorded with one statement,
and the effect runs once, in the same transaction, for the events not applied before.
Claims hold at most one delivery per ordering key, so a batch never holds two events that
must be applied in order.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tenantry.events.repository import worker as repository
from tenantry.kit.errors import InvalidInput

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Sequence

    from tenantry.events.delivery import Event
    from tenantry.kit.context import TenantContext
    from tenantry.kit.db import Database, Transaction


async def apply_batch_once(
    db: Database,
    context: TenantContext,
    consumer: str,
    events: Sequence[Event],
    effect: Callable[[Transaction, list[Event]], Awaitable[object]],
) -> list[Event]:
    """Run `effect(tx, fresh)` for the events `consumer` had not applied yet and record them
    as applied, in one transaction of the consumer app's `context`; returns `fresh`."""
    if context.app_id is None or any(e.tenant_id != context.tenant_id for e in events):
        raise InvalidInput("consumption is recorded in the events' tenant, for the consumer app")
    if not events:
        return []
    async with db.tenant_transaction(context) as tx:
        new = await repository.consume_many(
            tx, context.tenant_id, context.app_id, consumer, [e.id for e in events]
        )
        fresh = [e for e in events if e.id in new]
        if fresh:
            await effect(tx, fresh)
        return fresh
