"""The worker's statements over `tenantry.event_deliveries`, all on the platform path (the runtime
role may only read deliveries).

Claiming takes due deliveries with `FOR UPDATE SKIP LOCKED`, so workers never wait on each
other's rows, and leases them: a claimed delivery is due again when its lease ends
(`next_attempt_at`, shown as `claimed_until`), so a worker killed mid-batch leaves deliveries
that become claimable again. Due deliveries, pending or with a lease run out, are read in due
order from one partial index of unfinished deliveries (`event_deliveries_due`): a claim reads
what it takes, however many deliveries were delivered before.

Ordering per (tenant, consumer, ordering key): a delivery is not claimable while an earlier
delivery of the same key (earlier event) is still pending or delivering. A blocked delivery is
not locked, and the check is an index probe on (tenant_id, consumer, ordering_key,
event_created_at) among unfinished deliveries.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any, LiteralString

from psycopg.types.json import Jsonb

if TYPE_CHECKING:
    from collections.abc import Sequence
    from uuid import UUID

    from tenantry.kit.db import Transaction

_CLAIM: LiteralString = """
WITH due AS (
    SELECT d.ctid AS row_id
      FROM tenantry.event_deliveries d
     WHERE d.status IN ('pending', 'delivering') AND d.next_attempt_at <= now()
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
    -- The lease's end is the delivery's next due time: were this worker to die, the delivery
    -- is due again then, found by the same index as any other.
    UPDATE tenantry.event_deliveries d
       SET status = 'delivering',
           next_attempt_at = now() + %(lease)s,
           claimed_until = now() + %(lease)s,
           claimed_by = %(worker)s,
           attempts = d.attempts + 1
     WHERE d.ctid = ANY (ARRAY(SELECT row_id FROM due))
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
# worker belongs to that worker now (its attempt will settle it). The owner and the status are
# compared with columns of the input, not with constants: a constant condition that the
# statistics think rare ("delivering") made the planner scan the whole table for each settle.
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
  FROM jsonb_to_recordset(%s::jsonb)
       AS r(tenant_id uuid, id uuid, status text, retry_ms bigint, error text, status_code int,
            latency_ms int, worker text, claimed text)
 WHERE d.tenant_id = r.tenant_id AND d.id = r.id
   AND d.status = r.claimed AND d.claimed_by = r.worker
"""

# When the next delivery becomes due by time alone: a retry, or a lease that runs out. Blocked
# deliveries already due are left out: they become claimable when the delivery ahead of them is
# settled, and the worker that settles it claims again at once.
_NEXT_DUE: LiteralString = """
SELECT min(next_attempt_at) - now() AS wait
  FROM tenantry.event_deliveries
 WHERE status IN ('pending', 'delivering') AND next_attempt_at > now()
   AND (%(consumers)s::text[] IS NULL OR consumer = ANY (%(consumers)s)
        OR (%(webhooks)s AND consumer LIKE 'webhook:%%'))
"""


# Claims and settlements need not wait for their commit to reach disk: lost in a crash, a claim
# leaves its deliveries due and a settlement leaves them leased until the lease ends, and either
# way they are delivered again, which the consumers' dedupe (`event_consumption`) turns into a
# no-op. What records an effect, the consumer's own transaction, commits durably as any other.
_BOOKKEEPING: LiteralString = "SET LOCAL synchronous_commit TO off"


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
    await tx.execute(_BOOKKEEPING)
    return await tx.fetch_all(_CLAIM, params)


async def settle(
    tx: Transaction,
    worker: str,
    results: Sequence[tuple[UUID, UUID, str, int, str | None, int | None, int | None]],
) -> int:
    """Record attempts: (tenant_id, id, status, retry_ms, error, status_code, latency_ms)."""
    if not results:
        return 0
    # One JSON document: psycopg quotes each element of a text array with a regular expression.
    document = [
        {
            "tenant_id": str(tenant_id),
            "id": str(id_),
            "status": status,
            "retry_ms": retry_ms,
            "error": error,
            "status_code": status_code,
            "latency_ms": latency_ms,
            "worker": worker,
            "claimed": "delivering",
        }
        for tenant_id, id_, status, retry_ms, error, status_code, latency_ms in results
    ]
    await tx.execute(_BOOKKEEPING)
    cursor = await tx.execute(_SETTLE, [Jsonb(document)])
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
           SELECT %s, %s, gen_random_uuid(), %s, e::uuid
             FROM jsonb_array_elements_text(%s::jsonb) AS e
           ON CONFLICT (tenant_id, app_id, consumer, event_id) DO NOTHING
           RETURNING event_id""",
        [tenant_id, app_id, consumer, Jsonb([str(e) for e in event_ids])],
    )
    return {row["event_id"] for row in rows}
