"""The platform's catalog: its apps with their published versions and manifests, and every
table's row-level security with the live audit."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse

from tenantry.admin.auth import AdminDep
from tenantry.admin.overview import ConsoleDep
from tenantry.admin.rendering import render
from tenantry.services import ServicesDep

router = APIRouter()


@router.get("/apps", response_class=HTMLResponse)
async def apps(request: Request, admin: AdminDep, console: ConsoleDep) -> HTMLResponse:
    return render(request, "apps.html", admin, apps=await console.apps())


@router.get("/apps/{slug}", response_class=HTMLResponse)
async def app_versions(
    request: Request,
    admin: AdminDep,
    services: ServicesDep,
    slug: Annotated[str, Path(max_length=40)],
) -> HTMLResponse:
    return await _app_page(request, admin, services, slug, None)


@router.get("/apps/{slug}/versions/{version}", response_class=HTMLResponse)
async def app_version(
    request: Request,
    admin: AdminDep,
    services: ServicesDep,
    slug: Annotated[str, Path(max_length=40)],
    version: Annotated[str, Path(max_length=100)],
) -> HTMLResponse:
    return await _app_page(request, admin, services, slug, version)


async def _app_page(
    request: Request, admin: AdminDep, services: ServicesDep, slug: str, version: str | None
) -> HTMLResponse:
    """An app's versions, and one version's manifest (the latest unless named) with its hash."""
    app = await services.registry.app(slug)
    versions = await services.registry.versions(slug)
    shown = await services.registry.version(slug, version) if versions else None
    return render(
        request,
        "app.html",
        admin,
        app=app,
        versions=versions,
        shown=shown,
        manifest=json.dumps(shown.manifest, indent=2, sort_keys=True) if shown else "",
        routes=await services.registry.routes(slug, shown.version) if shown else [],
    )


@router.get("/policies", response_class=HTMLResponse)
async def policies(request: Request, admin: AdminDep, console: ConsoleDep) -> HTMLResponse:
    tables = await console.policy_tables()
    findings = await console.findings()
    flagged = {f.object.split(" ")[0] for f in findings}
    return render(
        request, "policies.html", admin, tables=tables, findings=findings, flagged=flagged
    )
