"""One tenant's audit log: its chain status first (intact, or where it breaks; a button walks the
whole chain again), then the entries, newest first, filtered by action, actor and object, in
keyset pages."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from tenantry.admin.auth import AdminDep, AdminPost
from tenantry.admin.rendering import PAGE, back, render
from tenantry.services import ServicesDep

router = APIRouter()


@router.get("/tenants/{slug}/audit-log", response_class=HTMLResponse)
async def audit_log(
    request: Request,
    slug: str,
    admin: AdminDep,
    services: ServicesDep,
    action: Annotated[str, Query(max_length=100)] = "",
    actor: Annotated[str, Query(max_length=500)] = "",
    object_type: Annotated[str, Query(max_length=63)] = "",
    object_id: Annotated[str, Query(max_length=500)] = "",
    before: Annotated[int | None, Query(ge=1)] = None,
) -> HTMLResponse:
    # The rows appended since the last intact walk are checked now; a missing tenant is a 404.
    chain = await services.audit.glance(slug)
    filters = {
        "action": action or None,
        "actor": actor or None,
        "object_type": object_type or None,
        "object_id": object_id or None,
    }
    entries = await services.audit.search_tenant(slug, **filters, before_seq=before, limit=PAGE)
    next_before = entries[-1].seq if len(entries) == PAGE else None
    return render(
        request,
        "audit_log.html",
        admin,
        slug=slug,
        chain=chain,
        entries=entries,
        next_before=next_before,
        filters={k: v or "" for k, v in filters.items()},
    )


@router.post("/tenants/{slug}/audit-log/verify", response_model=None)
async def verify(slug: str, _admin: AdminPost, services: ServicesDep) -> Response:
    """Walk the whole chain now (the page itself checks only what was appended since)."""
    (chain,) = [status async for status in services.audit.verify(slug)]
    return back(f"/admin/tenants/{slug}/audit-log", chain.line())
