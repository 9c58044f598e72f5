"""Rate limits around the app: a credential refused a moment ago is refused again before any
work (no routing, no token verification, no database) and, as it came back too early, only
after a hold; every answer to a rate-limited request carries the RateLimit header fields (set
here because many routes return a `Response` of their own, which a dependency's headers never
reach; a refusal carries its own)."""

from __future__ import annotations

import asyncio
import math
from typing import TYPE_CHECKING

from starlette.requests import Request

from tenantry.http.auth import RATE_LIMIT_STATE
from tenantry.kit import problems
from tenantry.limits.service import rate_headers

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

    from tenantry.limits.service import RateLimiter

HOLD_SECONDS = 1.0


class RateLimitGate:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limiter = _limiter(scope)
        if limiter is None or not limiter.enabled:
            await self.app(scope, receive, send)
            return
        credential = _bearer(scope) if scope["path"].startswith("/v1/") else None
        standing = limiter.refused(credential) if credential else None
        if standing is not None:
            refusal, stands_for = standing
            # The client came back before the Retry-After it was given. Answering at once would
            # let a client that resends immediately spend the cores its neighbours need on
            # refusals; holding the answer for HOLD_SECONDS costs a sleeping coroutine and
            # slows each of its connections to one request a second. Counted from each
            # request's arrival (not to the refusal's end), the holds of many connections end
            # at different moments instead of releasing them all at once. A client that
            # honours Retry-After never meets the hold.
            await asyncio.sleep(HOLD_SECONDS)
            retry_after = max(1, math.ceil(stands_for - HOLD_SECONDS))
            headers = {**refusal.headers, "Retry-After": str(retry_after)}
            answer = problems.problem(
                Request(scope), refusal.status, refusal.code, refusal.message, headers
            )
            await answer(scope, receive, send)
            return

        async def send_with_limits(message: Message) -> None:
            if message["type"] == "http.response.start":
                decision = scope.get("state", {}).get(RATE_LIMIT_STATE)
                headers = message.get("headers", [])
                if decision is not None and not any(k == b"ratelimit-limit" for k, _ in headers):
                    fields = rate_headers(decision)
                    message["headers"] = [
                        *headers,
                        *((k.lower().encode(), v.encode()) for k, v in fields.items()),
                    ]
            await send(message)

        await self.app(scope, receive, send_with_limits)


def _limiter(scope: Scope) -> RateLimiter | None:
    services = getattr(getattr(scope.get("app"), "state", None), "services", None)
    return getattr(services, "limits", None)


def _bearer(scope: Scope) -> str | None:
    for key, value in scope.get("headers", []):
        if key == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            return token.strip() if scheme.lower() == "bearer" and token.strip() else None
    return None
