"""The worker's statements over `tenantry.event_deliveries`, all on the platform path (the runtime
role may only read deliveries).

Claiming takes due deliveries with `FOR UPDATE SKIP LOCKED`, so workers never wait on each
other's rows, and leases them (`claimed_until`): a worker killed mid-batch leaves leases that
expire and make its deliveries claimable again. Ordering per (tenant, consumer, ordering key):
a delivery is not claimable while an earlier delivery of the same key (earlier event) is still
pending or delivering. A blocked delivery is not locked, and the check is an index probe on
(tenant_id, consumer, ordering_key, event_created_at) among unfinished deliveries.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any, LiteralString

if TYPE_CHECKING:
    from collections.abc import Sequence
    from uuid import UUID

    from tenantry.kit.db import Transaction

_CLAIM: LiteralString = """
WITH due AS (
    SELECT d.tenant_id, d.id
      FROM tenantry.event_deliveries d
     WHERE ((d.status = 'pending' AND d.next_attempt_at <= now())
            OR (d.status = 'delivering' AND d.claimed_until < now()))
       AND (%(consumers)s::text[] IS NULL OR d.consumer = ANY (%(consumers)s)
            OR (%(webhooks)s AND d.consumer LIKE 'webhook:%%'))
       AND (d.ordering_key IS NULL OR NOT EXISTS (
            SELECT 1 FROM tenantry.event_deliveries e
             WHERE e.tenant_id = d.tenant_id
               AND e.consumer = d.consumer
               AND e.ordering_key = d.ordering_key
               AND e.status IN ('pending', 'delivering')
               AND (e.event_created_at, e.event_id) < (d.event_created_at, d.event_id)))
     ORDER BY d.next_attempt_at
     LIMIT %(batch)s
       FOR UPDATE OF d SKIP LOCKED
), claimed AS (
    UPDATE tenantry.event_deliveries d
       SET status = 'delivering',
           claimed_until = now() + %(lease)s,
           claimed_by = %(worker)s,
           attempts = d.attempts + 1
      FROM due
     WHERE d.tenant_id = due.tenant_id AND d.id = due.id
 RETURNING d.tenant_id, d.id, d.consumer, d.attempts, d.event_id, d.event_app_id,
           d.event_created_at
)
SELECT c.tenant_id, c.id, c.consumer, c.attempts, c.event_id, c.event_app_id,
       c.event_created_at, ev.type, ev.key, ev.payload
  FROM claimed c
  JOIN tenantry.events ev
    ON ev.tenant_id = c.tenant_id AND ev.app_id = c.event_app_id
   AND ev.id = c.event_id AND ev.created_at = c.event_created_at
"""

# Only this worker's live claims are settled: a claim that expired and was taken by another
# worker belongs to that worker now (its attempt will settle it).
_SETTLE: LiteralString = """
UPDATE tenantry.event_deliveries d
   SET status = r.status,
       next_attempt_at = CASE WHEN r.status = 'pending'
                              THEN now() + r.retry_ms * interval '1 millisecond'
                              ELSE d.next_attempt_at END,
       claimed_until = NULL,
       claimed_by = NULL,
       last_attempt_at = now(),
       last_error = r.error,
       last_status_code = r.status_code,
       last_latency_ms = r.latency_ms,
       delivered_at = CASE WHEN r.status = 'delivered' THEN now() END
  FROM unnest(%s::uuid[], %s::uuid[], %s::text[], %s::bigint[], %s::text[], %s::int[],
              %s::int[]) AS r(tenant_id, id, status, retry_ms, error, status_code, latency_ms)
 WHERE d.tenant_id = r.tenant_id AND d.id = r.id
   AND d.status = 'delivering' AND d.claimed_by = %s
"""

# When the next delivery becomes due by time alone: a retry, or a lease that runs out. Blocked
# deliveries already due are left out: they become claimable when the delivery ahead of them is
# settled, and the worker that settles it claims again at once.
_NEXT_DUE: LiteralString = """
SELECT least(
    (SELECT min(next_attempt_at) FROM tenantry.event_deliveries
      WHERE status = 'pending' AND next_attempt_at > now()
        AND (%(consumers)s::text[] IS NULL OR consumer = ANY (%(consumers)s)
             OR (%(webhooks)s AND consumer LIKE 'webhook:%%'))),
    (SELECT min(claimed_until) FROM tenantry.event_deliveries WHERE status = 'delivering')
) - now() AS wait
"""


async def claim(
    tx: Transaction,
    *,
    worker: str,
    batch: int,
    lease: timedelta,
    consumers: Sequence[str] | None,
    webhooks: bool,
) -> list[dict[str, Any]]:
    """Claim up to `batch` due deliveries; only for `consumers` (and webhooks when `webhooks`)
    unless `consumers` is None."""
    params = {
        "batch": batch,
        "lease": lease,
        "worker": worker,
        "consumers": list(consumers) if consumers is not None else None,
        "webhooks": webhooks,
    }
    return await tx.fetch_all(_CLAIM, params)


async def settle(
    tx: Transaction,
    worker: str,
    results: Sequence[tuple[UUID, UUID, str, int, str | None, int | None, int | None]],
) -> int:
    """Record attempts: (tenant_id, id, status, retry_ms, error, status_code, latency_ms)."""
    if not results:
        return 0
    columns = list(zip(*results, strict=True))
    cursor = await tx.execute(_SETTLE, [list(column) for column in columns] + [worker])
    return cursor.rowcount


async def next_due(
    tx: Transaction, *, consumers: Sequence[str] | None, webhooks: bool
) -> timedelta | None:
    params = {"consumers": list(consumers) if consumers is not None else None, "webhooks": webhooks}
    row = await tx.fetch_one(_NEXT_DUE, params)
    wait = row["wait"] if row else None
    return wait if isinstance(wait, timedelta) else None


async def consume_many(
    tx: Transaction, tenant_id: UUID, app_id: UUID, consumer: str, event_ids: Sequence[UUID]
) -> set[UUID]:
    """Record that `consumer` applies these events; the ids it had not applied before (a
    concurrent transaction recording the same event waits, then finds it recorded)."""
    rows = await tx.fetch_all(
        """INSERT INTO tenantry.event_consumption (tenant_id, app_id, id, consumer, event_id)
           SELECT %s, %s, gen_random_uuid(), %s, e FROM unnest(%s::uuid[]) AS e
           ON CONFLICT (tenant_id, app_id, consumer, event_id) DO NOTHING
           RETURNING event_id""",
        [tenant_id, app_id, consumer, list(event_ids)],
    )
    return {row["event_id"] for row in rows}
