"""In-process consumers for worker processes started by the tests
(`tenantry worker --consumers tests.events.worker_consumers`).

`tests.worker.effects` applies each event once (`apply_once`): its effect publishes the event
named by the payload's `derived` type, keyed by the original event's id, so a test counts
effects by counting derived events. The payload may ask it to sleep before applying
(`sleep_before`) or to hang after applying (`hang_after`), to be caught mid-batch.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from tenantry.events.service import apply_once
from tenantry.kit.context import TenantContext

if TYPE_CHECKING:
    from tenantry.events.delivery import Event
    from tenantry.events.worker import Worker
    from tenantry.kit.db import Transaction
    from tenantry.services import Services

CONSUMER = "tests.worker.effects"


def register(worker: Worker, services: Services) -> None:
    worker.register(CONSUMER, effects_handler(services))


def effects_handler(services: Services, *, delays: bool = True):
    """The handler; with `delays=False` it ignores the payload's sleeps (a survivor)."""

    async def handle(event: Event) -> None:
        payload = event.payload
        if delays:
            await asyncio.sleep(float(payload.get("sleep_before", 0)))

        async def effect(tx: Transaction) -> None:
            await services.outbox.publish_in(
                tx,
                tenant_id=event.tenant_id,
                app_id=event.app_id,
                type=payload["derived"],
                payload={"of": str(event.id)},
            )

        context = TenantContext(event.tenant_id, event.app_id)
        await apply_once(services.db, context, CONSUMER, event, effect)
        if delays:
            await asyncio.sleep(float(payload.get("hang_after", 0)))

    return handle
