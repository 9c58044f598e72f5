"""One tenant's published events: the stream newest first (keyset pages), each event with its
deliveries (attempts, last error, status code, latency), the dead letters, and replay
(CSRF-checked forms). Pages call the same services as the API and the CLI."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated
from uuid import UUID

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response

from tenantry.admin.auth import AdminDep, AdminPost
from tenantry.admin.rendering import changes_on, render
from tenantry.events.models import page_cursor, parse_page_cursor
from tenantry.kit.errors import InvalidInput
from tenantry.services import Services, ServicesDep

if TYPE_CHECKING:
    from tenantry.admin.session import Admin

router = APIRouter()
PAGE = 50
Cursor = Annotated[str | None, Query(pattern=r"^[0-9T:.+-]+_[0-9a-f-]{36}$")]


async def _page(
    request: Request,
    services: Services,
    admin: Admin,
    slug: str,
    status_code: int = 200,
    **ctx: object,
) -> HTMLResponse:
    tenant_id = await services.outbox.tenant_id(slug)
    cursor = None
    before = ctx.pop("before", None)
    if isinstance(before, str) and before:
        try:
            cursor = parse_page_cursor(before)
        except InvalidInput:
            status_code = 422
            ctx["error"] = "that page link is not valid: the newest events are shown"
    events = await services.outbox.stream(tenant_id, before=cursor, limit=PAGE)
    dead = await services.outbox.deliveries(tenant_id, status="dead", limit=PAGE)
    last = events[-1] if len(events) == PAGE else None
    return render(
        request,
        "app_events.html",
        admin,
        status_code,
        slug=slug,
        events=events,
        dead=dead,
        subscriptions=await services.outbox.subscriptions(tenant_id),
        apps=services.apps.slugs_by_id,
        next_before=page_cursor(last) if last else None,
        **ctx,
    )


_changed = changes_on("events", _page)


@router.get("/tenants/{slug}/events", response_class=HTMLResponse)
async def stream(
    request: Request, slug: str, admin: AdminDep, services: ServicesDep, before: Cursor = None
) -> HTMLResponse:
    return await _page(request, services, admin, slug, before=before)


@router.get("/tenants/{slug}/events/{event_id}", response_class=HTMLResponse)
async def event(
    request: Request, slug: str, event_id: UUID, admin: AdminDep, services: ServicesDep
) -> HTMLResponse:
    found, deliveries = await services.outbox.event(await services.outbox.tenant_id(slug), event_id)
    return render(
        request,
        "app_event.html",
        admin,
        slug=slug,
        event=found,
        deliveries=deliveries,
        app=services.apps.slugs_by_id.get(found.app_id),
    )


@router.post("/tenants/{slug}/events/replay", response_model=None)
async def replay(
    request: Request,
    slug: str,
    admin: AdminPost,
    services: ServicesDep,
    consumer: Annotated[str, Form(max_length=200)] = "",
    event_id: Annotated[str, Form(max_length=36)] = "",
    dead_only: Annotated[bool, Form()] = False,
) -> Response:
    async def run() -> int:
        return await services.outbox.replay(
            await services.outbox.tenant_id(slug),
            consumer=consumer or None,
            event_id=_event_id(event_id),
            dead_only=dead_only,
        )

    return await _changed(request, services, admin, slug, run(), "deliveries queued again")


def _event_id(value: str) -> UUID | None:
    try:
        return UUID(value) if value else None
    except ValueError as exc:
        raise InvalidInput("event: not an event id") from exc
