"""Alerts raised by rules over security events: tenant administrators read, acknowledge and
resolve their own tenant's (row-level security holds them to it), platform administrators read every
tenant's."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Path, Query, Response
from pydantic import BaseModel

from tenantry.http.auth import PlatformAdmin, ReadsAudit, resolve_route_app
from tenantry.http.platform import platform_router
from tenantry.kit.problems import PROBLEM_RESPONSES
from tenantry.services import ServicesDep

if TYPE_CHECKING:
    from tenantry.alerts.models import Alert

router = APIRouter(
    prefix="/v1/apps/{app}",
    tags=["alerts"],
    responses=PROBLEM_RESPONSES,
    dependencies=[Depends(resolve_route_app)],
)
platform = platform_router("alerts")


class AlertOut(BaseModel):
    id: UUID
    tenant: str
    rule: str
    title: str
    source: str
    severity: str
    occurrences: int
    threshold: int
    last_kind: str
    window_start: datetime
    first_event_at: datetime
    last_event_at: datetime
    raised_at: datetime
    status: str
    acknowledged_by: str | None
    acknowledged_at: datetime | None
    resolved_by: str | None
    resolved_at: datetime | None


class AlertPage(BaseModel):
    items: list[AlertOut]
    # Pass as `before` for the next (older) page; null on the last page.
    next_before: UUID | None


class Filters(BaseModel):
    status: str | None
    rule: str | None
    since: datetime | None
    before_id: UUID | None
    limit: int


def filters(
    status: Literal["open", "acknowledged", "resolved"] | None = None,
    rule: Annotated[str | None, Query(pattern=r"^[a-z][a-z0-9_]{0,62}$")] = None,
    since: datetime | None = None,
    before: Annotated[
        UUID | None, Query(description="Cursor: the next_before of the previous page.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> Filters:
    return Filters(status=status, rule=rule, since=since, before_id=before, limit=limit)


FiltersDep = Annotated[Filters, Depends(filters)]


def _page(alerts: list[Alert], limit: int) -> AlertPage:
    items = [
        AlertOut(
            id=a.id,
            tenant=a.tenant_slug,
            rule=a.rule,
            title=a.title,
            source=a.source,
            severity=a.severity,
            occurrences=a.occurrences,
            threshold=a.threshold,
            last_kind=a.last_kind,
            window_start=a.window_start,
            first_event_at=a.first_event_at,
            last_event_at=a.last_event_at,
            raised_at=a.raised_at,
            status=a.status,
            acknowledged_by=a.acknowledged_by,
            acknowledged_at=a.acknowledged_at,
            resolved_by=a.resolved_by,
            resolved_at=a.resolved_at,
        )
        for a in alerts
    ]
    return AlertPage(items=items, next_before=items[-1].id if len(items) == limit else None)


@router.get("/alerts", response_model=AlertPage)
async def tenant_alerts(
    principal: ReadsAudit, services: ServicesDep, query: FiltersDep
) -> AlertPage:
    """The tenant's alerts, newest first, filtered by status, rule and time, in keyset pages."""
    alerts = await services.alerts.search(principal.tenant_id, **query.model_dump())
    return _page(alerts, query.limit)


@router.post("/alerts/{alert_id}/acknowledge", status_code=204)
async def acknowledge_alert(
    alert_id: Annotated[UUID, Path()], principal: ReadsAudit, services: ServicesDep
) -> Response:
    """Mark an alert seen (who and when are kept); acknowledging again changes nothing."""
    await services.alerts.acknowledge(
        principal.tenant_id,
        alert_id,
        by=principal.actor,
        read_only=principal.context.read_only,
    )
    return Response(status_code=204)


@router.post("/alerts/{alert_id}/resolve", status_code=204)
async def resolve_alert(
    alert_id: Annotated[UUID, Path()], principal: ReadsAudit, services: ServicesDep
) -> Response:
    """Close an alert, open or acknowledged (who and when are kept); resolving again changes
    nothing. A new burst from the same source afterwards raises a new alert."""
    await services.alerts.resolve(
        principal.tenant_id,
        alert_id,
        by=principal.actor,
        read_only=principal.context.read_only,
    )
    return Response(status_code=204)


@platform.get("/alerts", response_model=AlertPage)
async def platform_alerts(
    principal: PlatformAdmin, services: ServicesDep, query: FiltersDep
) -> AlertPage:
    """Every tenant's alerts, for platform administrators."""
    alerts = await services.alerts.search_every_tenant(**query.model_dump())
    return _page(alerts, query.limit)
