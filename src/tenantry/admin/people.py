"""Cross-app users: one person's separate identities across the apps of a tenant."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from tenantry.admin.auth import AdminDep
from tenantry.admin.overview import ConsoleDep
from tenantry.admin.rendering import render
from tenantry.services import ServicesDep

if TYPE_CHECKING:
    from tenantry.identity.models import AppIdentity

router = APIRouter()


@router.get("/people", response_class=HTMLResponse)
async def people(
    request: Request,
    admin: AdminDep,
    services: ServicesDep,
    console: ConsoleDep,
    tenant: Annotated[str, Query(max_length=63)] = "",
    email: Annotated[str, Query(max_length=320)] = "",
) -> HTMLResponse:
    identities: list[AppIdentity] = []
    error = ""
    if tenant and email:
        found = await services.tenants.by_slug(tenant)
        if found is None:
            error = f"no tenant {tenant!r}"
        else:
            identities = await console.identities(found.id, email)
    return render(
        request,
        "people.html",
        admin,
        tenant=tenant,
        email=email,
        identities=identities,
        error=error,
    )
