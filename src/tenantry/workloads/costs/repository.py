"""Every statement on cost events, their rollups, budget thresholds and budget alerts.

The daily summaries and monthly totals are written by the database alone: the statement-level
trigger of revision w0004 adds each INSERT's new events to them. Nothing here recomputes them.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg.types.json import Jsonb

from tenantry.library import InvalidInput, uuid7
from tenantry.workloads.costs.models import (
    MAX_THRESHOLDS,
    BudgetAlert,
    CostEvent,
    SummaryRow,
    Usage,
)

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import date
    from uuid import UUID

    from tenantry.library import Transaction
    from tenantry.workloads.costs.models import NewCostEvent, Range

_EVENT = """id, occurred_at, recorded_at, service, model, input_tokens, output_tokens, units,
            unit, cost_usd, app_user_id, idempotency_key, metadata"""
_USAGE = """sum(s.events)::bigint AS events, sum(s.input_tokens)::bigint AS input_tokens,
            sum(s.output_tokens)::bigint AS output_tokens, sum(s.units) AS units,
            sum(s.cost_usd) AS cost_usd"""
_ZERO = Decimal(0)
# The newest uuid: a keyset page without a cursor starts here.
_LAST_ID = "ffffffff-ffff-ffff-ffff-ffffffffffff"


async def insert_events(
    tx: Transaction,
    tenant_id: UUID,
    app_id: UUID,
    ids: Sequence[UUID],
    events: Sequence[NewCostEvent],
) -> list[CostEvent]:
    """Insert `events` (with `ids`) in one statement; an event whose idempotency key the app
    recorded before (or that repeats one earlier in `events`) is skipped. Returns the inserted
    ones, in no particular order."""
    try:
        rows = await tx.fetch_all(
            f"""INSERT INTO ai.cost_events
                    (tenant_id, app_id, id, occurred_at, service, model, input_tokens,
                     output_tokens, units, unit, cost_usd, app_user_id, idempotency_key,
                     metadata)
                SELECT %(tenant)s, %(app)s, r.id, coalesce(r.occurred_at, now()), r.service,
                       r.model, r.input_tokens, r.output_tokens, r.units, r.unit, r.cost_usd,
                       r.app_user_id, r.idempotency_key, r.metadata
                  FROM unnest(%(ids)s::uuid[], %(occurred_at)s::timestamptz[],
                              %(service)s::text[], %(model)s::text[],
                              %(input_tokens)s::bigint[], %(output_tokens)s::bigint[],
                              %(units)s::numeric[], %(unit)s::text[], %(cost_usd)s::numeric[],
                              %(app_user_id)s::uuid[], %(idempotency_key)s::text[],
                              %(metadata)s::jsonb[])
                       AS r(id, occurred_at, service, model, input_tokens, output_tokens, units,
                            unit, cost_usd, app_user_id, idempotency_key, metadata)
                 -- Keys in one order: two batches sharing keys wait for each other, never
                 -- for each other both at once (a deadlock).
                 ORDER BY r.idempotency_key
                ON CONFLICT (tenant_id, app_id, idempotency_key)
                   WHERE idempotency_key IS NOT NULL DO NOTHING
                RETURNING {_EVENT}""",
            {"tenant": tenant_id, "app": app_id, "ids": list(ids), **_columns(events)},
        )
    except psycopg.errors.ForeignKeyViolation as exc:
        # The one reference a caller names: the user the cost is attributed to.
        raise InvalidInput("app_user_id: no such user in this app") from exc
    return [CostEvent(**row) for row in rows]


def _columns(events: Sequence[NewCostEvent]) -> dict[str, list[Any]]:
    return {
        "occurred_at": [e.occurred_at for e in events],
        "service": [e.service for e in events],
        "model": [e.model for e in events],
        "input_tokens": [e.input_tokens for e in events],
        "output_tokens": [e.output_tokens for e in events],
        "units": [e.units for e in events],
        "unit": [e.unit for e in events],
        "cost_usd": [e.cost_usd for e in events],
        "app_user_id": [e.app_user_id for e in events],
        "idempotency_key": [e.idempotency_key for e in events],
        "metadata": [Jsonb(e.metadata) for e in events],
    }


async def events_by_keys(
    tx: Transaction, tenant_id: UUID, app_id: UUID, keys: Sequence[str]
) -> list[CostEvent]:
    rows = await tx.fetch_all(
        f"""SELECT {_EVENT} FROM ai.cost_events
             WHERE tenant_id = %s AND app_id = %s AND idempotency_key = ANY(%s::text[])""",
        [tenant_id, app_id, list(keys)],
    )
    return [CostEvent(**row) for row in rows]


async def events_page(
    tx: Transaction, tenant_id: UUID, app_id: UUID, before: UUID | None, limit: int
) -> list[CostEvent]:
    """The app's events, most recently recorded first (ids are uuid7), from before `before`."""
    rows = await tx.fetch_all(
        f"""SELECT {_EVENT} FROM ai.cost_events
             WHERE tenant_id = %s AND app_id = %s AND id < coalesce(%s::uuid, %s::uuid)
             ORDER BY id DESC LIMIT %s""",
        [tenant_id, app_id, before, _LAST_ID, limit],
    )
    return [CostEvent(**row) for row in rows]


