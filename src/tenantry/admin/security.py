"""Security events of every tenant: the filtered list and one event's detail."""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from tenantry.admin.auth import AdminDep
from tenantry.admin.overview import ConsoleDep
from tenantry.admin.rendering import PAGE, render
from tenantry.kit.errors import NotFound
from tenantry.services import Services, ServicesDep

if TYPE_CHECKING:
    from tenantry.security_events.models import SecurityEvent

router = APIRouter()


def _when(value: str) -> datetime | None:
    """A filter's time as typed; unreadable text filters nothing."""
    try:
        return datetime.fromisoformat(value) if value else None
    except ValueError:
        return None


async def _search(
    services: Services,
    *,
    tenant: str,
    app: str,
    kind: str,
    since: str,
    until: str,
    limit: int,
    offset: int,
) -> list[SecurityEvent]:
    """The events matching the page's filters; a tenant or app that does not exist (apps
    retired from the catalog included) matches nothing."""
    tenant_id = app_id = None
    if tenant:
        found = await services.tenants.by_slug(tenant)
        if found is None:
            return []
        tenant_id = found.id
    if app:
        app_id = next((a.id for a in services.apps.all() if a.slug == app), None)
        if app_id is None:
            return []
    return await services.events.search_every_tenant(
        tenant_id=tenant_id,
        app_id=app_id,
        kind=kind or None,
        since=_when(since),
        until=_when(until),
        limit=limit,
        offset=offset,
    )


@router.get("/security-events", response_class=HTMLResponse)
async def security_events(
    request: Request,
    admin: AdminDep,
    services: ServicesDep,
    console: ConsoleDep,
    tenant: Annotated[str, Query(max_length=63)] = "",
    app: Annotated[str, Query(max_length=40)] = "",
    kind: Annotated[str, Query(max_length=64)] = "",
    since: Annotated[str, Query(max_length=40)] = "",
    until: Annotated[str, Query(max_length=40)] = "",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> HTMLResponse:
    # One more than a page tells whether there is an older page.
    events = await _search(
        services,
        tenant=tenant,
        app=app,
        kind=kind,
        since=since,
        until=until,
        limit=PAGE + 1,
        offset=(page - 1) * PAGE,
    )
    return render(
        request,
        "events.html",
        admin,
        events=events[:PAGE],
        more=len(events) > PAGE,
        page=page,
        kinds=await console.event_kinds(),
        filters={"tenant": tenant, "app": app, "kind": kind, "since": since, "until": until},
    )


@router.get("/security-events/{event_id}", response_class=HTMLResponse)
async def security_event(
    request: Request, event_id: UUID, admin: AdminDep, console: ConsoleDep
) -> HTMLResponse:
    found = await console.event(event_id)
    if found is None:
        raise NotFound("no such event")
    return render(
        request, "event.html", admin, event=found, detail=json.dumps(found["detail"], indent=2)
    )
