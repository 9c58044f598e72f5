"""Published events over HTTP: an app publishes into its own tenant (the database holds it to
its tenant and to itself as the source); tenant administrators with `events.manage` manage
subscriptions, read the event stream with each event's deliveries and replay; platform
administrators do the same for any tenant."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, Field

from tenantry.events.models import page_cursor, parse_page_cursor
from tenantry.http.auth import PlatformAdmin, RequiresPrivilege, resolve_route_app
from tenantry.http.platform import Slug, platform_router
from tenantry.identity.principal import Principal, Scope
from tenantry.kit.problems import PROBLEM_RESPONSES
from tenantry.services import ServicesDep

if TYPE_CHECKING:
    from tenantry.events.models import DeliveryRecord, StoredEvent, Subscription
    from tenantry.services import Services

router = APIRouter(
    prefix="/v1/apps/{app}",
    tags=["events"],
    responses=PROBLEM_RESPONSES,
    dependencies=[Depends(resolve_route_app)],
)
platform = platform_router("events")

Publishes = Annotated[Principal, RequiresPrivilege("events.publish", Scope.PROFILE)]
ManagesEvents = Annotated[Principal, RequiresPrivilege("events.manage")]


class PublishIn(BaseModel):
    type: str = Field(min_length=3, max_length=120)
    payload: Any
    key: str | None = Field(None, min_length=1, max_length=200)


class EventOut(BaseModel):
    id: UUID
    app: str | None
    type: str
    key: str | None
    payload: Any
    created_at: datetime


class DeliveryOut(BaseModel):
    id: UUID
    consumer: str
    status: str
    attempts: int
    next_attempt_at: datetime
    last_attempt_at: datetime | None
    last_error: str | None
    last_status_code: int | None
    last_latency_ms: int | None
    delivered_at: datetime | None


class EventDetail(EventOut):
    deliveries: list[DeliveryOut]


class EventPage(BaseModel):
    items: list[EventOut]
    # Pass as `before` for the next (older) page; null on the last page.
    next_before: str | None


class SubscriptionIn(BaseModel):
    consumer: str = Field(min_length=1, max_length=200)
    consumer_app: str = Field(pattern=r"^[a-z][a-z0-9-]{1,39}$")
    types: list[str] = Field(min_length=1, max_length=100)


class SubscriptionPatch(BaseModel):
    types: list[str] | None = Field(None, min_length=1, max_length=100)
    active: bool | None = None


class SubscriptionOut(BaseModel):
    id: UUID
    consumer: str
    consumer_app: str | None
    types: list[str]
    active: bool
    created_at: datetime


class ReplayIn(BaseModel):
    consumer: str | None = Field(None, min_length=1, max_length=200)
    since: datetime | None = None
    dead_only: bool = False
    event_id: UUID | None = None


class ReplayOut(BaseModel):
    queued: int


Before = Annotated[
    str | None,
    Query(pattern=r"^[0-9T:.+-]+_[0-9a-f-]{36}$", description="next_before of the last page"),
]
Limit = Annotated[int, Query(ge=1, le=500)]


def _event(services: Services, event: StoredEvent) -> EventOut:
    return EventOut(
        id=event.id,
        app=services.apps.slugs_by_id.get(event.app_id),
        type=event.type,
        key=event.key,
        payload=event.payload,
        created_at=event.created_at,
    )


def _delivery(delivery: DeliveryRecord) -> DeliveryOut:
    return DeliveryOut(
        id=delivery.id,
        consumer=delivery.consumer,
        status=delivery.status,
        attempts=delivery.attempts,
        next_attempt_at=delivery.next_attempt_at,
        last_attempt_at=delivery.last_attempt_at,
        last_error=delivery.last_error,
        last_status_code=delivery.last_status_code,
        last_latency_ms=delivery.last_latency_ms,
        delivered_at=delivery.delivered_at,
    )


def _subscription(services: Services, subscription: Subscription) -> SubscriptionOut:
    return SubscriptionOut(
        id=subscription.id,
        consumer=subscription.consumer,
        consumer_app=services.apps.slugs_by_id.get(subscription.consumer_app_id),
        types=subscription.types,
        active=subscription.active,
        created_at=subscription.created_at,
    )


async def _page(
    services: Services, tenant_id: UUID, type_: str | None, before: str | None, limit: int
) -> EventPage:
    events = await services.outbox.stream(
        tenant_id, type=type_, before=parse_page_cursor(before) if before else None, limit=limit
    )
    last = events[-1] if len(events) == limit else None
    return EventPage(
        items=[_event(services, e) for e in events],
        next_before=page_cursor(last) if last else None,
    )


async def _detail(services: Services, tenant_id: UUID, event_id: UUID) -> EventDetail:
    event, deliveries = await services.outbox.event(tenant_id, event_id)
    return EventDetail(
        **_event(services, event).model_dump(), deliveries=[_delivery(d) for d in deliveries]
    )


async def _subscribe(services: Services, tenant_id: UUID, body: SubscriptionIn) -> SubscriptionOut:
    consumer_app = services.apps.by_slug(body.consumer_app)
    created = await services.outbox.subscribe(tenant_id, consumer_app.id, body.consumer, body.types)
    return _subscription(services, created)


# -- apps publish; tenant administrators manage ----------------------------------------------


@router.post("/events", response_model=EventOut, status_code=201)
async def publish_event(principal: Publishes, services: ServicesDep, body: PublishIn) -> EventOut:
    """Publish an event of one of the app's declared types into the caller's tenant; its
    payload must match the type's JSON Schema (`invalid_event_payload` names the path)."""
    event = await services.outbox.publish(
        principal.tenant_id, principal.app_id, body.type, body.payload, body.key, own_types=True
    )
    return _event(services, event)


