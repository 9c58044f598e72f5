"""The costs API: an app's integration records priced usage and reads its app's analytics;
tenant administrators read every app's costs and the budget status, and choose the alert
thresholds.

- `POST /v1/apps/{app}/costs/events` (and `/events/batch`, up to 1,000 at once): recording is an
  integration's action, e.g. the app's backend with an API token holding `profile`. An
  idempotency key makes a retry count once (the earlier event answers, 200, `replayed`).
- `GET /v1/apps/{app}/costs/events`, `GET /v1/apps/{app}/costs/summary`: the app's own events
  and its costs by day, week or month, by service.
- `GET /v1/apps/admin/costs/tenant-summary`, `GET /v1/apps/admin/costs/budget` (privilege
  `costs.read`): every app of the tenant, in a read-only cross-app context.
- `PUT /v1/apps/admin/costs/budget/thresholds` (privilege `costs.manage`).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal
from uuid import UUID  # noqa: TC003 - FastAPI reads the annotations at run time

from fastapi import APIRouter, Depends, Query, Response

from tenantry.library import Database, InvalidInput, Scope, Scoped, TenantTransaction, database
from tenantry.library.cross_app import CrossAppRead, PrivilegedTransaction
from tenantry.library.http import PROBLEM_RESPONSES, resolve_route_app
from tenantry.workloads.costs import service
from tenantry.workloads.costs.models import Granularity, Range
from tenantry.workloads.costs.schemas import (
    SERVICE_PATTERN,
    BatchOut,
    BudgetOut,
    CostEventBatchIn,
    CostEventIn,
    CostEventOut,
    CostEventPage,
    RecordedOut,
    SummaryOut,
    ThresholdsIn,
)

router = APIRouter(
    prefix="/v1/apps/{app}/costs",
    tags=["costs"],
    responses=PROBLEM_RESPONSES,
    dependencies=[Depends(resolve_route_app)],
)

Recorder = Annotated[Scoped, TenantTransaction(Scope.PROFILE)]
AppReader = Annotated[Scoped, TenantTransaction(Scope.PROFILE, read_only=True)]
TenantReader = Annotated[Scoped, CrossAppRead("costs.read")]
BudgetManager = Annotated[Scoped, PrivilegedTransaction("costs.manage")]
Db = Annotated[Database, Depends(database)]

GranularityQuery = Annotated[Granularity, Query(description="The period each row adds up.")]
Since = Annotated[
    date | None,
    Query(description="First day (UTC), moved back to the start of its week or month."),
]
Until = Annotated[date | None, Query(description="Last day (UTC), included; today if left out.")]
ServiceFilter = Annotated[str | None, Query(pattern=SERVICE_PATTERN)]


@router.post(
    "/events",
    status_code=201,
    responses={200: {"model": RecordedOut, "description": "Recorded before (idempotency key)"}},
)
async def record_event(
    body: CostEventIn, scoped: Recorder, db: Db, response: Response
) -> RecordedOut:
    principal = scoped.principal
    [recorded] = await service.record(
        db, scoped.tx, principal.tenant_id, principal.app_id, [body.new()]
    )
    if recorded.replayed:
        response.status_code = 200
    return RecordedOut.of_recorded(recorded)


@router.post("/events/batch", status_code=201)
async def record_events(body: CostEventBatchIn, scoped: Recorder, db: Db) -> BatchOut:
    principal = scoped.principal
    results = await service.record(
        db, scoped.tx, principal.tenant_id, principal.app_id, [e.new() for e in body.events]
    )
    replayed = sum(r.replayed for r in results)
    return BatchOut(
        recorded=len(results) - replayed, replayed=replayed, ids=[r.event.id for r in results]
    )


@router.get("/events")
async def list_events(
    scoped: AppReader,
    before: Annotated[
        UUID | None, Query(description="The next_before of the previous page.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> CostEventPage:
    principal = scoped.principal
    found = await service.events_page(
        scoped.tx, principal.tenant_id, principal.app_id, before, limit + 1
    )
    return CostEventPage(
        items=[CostEventOut.of(e) for e in found[:limit]],
        next_before=found[limit - 1].id if len(found) > limit else None,
    )


@router.get("/summary")
async def app_summary(
    scoped: AppReader,
    granularity: GranularityQuery = "day",
    since: Since = None,
    until: Until = None,
    group: Literal["none", "service"] = "service",
    service_name: Annotated[ServiceFilter, Query(alias="service")] = None,
) -> SummaryOut:
    principal = scoped.principal
    summary = await service.app_summary(
        scoped.tx,
        principal.tenant_id,
        principal.app_id,
        Range.of(granularity, since, until),
        by_service=group == "service",
        service=service_name,
    )
    return SummaryOut.of(summary)


@router.get("/tenant-summary")
async def tenant_summary(
    scoped: TenantReader,
    granularity: GranularityQuery = "day",
    since: Since = None,
    until: Until = None,
    group: Literal["none", "app", "service", "app_and_service"] = "app",
    service_name: Annotated[ServiceFilter, Query(alias="service")] = None,
) -> SummaryOut:
    summary = await service.tenant_summary(
        scoped.tx,
        scoped.principal.tenant_id,
        Range.of(granularity, since, until),
        by_app="app" in group,
        by_service="service" in group,
        service=service_name,
    )
    return SummaryOut.of(summary)


@router.get("/budget")
async def budget(
    scoped: TenantReader,
    period: Annotated[
        str | None,
        Query(
            pattern=r"^[0-9]{4}-(0[1-9]|1[0-2])$", description="YYYY-MM; this month if left out."
        ),
    ] = None,
) -> BudgetOut:
    month = service.this_month() if period is None else _month(period)
    return BudgetOut.of(await service.budget_status(scoped.tx, scoped.principal.tenant_id, month))


def _month(period: str) -> date:
    year, month = (int(part) for part in period.split("-"))
    if not 2000 <= year <= 2999:  # noqa: PLR2004 - the years a ledger can hold
        raise InvalidInput("period: a year between 2000 and 2999")
    return date(year, month, 1)


@router.put("/budget/thresholds")
async def set_thresholds(body: ThresholdsIn, scoped: BudgetManager, db: Db) -> BudgetOut:
    tenant_id = scoped.principal.tenant_id
    await service.set_thresholds(
        db, scoped.tx, tenant_id, body.percents, by=str(scoped.principal.actor)
    )
    return BudgetOut.of(await service.budget_status(scoped.tx, tenant_id, service.this_month()))
