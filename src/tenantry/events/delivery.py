"""What the worker hands a consumer, what it gets back, and when it tries again.

The retry schedule is Svix's: the first attempt at once, then 5 s, 5 min, 30 min, 2 h, 5 h,
10 h and 10 h after each failure, each delay jittered by ±20 % so that a consumer that failed
for many deliveries at once is not hit by all of them again in the same second. A delivery
whose last attempt fails is dead (dead letters are replayed by hand).
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime
    from uuid import UUID

# Delay before attempt n + 1 after attempt n failed, for n = 1..7; the eighth is the last.
RETRY_SCHEDULE: tuple[timedelta, ...] = (
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=10),
)
MAX_ATTEMPTS = len(RETRY_SCHEDULE) + 1
JITTER = 0.2
WEBHOOK_PREFIX = "webhook:"
# last_error is shown to tenant administrators: short, and never the text of a secret.
ERROR_LIMIT = 300
_CREDENTIALS = re.compile(
    r"(?i)((?:password|passwd|secret|token|api[_-]?key|authorization)\s*[=:]\s*)\S+"
    r"|(\w+://)[^/@\s]+@"
)


@dataclass(frozen=True, slots=True)
class Event:
    """An event as its consumers receive it."""

    id: UUID
    tenant_id: UUID
    app_id: UUID
    type: str
    key: str | None
    payload: Any
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Delivery:
    """One claimed attempt to hand an event to one consumer; `attempts` counts this one."""

    tenant_id: UUID
    id: UUID
    consumer: str
    attempts: int
    event: Event


@dataclass(frozen=True, slots=True)
class Outcome:
    ok: bool
    status_code: int | None = None
    latency_ms: int | None = None
    error: str | None = None


class Deliverer(Protocol):
    """Delivers to consumers outside the process (webhooks: consumers named `webhook:<id>`)."""

    async def deliver(self, delivery: Delivery, event: Event) -> Outcome: ...


@dataclass(frozen=True, slots=True)
class Verdict:
    """What becomes of a delivery after an attempt: delivered, retried at `retry_in`, or dead."""

    status: str
    retry_in: timedelta | None


def verdict(
    attempts: int, outcome: Outcome, delay: Callable[[int], timedelta] | None = None
) -> Verdict:
    if outcome.ok:
        return Verdict("delivered", None)
    if attempts >= MAX_ATTEMPTS:
        return Verdict("dead", None)
    return Verdict("pending", (delay or retry_delay)(attempts))


def retry_delay(attempts: int, rng: random.Random | None = None) -> timedelta:
    """The jittered delay after failed attempt number `attempts` (1-based)."""
    base = RETRY_SCHEDULE[min(max(attempts, 1), len(RETRY_SCHEDULE)) - 1]
    factor = 1 + (rng or random).uniform(-JITTER, JITTER)
    return base * factor


def short_error(exc: BaseException | str) -> str:
    """A one-line error for the delivery log: the exception's class and message, with anything
    that looks like a credential (`token=…`, `user:pass@` in a URL) blanked, truncated."""
    if isinstance(exc, BaseException):
        text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    else:
        text = exc
    text = " ".join(text.split())
    text = _CREDENTIALS.sub(lambda m: (m.group(1) or m.group(2) or "") + "***", text)
    return text if len(text) <= ERROR_LIMIT else text[: ERROR_LIMIT - 1] + "…"


def metric_label(consumer: str) -> str:
    """Consumers as a bounded metric label: every webhook endpoint counts as `webhook`."""
    return "webhook" if consumer.startswith(WEBHOOK_PREFIX) else consumer