@router.get("/events", response_model=EventPage)
async def tenant_events(
    principal: ManagesEvents,
    services: ServicesDep,
    type: Annotated[str | None, Query(max_length=120)] = None,  # noqa: A002 - the query parameter's name
    before: Before = None,
    limit: Limit = 50,
) -> EventPage:
    """The tenant's events from every app, newest first, in keyset pages."""
    return await _page(services, principal.tenant_id, type, before, limit)


@router.get("/events/{event_id}", response_model=EventDetail)
async def tenant_event(
    principal: ManagesEvents, services: ServicesDep, event_id: UUID
) -> EventDetail:
    """One event with its deliveries: attempts, last error, status code and latency."""
    return await _detail(services, principal.tenant_id, event_id)


@router.get("/event-subscriptions", response_model=list[SubscriptionOut])
async def list_subscriptions(
    principal: ManagesEvents, services: ServicesDep
) -> list[SubscriptionOut]:
    subscriptions = await services.outbox.subscriptions(principal.tenant_id)
    return [_subscription(services, s) for s in subscriptions]


@router.post("/event-subscriptions", response_model=SubscriptionOut, status_code=201)
async def create_subscription(
    principal: ManagesEvents, services: ServicesDep, body: SubscriptionIn
) -> SubscriptionOut:
    """Deliver the tenant's events of these types (exact, `prefix.*` or `*`) to a consumer."""
    return await _subscribe(services, principal.tenant_id, body)


@router.patch("/event-subscriptions/{subscription_id}", response_model=SubscriptionOut)
async def update_subscription(
    principal: ManagesEvents,
    services: ServicesDep,
    subscription_id: UUID,
    body: SubscriptionPatch,
) -> SubscriptionOut:
    updated = await services.outbox.update_subscription(
        principal.tenant_id, subscription_id, types=body.types, active=body.active
    )
    return _subscription(services, updated)


@router.delete("/event-subscriptions/{subscription_id}", status_code=204)
async def delete_subscription(
    principal: ManagesEvents, services: ServicesDep, subscription_id: UUID
) -> Response:
    await services.outbox.unsubscribe(principal.tenant_id, subscription_id)
    return Response(status_code=204)


@router.post("/event-deliveries/replay", response_model=ReplayOut)
async def tenant_replay(
    principal: ManagesEvents, services: ServicesDep, body: ReplayIn
) -> ReplayOut:
    """Deliver again: matching deliveries back to pending with no attempts."""
    queued = await services.outbox.replay(principal.tenant_id, **body.model_dump())
    return ReplayOut(queued=queued)


# -- platform administrators, any tenant --------------------------------------------------------


@platform.get("/tenants/{slug}/events", response_model=EventPage)
async def platform_events(
    slug: Slug,
    principal: PlatformAdmin,
    services: ServicesDep,
    type: Annotated[str | None, Query(max_length=120)] = None,  # noqa: A002 - the query parameter's name
    before: Before = None,
    limit: Limit = 50,
) -> EventPage:
    return await _page(services, await services.outbox.tenant_id(slug), type, before, limit)


@platform.get("/tenants/{slug}/events/{event_id}", response_model=EventDetail)
async def platform_event(
    slug: Slug, principal: PlatformAdmin, services: ServicesDep, event_id: UUID
) -> EventDetail:
    return await _detail(services, await services.outbox.tenant_id(slug), event_id)


@platform.get("/tenants/{slug}/event-subscriptions", response_model=list[SubscriptionOut])
async def platform_subscriptions(
    slug: Slug, principal: PlatformAdmin, services: ServicesDep
) -> list[SubscriptionOut]:
    subscriptions = await services.outbox.subscriptions(await services.outbox.tenant_id(slug))
    return [_subscription(services, s) for s in subscriptions]


@platform.post(
    "/tenants/{slug}/event-subscriptions", response_model=SubscriptionOut, status_code=201
)
async def platform_subscribe(
    slug: Slug, principal: PlatformAdmin, services: ServicesDep, body: SubscriptionIn
) -> SubscriptionOut:
    return await _subscribe(services, await services.outbox.tenant_id(slug), body)


@platform.post("/tenants/{slug}/event-deliveries/replay", response_model=ReplayOut)
async def platform_replay(
    slug: Slug, principal: PlatformAdmin, services: ServicesDep, body: ReplayIn
) -> ReplayOut:
    tenant_id = await services.outbox.tenant_id(slug)
    return ReplayOut(queued=await services.outbox.replay(tenant_id, **body.model_dump()))
