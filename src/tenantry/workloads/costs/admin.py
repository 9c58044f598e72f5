"""The operators' AI cost page of a tenant (`/admin/tenants/{slug}/ai-costs`): daily cost per
app and service over the last 30 days, monthly totals over the last 12 months, this month's
budget status with its thresholds, and the latest budget alerts.

It reads the tenant's costs in a read-only cross-app context of the tenant, as the tenant's own
administrators would, so row-level security holds the page to that tenant.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from tenantry.library import Database, TenantContext, database
from tenantry.library.admin import AdminTemplates, Operator, admin_tenant
from tenantry.workloads.costs import charts, service

router = APIRouter(include_in_schema=False)
PAGES = AdminTemplates(Path(__file__).parent / "templates")


@router.get("/admin/tenants/{slug}/ai-costs", response_class=HTMLResponse)
async def ai_costs(
    request: Request,
    slug: str,
    operator: Operator,
    db: Annotated[Database, Depends(database)],
) -> HTMLResponse:
    tenant = await admin_tenant(request, slug)
    today = datetime.now(UTC).date()
    context = TenantContext(tenant.id, cross_app=True, read_only=True)
    async with db.tenant_transaction(context) as tx:
        seen = await service.overview(tx, tenant.id, today)
    return PAGES.render(
        request,
        "ai_costs.html",
        operator,
        slug=slug,
        overview=seen,
        daily=charts.daily_by_series(seen.days.rows, seen.days.range.since, today),
        monthly=charts.monthly(seen.month_totals, seen.months),
        lines=charts.breakdown(seen.days.rows),
        budget=seen.budget,
    )
