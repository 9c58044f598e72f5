"""Events' domain types and errors."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from tenantry.kit.errors import InvalidInput, NotFound

# Shared with the database's CHECK on event types (migration 0017).
TYPE_NAME = re.compile(r"^[a-z][a-z0-9_-]*(\.[a-z][a-z0-9_-]*){1,5}$")
# A subscription pattern: an exact type, a prefix ending in `.*`, or `*` for every type.
TYPE_PATTERN = re.compile(
    r"^(\*|[a-z][a-z0-9_-]*(\.[a-z][a-z0-9_-]*){0,5}\.\*|"
    r"[a-z][a-z0-9_-]*(\.[a-z][a-z0-9_-]*){1,5})$"
)
CONSUMER_NAME = re.compile(r"^[a-z0-9][a-z0-9_.:-]{0,199}$")
MAX_KEY_LENGTH = 200


class UnknownEventType(InvalidInput):
    code = "unknown_event_type"


class InvalidEventPayload(InvalidInput):
    """The payload does not match the type's JSON Schema; `path` is the JSON path of the first
    failing value (`$` for the payload itself)."""

    code = "invalid_event_payload"

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"payload at {path}: {message}")
        self.path = path


class InvalidSubscription(InvalidInput):
    code = "invalid_subscription"


class SubscriptionNotFound(NotFound):
    code = "subscription_not_found"


class EventNotFound(NotFound):
    code = "event_not_found"


@dataclass(frozen=True, slots=True)
class EventType:
    type: str
    catalog_app_id: UUID
    schema: dict[str, Any]
    version: str


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """An event as the tenant's administrators list it."""

    id: UUID
    tenant_id: UUID
    app_id: UUID
    type: str
    key: str | None
    payload: Any
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Subscription:
    id: UUID
    tenant_id: UUID
    consumer_app_id: UUID
    consumer: str
    types: list[str]
    active: bool
    created_at: datetime


@dataclass(frozen=True, slots=True)
class DeliveryRecord:
    """One event's delivery to one consumer, with its last attempt."""

    id: UUID
    tenant_id: UUID
    event_id: UUID
    event_app_id: UUID
    event_created_at: datetime
    event_type: str
    consumer: str
    ordering_key: str | None
    status: str
    attempts: int
    next_attempt_at: datetime
    last_attempt_at: datetime | None
    last_error: str | None
    last_status_code: int | None
    last_latency_ms: int | None
    delivered_at: datetime | None


def matches(pattern: str, event_type: str) -> bool:
    """The database's matching rule (`tenantry.event_fan_out`), for previews and tests."""
    if pattern in ("*", event_type):
        return True
    return pattern.endswith(".*") and event_type.startswith(pattern[:-1])


def page_cursor(event: StoredEvent) -> str:
    """Where the next (older) page of an event stream starts: `<created_at>_<id>`."""
    return f"{event.created_at.isoformat()}_{event.id}"


def parse_page_cursor(cursor: str) -> tuple[datetime, UUID]:
    at, _, event_id = cursor.rpartition("_")
    try:
        return datetime.fromisoformat(at), UUID(event_id)
    except ValueError as exc:
        raise InvalidInput("before: not a next_before of this listing") from exc
