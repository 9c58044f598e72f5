"""The dashboard: tenants by status, security events per day, database health, recent events."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from tenantry.admin.auth import AdminDep
from tenantry.admin.overview import ConsoleDep
from tenantry.admin.rendering import render
from tenantry.services import ServicesDep

router = APIRouter()


@router.get("", response_class=HTMLResponse)
async def dashboard(
    request: Request, admin: AdminDep, services: ServicesDep, console: ConsoleDep
) -> HTMLResponse:
    figures = await console.figures()
    recent = await services.events.search_every_tenant(limit=8)
    open_alerts = await services.alerts.open_count_every_tenant()
    return render(
        request,
        "dashboard.html",
        admin,
        by_status=figures.by_status,
        per_day=figures.per_day,
        recent=recent,
        health=figures.health,
        open_alerts=open_alerts,
    )
