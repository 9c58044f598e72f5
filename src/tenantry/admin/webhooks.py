"""One tenant's webhook endpoints and their health (success rate, last status, failing since,
why disabled), each endpoint's delivery log, and the actions an operator needs: send a test
event, enable a disabled endpoint, disable one with a reason. Never a signing secret: those are
shown once, to the tenant's administrator who creates or rotates them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated
from uuid import UUID

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from tenantry.admin.auth import AdminDep, AdminPost
from tenantry.admin.rendering import back, changes_on, render
from tenantry.kit.errors import NotFound, TenantryError
from tenantry.services import Services, ServicesDep

if TYPE_CHECKING:
    from tenantry.admin.session import Admin

router = APIRouter()
LOG = 50


async def _tenant_id(services: Services, slug: str) -> UUID:
    tenant = await services.tenants.by_slug(slug)
    if tenant is None:
        raise NotFound(f"no tenant {slug!r}")
    return tenant.id


async def _page(
    request: Request,
    services: Services,
    admin: Admin,
    slug: str,
    status_code: int = 200,
    **ctx: object,
) -> HTMLResponse:
    tenant_id = await _tenant_id(services, slug)
    endpoints = await services.webhooks.endpoints(tenant_id)
    shown = request.query_params.get("endpoint")
    selected = next((e for e in endpoints if str(e.id) == shown), None)
    log = await services.webhooks.attempts(tenant_id, selected.id, limit=LOG) if selected else []
    return render(
        request,
        "webhooks.html",
        admin,
        status_code,
        slug=slug,
        endpoints=endpoints,
        selected=selected,
        log=log,
        **ctx,
    )


_changed = changes_on("webhooks", _page)


@router.get("/tenants/{slug}/webhooks", response_class=HTMLResponse)
async def webhooks(
    request: Request,
    slug: str,
    admin: AdminDep,
    services: ServicesDep,
) -> HTMLResponse:
    """The endpoints; `?endpoint=<id>` adds that endpoint's delivery log."""
    return await _page(request, services, admin, slug)


@router.post("/tenants/{slug}/webhooks/{endpoint_id}/test", response_model=None)
async def send_test(
    request: Request, slug: str, endpoint_id: UUID, admin: AdminPost, services: ServicesDep
) -> Response:
    tenant_id = await _tenant_id(services, slug)
    try:
        outcome = await services.webhook_deliverer.send_test(tenant_id, endpoint_id)
    except TenantryError as exc:
        return await _page(request, services, admin, slug, exc.status, error=exc.message)
    said = f"HTTP {outcome.status_code}" if outcome.status_code else (outcome.error or "failed")
    notice = f"test event {'delivered' if outcome.ok else 'not delivered'}: {said}"
    return back(f"/admin/tenants/{slug}/webhooks", notice, endpoint=str(endpoint_id))


@router.post("/tenants/{slug}/webhooks/{endpoint_id}/enable", response_model=None)
async def enable(
    request: Request, slug: str, endpoint_id: UUID, admin: AdminPost, services: ServicesDep
) -> Response:
    change = services.webhooks.enable(await _tenant_id(services, slug), endpoint_id)
    return await _changed(request, services, admin, slug, change, "endpoint enabled")


@router.post("/tenants/{slug}/webhooks/{endpoint_id}/disable", response_model=None)
async def disable(
    request: Request,
    slug: str,
    endpoint_id: UUID,
    admin: AdminPost,
    services: ServicesDep,
    reason: Annotated[str, Form(min_length=1, max_length=500)],
) -> Response:
    tenant_id = await _tenant_id(services, slug)
    change = services.webhooks.disable(tenant_id, endpoint_id, reason)
    return await _changed(request, services, admin, slug, change, "endpoint disabled")
