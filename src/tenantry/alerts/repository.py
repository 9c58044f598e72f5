"""SQL for alerts: the per-window count, the raised alerts, their status."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tenantry.alerts.models import Alert
from tenantry.kit.ids import uuid7

if TYPE_CHECKING:
    from datetime import datetime
    from uuid import UUID

    from tenantry.alerts.models import Rule
    from tenantry.kit.db import Transaction

_COLUMNS = """a.id, a.tenant_id, t.slug AS tenant_slug, a.rule, a.source, a.window_start,
              a.occurrences, a.threshold, a.severity, a.last_kind, a.first_event_at,
              a.last_event_at, a.raised_at, a.status, a.acknowledged_by, a.acknowledged_at,
              a.resolved_by, a.resolved_at"""


async def count_event(
    tx: Transaction, tenant_id: UUID, rule: Rule, source: str, kind: str
) -> UUID | None:
    """Count one event into its (rule, source, window) row; the alert's id when this event is
    the one that raised it (its count reached the threshold), else None. Concurrent events of
    one window queue on the row lock, so exactly one of them sees the threshold reached.

    Resolving an alert closes its window early: later events of the same fixed window count
    into a fresh row that starts at the resolution, so a new burst raises a new alert. Every
    event derives the same key from the newest row of the window, so the guarantee holds."""
    # The window first, then the upsert with plain values: Citus takes no sub-query in an
    # INSERT's values and no function call in its DO UPDATE (`now()` is the transaction's
    # start either way).
    window = await tx.fetch_one(
        """SELECT now() AS now, coalesce(
                      (SELECT CASE WHEN r.status = 'resolved' THEN r.resolved_at
                                   ELSE r.window_start END
                         FROM tenantry.alerts r
                        WHERE r.tenant_id = %(tenant)s AND r.rule = %(rule)s
                          AND r.source = %(source)s AND r.window_start >= bin.start
                        ORDER BY r.window_start DESC
                        LIMIT 1),
                      bin.start) AS start
             FROM (SELECT date_bin(make_interval(secs => %(window)s), now(),
                                   timestamptz 'epoch') AS start) bin""",
        {"tenant": tenant_id, "rule": rule.key, "source": source, "window": rule.window_seconds},
    )
    assert window is not None
    row = await tx.fetch_one(
        """INSERT INTO tenantry.alerts AS a
               (tenant_id, id, rule, source, window_start, threshold, severity, last_kind,
                raised_at)
           VALUES (%(tenant)s, %(id)s, %(rule)s, %(source)s, %(start)s, %(threshold)s,
                   %(severity)s, %(kind)s, %(raised)s)
           ON CONFLICT (tenant_id, rule, source, window_start) DO UPDATE
              SET occurrences = a.occurrences + 1,
                  last_kind = excluded.last_kind,
                  last_event_at = %(now)s,
                  raised_at = coalesce(a.raised_at,
                      CASE WHEN a.occurrences + 1 >= a.threshold THEN %(now)s::timestamptz END)
           RETURNING a.id, a.occurrences, a.threshold""",
        {
            "tenant": tenant_id,
            "id": uuid7(),
            "rule": rule.key,
            "source": source,
            "start": window["start"],
            "threshold": rule.threshold,
            "severity": rule.severity,
            "kind": kind,
            "now": window["now"],
            "raised": window["now"] if rule.threshold <= 1 else None,
        },
    )
    if row is None:  # an upsert always returns its row
        return None
    return row["id"] if row["occurrences"] == row["threshold"] else None


async def search(
    tx: Transaction,
    tenant_id: UUID | None,
    *,
    status: str | None,
    rule: str | None,
    since: datetime | None,
    before_id: UUID | None,
    limit: int,
) -> list[Alert]:
    """Raised alerts newest first; `tenant_id=None` reads every tenant (platform path only)."""
    rows = await tx.fetch_all(
        """SELECT """
        + _COLUMNS
        + """ FROM tenantry.alerts a
             JOIN tenantry.tenants t ON t.id = a.tenant_id
            WHERE a.raised_at IS NOT NULL
              AND (%(tenant)s::uuid IS NULL OR a.tenant_id = %(tenant)s)
              AND (%(status)s::text IS NULL OR a.status = %(status)s)
              AND (%(rule)s::text IS NULL OR a.rule = %(rule)s)
              AND (%(since)s::timestamptz IS NULL OR a.raised_at >= %(since)s)
              AND (%(before)s::uuid IS NULL OR a.id < %(before)s)
            ORDER BY a.id DESC
            LIMIT %(limit)s""",
        {
            "tenant": tenant_id,
            "status": status,
            "rule": rule,
            "since": since,
            "before": before_id,
            "limit": limit,
        },
    )
    return [Alert(**row) for row in rows]


async def count_open(tx: Transaction, tenant_id: UUID | None) -> int:
    row = await tx.fetch_one(
        """SELECT count(*) AS n FROM tenantry.alerts
            WHERE raised_at IS NOT NULL AND status = 'open'
              AND (%(tenant)s::uuid IS NULL OR tenant_id = %(tenant)s)""",
        {"tenant": tenant_id},
    )
    return int(row["n"]) if row else 0


async def acknowledge(tx: Transaction, tenant_id: UUID, alert_id: UUID, by: str) -> bool:
    """Open → acknowledged; True if the raised alert exists. Acknowledging twice, or a resolved
    alert, changes nothing (a resolved alert's first acknowledgement, if any, is kept)."""
    row = await tx.fetch_one(
        """UPDATE tenantry.alerts
              SET status = CASE WHEN status = 'open' THEN 'acknowledged' ELSE status END,
                  acknowledged_by = CASE WHEN status = 'open' THEN %(by)s
                                         ELSE acknowledged_by END,
                  acknowledged_at = CASE WHEN status = 'open' THEN now()
                                         ELSE acknowledged_at END
            WHERE tenant_id = %(tenant)s AND id = %(id)s AND raised_at IS NOT NULL
           RETURNING id""",
        {"tenant": tenant_id, "id": alert_id, "by": by},
    )
    return row is not None


async def resolve(tx: Transaction, tenant_id: UUID, alert_id: UUID, by: str) -> bool:
    """Open or acknowledged → resolved; True if the raised alert exists. Resolving twice
    changes nothing: the first resolver and time are kept."""
    row = await tx.fetch_one(
        """UPDATE tenantry.alerts
              SET status = 'resolved',
                  resolved_by = coalesce(resolved_by, %(by)s),
                  resolved_at = coalesce(resolved_at, now())
            WHERE tenant_id = %(tenant)s AND id = %(id)s AND raised_at IS NOT NULL
           RETURNING id""",
        {"tenant": tenant_id, "id": alert_id, "by": by},
    )
    return row is not None
