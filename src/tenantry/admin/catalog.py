"""The platform's catalog: its apps, and every table's row-level security with the live audit."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from tenantry.admin.auth import AdminDep
from tenantry.admin.overview import ConsoleDep
from tenantry.admin.rendering import render

router = APIRouter()


@router.get("/apps", response_class=HTMLResponse)
async def apps(request: Request, admin: AdminDep, console: ConsoleDep) -> HTMLResponse:
    return render(request, "apps.html", admin, apps=await console.apps())


@router.get("/policies", response_class=HTMLResponse)
async def policies(request: Request, admin: AdminDep, console: ConsoleDep) -> HTMLResponse:
    tables = await console.policy_tables()
    findings = await console.findings()
    flagged = {f.object.split(" ")[0] for f in findings}
    return render(
        request, "policies.html", admin, tables=tables, findings=findings, flagged=flagged
    )
