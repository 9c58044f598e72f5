"""One tenant's secrets in the admin UI: each app's secrets (name, versions, status, last
rotation), the access log a page at a time, and which master key wraps each data key (the
progress of `tenantry secrets rotate-master`). Never a value: the page has no way to read one."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from tenantry.admin.auth import AdminDep
from tenantry.admin.rendering import render
from tenantry.kit.errors import NotFound
from tenantry.services import ServicesDep

router = APIRouter()
PAGE = 50


@router.get("/tenants/{slug}/secrets", response_class=HTMLResponse)
async def secrets(
    request: Request,
    slug: str,
    admin: AdminDep,
    services: ServicesDep,
    before: Annotated[UUID | None, Query()] = None,
) -> HTMLResponse:
    tenant = await services.tenants.by_slug(slug)
    if tenant is None:
        raise NotFound(f"no tenant {slug!r}")
    entries = await services.secrets.access_log(tenant.id, before=before, limit=PAGE + 1)
    slugs = services.apps.slugs_by_id
    return render(
        request,
        "secrets.html",
        admin,
        200,
        slug=slug,
        secrets=await services.secrets.of_tenant(tenant.id),
        entries=entries[:PAGE],
        next_before=entries[PAGE - 1].id if len(entries) > PAGE else None,
        data_keys=await services.secrets.data_keys(tenant.id),
        current_master=services.secrets.box.kek.current_id,
        app_slug=lambda app_id: slugs.get(app_id, str(app_id)),
    )
