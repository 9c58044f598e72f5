"""Webhook endpoints and delivery attempts as the rest of Tenantry names them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from datetime import datetime
    from uuid import UUID

# The consumer name of an endpoint's event subscription: the worker picks the webhook
# deliverer for every consumer named like this.
CONSUMER_PREFIX = "webhook:"
TEST_EVENT_TYPE = "webhook.test"
# Exact types or a prefix ending in `.*` (`thinktank.chat.*`), or `*` for everything.
TYPE_PATTERN = re.compile(r"^(\*|[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*(\.\*)?)$")


def consumer_name(endpoint_id: UUID) -> str:
    return f"{CONSUMER_PREFIX}{endpoint_id}"


@dataclass(frozen=True, slots=True)
class Endpoint:
    id: UUID
    tenant_id: UUID
    url: str
    description: str
    event_types: list[str]
    status: str
    disabled_reason: str | None
    disabled_at: datetime | None
    created_at: datetime
    failing_since: datetime | None
    consecutive_failures: int
    last_status_code: int | None
    last_attempt_at: datetime | None
    successes: int
    failures: int

    @property
    def success_rate(self) -> float | None:
        total = self.successes + self.failures
        return None if total == 0 else self.successes / total


@dataclass(frozen=True, slots=True)
class CreatedEndpoint:
    """The endpoint and its signing secret, shown this once and never again."""

    endpoint: Endpoint
    secret: str


@dataclass(frozen=True, slots=True)
class Attempt:
    id: UUID
    endpoint_id: UUID
    event_id: UUID
    event_type: str
    attempt: int
    attempted_at: datetime
    ok: bool
    status_code: int | None
    latency_ms: int
    error: str | None
    response_excerpt: str | None
