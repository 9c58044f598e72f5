"""Impersonation from the admin UI: start one with a reason, see what you started, end it."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from tenantry.admin.auth import AdminDep, AdminPost
from tenantry.admin.rendering import back, render
from tenantry.admin.session import Admin
from tenantry.http.auth import origin
from tenantry.identity.acting import ImpersonationRequest
from tenantry.kit.errors import TenantryError
from tenantry.services import Services, ServicesDep

router = APIRouter()
EMPTY_FORM = {"tenant": "", "app": "", "email": "", "reason": "", "minutes": 15, "writable": False}


async def _page(
    request: Request, services: Services, admin: Admin, status_code: int = 200, **context: object
) -> HTMLResponse:
    started = await services.acting.started_by(admin.principal)
    context.setdefault("form", EMPTY_FORM)
    return render(request, "impersonations.html", admin, status_code, started=started, **context)


@router.get("/impersonations", response_class=HTMLResponse)
async def impersonations(request: Request, admin: AdminDep, services: ServicesDep) -> HTMLResponse:
    return await _page(request, services, admin)


@router.post("/impersonations", response_class=HTMLResponse)
async def start(
    request: Request,
    admin: AdminPost,
    services: ServicesDep,
    tenant: Annotated[str, Form(max_length=63)],
    app: Annotated[str, Form(max_length=40)],
    email: Annotated[str, Form(max_length=320)],
    reason: Annotated[str, Form(min_length=1, max_length=1000)],
    minutes: Annotated[int, Form(ge=1, le=480)] = 15,
    writable: Annotated[bool, Form()] = False,
) -> HTMLResponse:
    form = {
        "tenant": tenant,
        "app": app,
        "email": email,
        "reason": reason,
        "minutes": minutes,
        "writable": writable,
    }
    try:
        token, _ = await services.acting.impersonate(
            admin.principal,
            ImpersonationRequest(
                tenant_slug=tenant,
                app=services.apps.by_slug(app),
                email=email,
                reason=reason,
                read_only=not writable,
                minutes=minutes,
            ),
            origin(request),
        )
    except TenantryError as exc:
        return await _page(request, services, admin, exc.status, form=form, error=exc.message)
    # The banner reads what is running: fetch the administrator's state again.
    refreshed = Admin(
        admin.principal,
        admin.session_id,
        admin.email,
        admin.csrf,
        tuple(i for i in await services.acting.started_by(admin.principal) if i.active),
    )
    return await _page(request, services, refreshed, 201, token=token.access_token, started_app=app)


@router.post("/impersonations/{grant_id}/end", response_model=None)
async def end(
    request: Request,
    grant_id: UUID,
    admin: AdminPost,
    services: ServicesDep,
    tenant: Annotated[str, Form(max_length=63)],
) -> Response:
    await services.acting.end_impersonation(admin.principal, grant_id, tenant, origin(request))
    return back("/admin/impersonations", "impersonation ended")
