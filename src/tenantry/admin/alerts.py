"""Alerts of every tenant: the filtered list, and acknowledging or resolving one (CSRF-checked
forms)."""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from tenantry.admin.auth import AdminDep, AdminPost
from tenantry.admin.rendering import PAGE, back, render
from tenantry.alerts.models import RULES, STATUSES
from tenantry.kit.errors import NotFound
from tenantry.kit.ids import uuid7
from tenantry.services import ServicesDep

router = APIRouter()


@router.get("/alerts", response_class=HTMLResponse)
async def alerts(
    request: Request,
    admin: AdminDep,
    services: ServicesDep,
    tenant: Annotated[str, Query(max_length=63)] = "",
    status: Annotated[str, Query(max_length=20)] = "open",
    rule: Annotated[str, Query(max_length=63)] = "",
    before: UUID | None = None,
) -> HTMLResponse:
    status = status if status in STATUSES else ""
    rule = rule if any(r.key == rule for r in RULES) else ""
    tenant_id = None
    if tenant:
        known = await services.tenants.by_slug(tenant)
        tenant_id = known.id if known else uuid7()  # an unknown tenant matches nothing
    found = await services.alerts.search_every_tenant(
        tenant_id=tenant_id,
        status=status or None,
        rule=rule or None,
        before_id=before,
        limit=PAGE + 1,
    )
    listed = found[:PAGE]
    return render(
        request,
        "alerts.html",
        admin,
        alerts=listed,
        older=listed[-1].id if len(found) > PAGE else None,
        rules=RULES,
        statuses=STATUSES,
        filters={"tenant": tenant, "status": status, "rule": rule},
    )


@router.post("/alerts/{alert_id}/acknowledge", response_model=None)
async def acknowledge(
    alert_id: UUID,
    admin: AdminPost,
    services: ServicesDep,
    tenant: Annotated[str, Form(max_length=63)],
    status: Annotated[Literal["open", "acknowledged", "resolved", ""], Form()] = "open",
) -> RedirectResponse:
    found = await services.tenants.by_slug(tenant)
    if found is None:
        raise NotFound("no such alert")
    await services.alerts.acknowledge(found.id, alert_id, by=admin.principal.actor)
    return back("/admin/alerts", "alert acknowledged", status=status)


@router.post("/alerts/{alert_id}/resolve", response_model=None)
async def resolve(
    alert_id: UUID,
    admin: AdminPost,
    services: ServicesDep,
    tenant: Annotated[str, Form(max_length=63)],
    status: Annotated[Literal["open", "acknowledged", "resolved", ""], Form()] = "open",
) -> RedirectResponse:
    found = await services.tenants.by_slug(tenant)
    if found is None:
        raise NotFound("no such alert")
    await services.alerts.resolve(found.id, alert_id, by=admin.principal.actor)
    return back("/admin/alerts", "alert resolved", status=status)
