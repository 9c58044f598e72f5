"""One tenant's delegations: who lets whom act for them, until when, and a revoke button for
each running one (the tenant's security events record the platform administrator who did)."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from tenantry.admin.auth import AdminDep, AdminPost
from tenantry.admin.rendering import back, render
from tenantry.http.auth import origin
from tenantry.services import ServicesDep

router = APIRouter()


@router.get("/tenants/{slug}/delegations", response_class=HTMLResponse)
async def delegations(
    request: Request, slug: str, admin: AdminDep, services: ServicesDep
) -> HTMLResponse:
    found = await services.acting.tenant_delegations(admin.principal, slug)
    return render(
        request,
        "delegations.html",
        admin,
        slug=slug,
        delegations=found,
        apps={a.id: a.slug for a in services.apps.all()},
    )


@router.post("/tenants/{slug}/delegations/{grant_id}/revoke", response_model=None)
async def revoke(
    request: Request, slug: str, grant_id: UUID, admin: AdminPost, services: ServicesDep
) -> Response:
    await services.acting.revoke_tenant_delegation(admin.principal, slug, grant_id, origin(request))
    return back(f"/admin/tenants/{slug}/delegations", "delegation revoked")
