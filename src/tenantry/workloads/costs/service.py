"""The costs area's use cases: recording cost events (with the budget check), reading them
back, summaries per app and across a tenant's apps, budget status and thresholds.

Each runs in the caller's transaction (a route's `TenantTransaction`, or one the caller opens
in a signed context), so an event, its rollups and any alert it raises commit together.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from tenantry.library import InvalidInput, uuid7
from tenantry.library.settings import tenant_setting
from tenantry.workloads.costs import budgets, repository
from tenantry.workloads.costs.models import (
    DEFAULT_PERIODS,
    DEFAULT_THRESHOLDS,
    MAX_AGE,
    MAX_SKEW,
    BudgetAlert,
    BudgetStatus,
    Overview,
    Range,
    Recorded,
    Summary,
    Usage,
    add_months,
    month_of,
)

if TYPE_CHECKING:
    from collections.abc import Sequence
    from uuid import UUID

    from tenantry.library import Database, Transaction
    from tenantry.workloads.costs.models import CostEvent, NewCostEvent, SummaryRow

BUDGET_SETTING = "ai_monthly_budget_usd"


async def record(
    db: Database,
    tx: Transaction,
    tenant_id: UUID,
    app_id: UUID,
    events: Sequence[NewCostEvent],
) -> list[Recorded]:
    """Record `events` for the app, in order; an idempotency key recorded before answers with
    that earlier event (`replayed`) and counts nothing again. Then the months they fall in are
    checked against the tenant's budget, in the same transaction."""
    _check_times(events)
    # Read before the insert: from the insert on, this transaction holds its months' totals,
    # and every other recorder of the tenant waits for it to end.
    budget = await _budget(tx, tenant_id)
    ids = [uuid7() for _ in events]
    inserted = {e.id: e for e in await repository.insert_events(tx, tenant_id, app_id, ids, events)}
    # Only an event with a key can be skipped: its key names the earlier event.
    keys = [
        e.idempotency_key
        for i, e in zip(ids, events, strict=True)
        if i not in inserted and e.idempotency_key is not None
    ]
    earlier = {
        e.idempotency_key: e
        for e in (await repository.events_by_keys(tx, tenant_id, app_id, keys) if keys else [])
    }
    results = []
    for event_id, event in zip(ids, events, strict=True):
        if event_id in inserted:
            results.append(Recorded(inserted[event_id], replayed=False))
        else:
            results.append(Recorded(earlier[str(event.idempotency_key)], replayed=True))
    if inserted and budget is not None:
        months = {month_of(e.occurred_at.astimezone(UTC).date()) for e in inserted.values()}
        await _raise_alerts(db, tx, tenant_id, sorted(months), budget)
    return results


def _check_times(events: Sequence[NewCostEvent]) -> None:
    now = datetime.now(UTC)
    for index, event in enumerate(events):
        at = event.occurred_at
        if at is None:
            continue
        if at.tzinfo is None:
            raise InvalidInput(f"events[{index}].occurred_at: give a time zone (e.g. Z)")
        if at < now - MAX_AGE:
            raise InvalidInput(f"events[{index}].occurred_at: more than {MAX_AGE.days} days ago")
        if at > now + MAX_SKEW:
            raise InvalidInput(f"events[{index}].occurred_at: in the future")


async def check_budget(
    db: Database, tx: Transaction, tenant_id: UUID, months: Sequence[date]
) -> list[BudgetAlert]:
    """Raise (once) each alert the months' spending has reached, and tell the administrators."""
    budget = await _budget(tx, tenant_id)
    if budget is None:
        return []
    return await _raise_alerts(db, tx, tenant_id, months, budget)


async def _budget(tx: Transaction, tenant_id: UUID) -> Decimal | None:
    budget = await tenant_setting(tx, tenant_id, BUDGET_SETTING)
    return None if budget is None else Decimal(str(budget))


async def _raise_alerts(
    db: Database, tx: Transaction, tenant_id: UUID, months: Sequence[date], budget: Decimal
) -> list[BudgetAlert]:
    raised = await repository.raise_alerts(tx, tenant_id, months, budget, DEFAULT_THRESHOLDS)
    for alert in raised:
        await budgets.tell_administrators(db, tx, tenant_id, alert)
    return raised


async def events_page(
    tx: Transaction, tenant_id: UUID, app_id: UUID, before: UUID | None, limit: int
) -> list[CostEvent]:
    return await repository.events_page(tx, tenant_id, app_id, before, limit)


async def app_summary(
    tx: Transaction,
    tenant_id: UUID,
    app_id: UUID,
    span: Range,
    *,
    by_service: bool,
    service: str | None = None,
) -> Summary:
    rows = await repository.app_summary(
        tx, tenant_id, app_id, span, by_service=by_service, service=service
    )
    return Summary(span, "service" if by_service else "none", rows, _total(rows))


async def tenant_summary(
    tx: Transaction,
    tenant_id: UUID,
    span: Range,
    *,
    by_app: bool,
    by_service: bool,
    service: str | None = None,
) -> Summary:
    """Every app of the tenant: `tx` must be a cross-app context (a tenant administrator's,
    or an operator's), else it sees one app's rows."""
    rows = await repository.tenant_summary(
        tx, tenant_id, span, by_app=by_app, by_service=by_service, service=service
    )
    group = "_and_".join(g for g, on in (("app", by_app), ("service", by_service)) if on)
    return Summary(span, group or "none", rows, _total(rows))


def _total(rows: Sequence[SummaryRow]) -> Usage:
    return Usage(
        sum(r.usage.events for r in rows),
        sum(r.usage.input_tokens for r in rows),
        sum(r.usage.output_tokens for r in rows),
        sum((r.usage.units for r in rows), Decimal(0)),
        sum((r.usage.cost_usd for r in rows), Decimal(0)),
    )


async def budget_status(tx: Transaction, tenant_id: UUID, period: date) -> BudgetStatus:
    """The month's spending against the budget, the thresholds and the alerts raised."""
    budget = await _budget(tx, tenant_id)
    spent, events = await repository.month_total(tx, tenant_id, period)
    own = await repository.thresholds(tx, tenant_id)
    return BudgetStatus(
        period=period,
        budget_usd=budget,
        spent_usd=spent,
        events=events,
        thresholds=tuple(own) or DEFAULT_THRESHOLDS,
        alerts=await repository.alerts(tx, tenant_id, period),
    )


async def set_thresholds(
    db: Database, tx: Transaction, tenant_id: UUID, percents: Sequence[int], *, by: str
) -> None:
    """The tenant's alert thresholds from now on; a new threshold this month's spending has
    already reached raises its alert at once."""
    await repository.replace_thresholds(tx, tenant_id, sorted(set(percents)), by)
    await check_budget(db, tx, tenant_id, [this_month()])


def this_month() -> date:
    return month_of(datetime.now(UTC).date())


async def overview(tx: Transaction, tenant_id: UUID, today: date) -> Overview:
    """What the operators' AI cost page shows of a tenant: `tx` must be a cross-app context
    of the tenant. The last 30 days per app and service, the last 12 months, this month's
    budget status and the latest alerts."""
    days = await tenant_summary(
        tx, tenant_id, Range.of("day", None, today), by_app=True, by_service=True
    )
    months = Range.of("month", None, today)
    return Overview(
        days=days,
        months=[add_months(months.since, i) for i in range(DEFAULT_PERIODS["month"])],
        month_totals=await repository.month_totals(tx, tenant_id, months.since, months.until),
        budget=await budget_status(tx, tenant_id, month_of(today)),
        alerts=await repository.recent_alerts(tx, tenant_id, 20),
    )