async def app_summary(
    tx: Transaction,
    tenant_id: UUID,
    app_id: UUID,
    span: Range,
    *,
    by_service: bool,
    service: str | None,
) -> list[SummaryRow]:
    """One app's summaries, added up per period (and service)."""
    rows = await tx.fetch_all(
        f"""SELECT date_trunc(%(unit)s, s.day::timestamp)::date AS period, NULL::text AS app,
                   CASE WHEN %(by_service)s THEN s.service END AS service, {_USAGE}
              FROM ai.cost_daily_summaries s
             WHERE s.tenant_id = %(tenant)s AND s.app_id = %(app)s
               AND s.day BETWEEN %(since)s AND %(until)s
               AND (%(service)s::text IS NULL OR s.service = %(service)s)
             GROUP BY 1, 2, 3 ORDER BY 1, 2, 3""",
        {
            "unit": span.granularity,
            "by_service": by_service,
            "tenant": tenant_id,
            "app": app_id,
            "since": span.since,
            "until": span.until,
            "service": service,
        },
    )
    return [_summary_row(row) for row in rows]


async def tenant_summary(
    tx: Transaction,
    tenant_id: UUID,
    span: Range,
    *,
    by_app: bool,
    by_service: bool,
    service: str | None,
) -> list[SummaryRow]:
    """Every app's summaries of the tenant (a cross-app context), per period, app, service."""
    rows = await tx.fetch_all(
        f"""SELECT date_trunc(%(unit)s, s.day::timestamp)::date AS period,
                   CASE WHEN %(by_app)s THEN a.slug END AS app,
                   CASE WHEN %(by_service)s THEN s.service END AS service, {_USAGE}
              FROM ai.cost_daily_summaries s
              JOIN tenantry.apps a ON a.id = s.app_id
             WHERE s.tenant_id = %(tenant)s AND s.day BETWEEN %(since)s AND %(until)s
               AND (%(service)s::text IS NULL OR s.service = %(service)s)
             GROUP BY 1, 2, 3 ORDER BY 1, 2, 3""",
        {
            "unit": span.granularity,
            "by_app": by_app,
            "by_service": by_service,
            "tenant": tenant_id,
            "since": span.since,
            "until": span.until,
            "service": service,
        },
    )
    return [_summary_row(row) for row in rows]


def _summary_row(row: dict[str, Any]) -> SummaryRow:
    usage = Usage(
        row["events"], row["input_tokens"], row["output_tokens"], row["units"], row["cost_usd"]
    )
    return SummaryRow(row["period"], row["app"], row["service"], usage)


async def month_total(tx: Transaction, tenant_id: UUID, period: date) -> tuple[Decimal, int]:
    """What the tenant spent in the month starting `period`, and on how many events."""
    row = await tx.fetch_one(
        """SELECT cost_usd, events FROM ai.cost_monthly_totals
            WHERE tenant_id = %s AND period = %s""",
        [tenant_id, period],
    )
    if row is None:
        return _ZERO, 0
    return row["cost_usd"], row["events"]


async def month_totals(
    tx: Transaction, tenant_id: UUID, since: date, until: date
) -> list[tuple[date, Decimal]]:
    rows = await tx.fetch_all(
        """SELECT period, cost_usd FROM ai.cost_monthly_totals
            WHERE tenant_id = %s AND period BETWEEN %s AND %s ORDER BY period""",
        [tenant_id, since, until],
    )
    return [(row["period"], row["cost_usd"]) for row in rows]


