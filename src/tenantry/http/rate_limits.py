"""The RateLimit header fields on every answer to a rate-limited request: set here, around the
app, because many routes return a `Response` of their own, to which a dependency's headers
never reach. A refusal (429) carries its own."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tenantry.http.auth import RATE_LIMIT_STATE
from tenantry.limits.service import rate_headers

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send


class RateLimitHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
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
