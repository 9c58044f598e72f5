"""Deliveries as administrators see them, replay and retention (the platform path writes)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tenantry.events.models import DeliveryRecord

if TYPE_CHECKING:
    from datetime import datetime
    from uuid import UUID

    from tenantry.kit.db import Transaction

_COLUMNS = """id, tenant_id, event_id, event_app_id, event_created_at, event_type, consumer,
    ordering_key, status, attempts, next_attempt_at, last_attempt_at, last_error,
    last_status_code, last_latency_ms, delivered_at"""


async def of_event(tx: Transaction, tenant_id: UUID, event_id: UUID) -> list[DeliveryRecord]:
    rows = await tx.fetch_all(
        f"""SELECT {_COLUMNS} FROM tenantry.event_deliveries
             WHERE tenant_id = %s AND event_id = %s ORDER BY consumer""",
        [tenant_id, event_id],
    )
    return [DeliveryRecord(**row) for row in rows]


async def listed(
    tx: Transaction,
    tenant_id: UUID,
    *,
    status: str | None = None,
    consumer: str | None = None,
    before: tuple[datetime, UUID] | None = None,
    limit: int = 50,
) -> list[DeliveryRecord]:
    """Newest event first; `before` is the (event_created_at, id) of the last row seen."""
    rows = await tx.fetch_all(
        f"""SELECT {_COLUMNS} FROM tenantry.event_deliveries
             WHERE tenant_id = %(tenant)s
               AND (%(status)s::text IS NULL OR status = %(status)s)
               AND (%(consumer)s::text IS NULL OR consumer = %(consumer)s)
               AND (%(at)s::timestamptz IS NULL
                    OR (event_created_at, id) < (%(at)s, %(id)s::uuid))
             ORDER BY event_created_at DESC, id DESC LIMIT %(limit)s""",
        {
            "tenant": tenant_id,
            "status": status,
            "consumer": consumer,
            "at": before[0] if before else None,
            "id": before[1] if before else None,
            "limit": limit,
        },
    )
    return [DeliveryRecord(**row) for row in rows]


async def replay(
    tx: Transaction,
    tenant_id: UUID,
    *,
    consumer: str | None,
    since: datetime | None,
    dead_only: bool,
    event_id: UUID | None = None,
) -> int:
    """Back to pending with no attempts, due now; a delivery being attempted is left alone."""
    cursor = await tx.execute(
        """UPDATE tenantry.event_deliveries
              SET status = 'pending', attempts = 0, next_attempt_at = now(),
                  claimed_until = NULL, claimed_by = NULL, delivered_at = NULL
            WHERE tenant_id = %(tenant)s AND status <> 'delivering'
              AND (%(consumer)s::text IS NULL OR consumer = %(consumer)s)
              AND (%(since)s::timestamptz IS NULL OR event_created_at >= %(since)s)
              AND (%(event)s::uuid IS NULL OR event_id = %(event)s)
              AND (NOT %(dead_only)s OR status = 'dead')""",
        {
            "tenant": tenant_id,
            "consumer": consumer,
            "since": since,
            "event": event_id,
            "dead_only": dead_only,
        },
    )
    if cursor.rowcount:
        await tx.execute("SELECT pg_notify('tenantry_events', '')")
    return cursor.rowcount


async def prune_before(tx: Transaction, cutoff: datetime) -> int:
    """Deliveries and consumption records of events older than the dropped partitions."""
    cursor = await tx.execute(
        "DELETE FROM tenantry.event_deliveries WHERE event_created_at < %s", [cutoff]
    )
    deleted = cursor.rowcount
    await tx.execute("DELETE FROM tenantry.event_consumption WHERE consumed_at < %s", [cutoff])
    return deleted