async def thresholds(tx: Transaction, tenant_id: UUID) -> list[int]:
    """The tenant's own thresholds, lowest first (empty: it uses the defaults)."""
    rows = await tx.fetch_all(
        "SELECT percent FROM ai.budget_thresholds WHERE tenant_id = %s ORDER BY percent",
        [tenant_id],
    )
    return [row["percent"] for row in rows]


async def replace_thresholds(
    tx: Transaction, tenant_id: UUID, percents: Sequence[int], by: str
) -> None:
    await tx.execute(
        "DELETE FROM ai.budget_thresholds WHERE tenant_id = %s AND NOT percent = ANY(%s)",
        [tenant_id, list(percents)],
    )
    await tx.execute(
        """INSERT INTO ai.budget_thresholds (tenant_id, percent, updated_by)
           SELECT %s, p, %s FROM unnest(%s::smallint[]) p
           ON CONFLICT (tenant_id, percent) DO NOTHING""",
        [tenant_id, by, list(percents)],
    )


async def raise_alerts(
    tx: Transaction,
    tenant_id: UUID,
    periods: Sequence[date],
    budget: Decimal,
    default_thresholds: Sequence[int],
) -> list[BudgetAlert]:
    """An alert for each threshold that a month among `periods` has reached and that has none
    yet; the new ones are returned, so exactly one caller tells the administrators.

    Called after the insert whose trigger locked the months' totals: a concurrent recorder of
    the tenant waits for this transaction, then sees its alerts. The unique key (period,
    threshold) makes it exactly once even where that wait does not happen."""
    ids = [uuid7() for _ in range(len(periods) * MAX_THRESHOLDS)]
    rows = await tx.fetch_all(
        """WITH percents AS (
               SELECT p.percent
                 FROM unnest(coalesce(
                          (SELECT array_agg(b.percent) FROM ai.budget_thresholds b
                            WHERE b.tenant_id = %(tenant)s),
                          %(defaults)s::smallint[])) AS p(percent)
           ), reached AS (
               SELECT m.period, p.percent, m.cost_usd,
                      row_number() OVER (ORDER BY m.period, p.percent) AS n
                 FROM ai.cost_monthly_totals m CROSS JOIN percents p
                WHERE m.tenant_id = %(tenant)s AND m.period = ANY(%(periods)s::date[])
                  AND m.cost_usd > 0 AND m.cost_usd * 100 >= %(budget)s::numeric * p.percent
                  AND NOT EXISTS (
                      SELECT FROM ai.budget_alerts a
                       WHERE a.tenant_id = %(tenant)s AND a.period = m.period
                         AND a.threshold_percent = p.percent)
           )
           INSERT INTO ai.budget_alerts
                  (tenant_id, id, period, threshold_percent, spent_usd, budget_usd)
           -- More thresholds than the API allows (stored by hand) still get an id each.
           SELECT %(tenant)s, coalesce((%(ids)s::uuid[])[r.n], gen_random_uuid()), r.period,
                  r.percent, r.cost_usd, %(budget)s::numeric
             FROM reached r ORDER BY r.n
           ON CONFLICT (tenant_id, period, threshold_percent) DO NOTHING
           RETURNING id, period, threshold_percent, spent_usd, budget_usd, raised_at""",
        {
            "tenant": tenant_id,
            "defaults": list(default_thresholds),
            "periods": list(periods),
            "budget": budget,
            "ids": ids,
        },
    )
    return sorted(
        (BudgetAlert(**row) for row in rows), key=lambda a: (a.period, a.threshold_percent)
    )


async def alerts(tx: Transaction, tenant_id: UUID, period: date) -> list[BudgetAlert]:
    rows = await tx.fetch_all(
        """SELECT id, period, threshold_percent, spent_usd, budget_usd, raised_at
             FROM ai.budget_alerts WHERE tenant_id = %s AND period = %s
            ORDER BY threshold_percent""",
        [tenant_id, period],
    )
    return [BudgetAlert(**row) for row in rows]


async def recent_alerts(tx: Transaction, tenant_id: UUID, limit: int) -> list[BudgetAlert]:
    rows = await tx.fetch_all(
        """SELECT id, period, threshold_percent, spent_usd, budget_usd, raised_at
             FROM ai.budget_alerts WHERE tenant_id = %s
            ORDER BY period DESC, threshold_percent DESC LIMIT %s""",
        [tenant_id, limit],
    )
    return [BudgetAlert(**row) for row in rows]
