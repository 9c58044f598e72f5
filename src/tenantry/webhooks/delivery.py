"""The worker's deliverer for consumers named `webhook:<endpoint id>`: sign, post, log.

Each attempt resolves the endpoint's host and posts to the address it checked (see
`kit/outbound`), follows no redirect (a 3xx is a failed attempt: a redirect could point
anywhere), gives up after 3 s to connect and 10 s in all, and keeps at most 4 KiB of the answer
for the log. The attempt goes to the log and into the endpoint's health in one transaction.

Auto-disable: an endpoint whose every attempt has failed for `disable_after` (5 days, as Svix)
and at least `min_failures` times in a row is disabled, its subscription deactivated, its
administrators mailed and the audit log told — one flaky night does not disable anything, a
receiver gone for days does. Enabling it again (API or admin UI) starts a fresh count."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Protocol
from uuid import UUID

import httpx

from tenantry.events.delivery import Delivery, Event, Outcome
from tenantry.kit.context import TenantContext
from tenantry.kit.errors import NotFound
from tenantry.kit.ids import uuid7
from tenantry.kit.outbound import RefusedDestination, pin, system_resolver
from tenantry.webhooks import repository
from tenantry.webhooks.models import CONSUMER_PREFIX, TEST_EVENT_TYPE, Endpoint, consumer_name
from tenantry.webhooks.service import disable_in
from tenantry.webhooks.signing import signature_headers

if TYPE_CHECKING:
    from tenantry.kit.db import Database, Transaction
    from tenantry.kit.outbound import Resolver
    from tenantry.webhooks.sealing import SecretSealer
    from tenantry.webhooks.service import Subscriptions

CONNECT_SECONDS = 3.0
TOTAL_SECONDS = 10.0
EXCERPT_BYTES = 4096
ERROR_CHARS = 300
DISABLE_AFTER = timedelta(days=5)
MIN_FAILURES = 10
USER_AGENT = "Tenantry-Webhooks/1"
# A test event comes from no app.
NO_APP = UUID(int=0)


class DisabledNotifier(Protocol):
    async def endpoint_disabled(self, tx: Transaction, endpoint: Endpoint) -> None: ...


def body_of(event: Event) -> str:
    return json.dumps(
        {
            "type": event.type,
            "timestamp": event.created_at.astimezone(UTC).isoformat(),
            "data": event.payload,
        },
        separators=(",", ":"),
    )


class WebhookDeliverer:
    def __init__(
        self,
        db: Database,
        sealer: SecretSealer,
        *,
        subscriptions: Subscriptions | None = None,
        notifier: DisabledNotifier | None = None,
        allow_private: bool = False,
        resolver: Resolver = system_resolver,
        total_seconds: float = TOTAL_SECONDS,
        disable_after: timedelta = DISABLE_AFTER,
        min_failures: int = MIN_FAILURES,
    ) -> None:
        self._db = db
        self._sealer = sealer
        self._subscriptions = subscriptions
        self._notifier = notifier
        self._allow_private = allow_private
        self._resolve = resolver
        self._total = total_seconds
        self._disable_after = disable_after
        self._min_failures = min_failures
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(total_seconds, connect=min(CONNECT_SECONDS, total_seconds)),
            follow_redirects=False,
        )

    async def close(self) -> None:
        await self._client.aclose()

    async def send_test(self, tenant_id: UUID, endpoint_id: UUID) -> Outcome:
        """A `webhook.test` event to this endpoint alone, now, signed and logged like any
        delivery (the administrator waits for the answer: it is what they want to see)."""
        event = Event(
            id=uuid7(),
            tenant_id=tenant_id,
            app_id=NO_APP,
            type=TEST_EVENT_TYPE,
            key=None,
            payload={"endpoint_id": str(endpoint_id), "message": "A test event from Tenantry"},
            created_at=datetime.now(UTC),
        )
        delivery = Delivery(tenant_id, uuid7(), consumer_name(endpoint_id), 1, event)
        async with self._db.tenant_transaction(TenantContext(tenant_id)) as tx:
            if await repository.get_endpoint(tx, tenant_id, endpoint_id) is None:
                raise NotFound("no such webhook endpoint")
        return await self.deliver(delivery, event)

    async def deliver(self, delivery: Delivery, event: Event) -> Outcome:
        endpoint_id = _endpoint_id(delivery.consumer)
        if endpoint_id is None:
            return Outcome(ok=False, error="not a webhook consumer")
        async with self._db.platform_transaction(tenant_id=event.tenant_id) as tx:
            endpoint = await repository.get_endpoint(tx, event.tenant_id, endpoint_id)
            if endpoint is None:
                return Outcome(ok=False, error="the endpoint was deleted")
            if endpoint.status != "enabled":
                return Outcome(ok=False, error="the endpoint is disabled")
            raw = [
                await self._sealer.open_in(tx, event.tenant_id, endpoint_id, version, sealed)
                for version, sealed in await repository.valid_secrets(
                    tx, event.tenant_id, endpoint_id
                )
            ]
        body = body_of(event)
        headers = signature_headers(str(event.id), datetime.now(UTC), body, raw)
        outcome, excerpt = await self._post(endpoint.url, body, headers)
        await self._record(endpoint, delivery, event, outcome, excerpt)
        return outcome

    async def _post(
        self, url: str, body: str, headers: dict[str, str]
    ) -> tuple[Outcome, str | None]:
        started = time.perf_counter()
        try:
            pinned = await pin(url, allow_private=self._allow_private, resolver=self._resolve)
            async with asyncio.timeout(self._total):
                async with self._client.stream(
                    "POST",
                    pinned.url,
                    content=body.encode(),
                    headers={
                        **headers,
                        **pinned.headers,
                        "content-type": "application/json",
                        "user-agent": USER_AGENT,
                    },
                    extensions=pinned.extensions,
                ) as response:
                    excerpt = await _read_capped(response)
        except RefusedDestination as exc:
            return Outcome(ok=False, latency_ms=_since(started), error=f"refused: {exc}"), None
        except TimeoutError:
            error = f"timed out after {self._total:g} s"
            return Outcome(ok=False, latency_ms=_since(started), error=error), None
        except httpx.HTTPError as exc:
            error = _short(f"{type(exc).__name__}: {exc}")
            return Outcome(ok=False, latency_ms=_since(started), error=error), None
        status = response.status_code
        latency = _since(started)
        if 200 <= status < 300:  # noqa: PLR2004 - the success range
            return Outcome(ok=True, status_code=status, latency_ms=latency), excerpt
        if 300 <= status < 400:  # noqa: PLR2004 - the redirect range
            error = f"redirect ({status}) not followed"
        else:
            error = f"the receiver answered {status}"
        return Outcome(ok=False, status_code=status, latency_ms=latency, error=error), excerpt

    async def _record(
        self,
        endpoint: Endpoint,
        delivery: Delivery,
        event: Event,
        outcome: Outcome,
        excerpt: str | None,
    ) -> None:
        async with self._db.platform_transaction(tenant_id=endpoint.tenant_id) as tx:
            await repository.record_attempt(
                tx,
                endpoint.tenant_id,
                uuid7(),
                endpoint.id,
                event_id=event.id,
                event_type=event.type,
                attempt=max(delivery.attempts, 1),
                ok=outcome.ok,
                status_code=outcome.status_code,
                latency_ms=outcome.latency_ms or 0,
                error=outcome.error,
                response_excerpt=excerpt,
            )
            health = await repository.count_outcome(
                tx, endpoint.tenant_id, endpoint.id, ok=outcome.ok, status_code=outcome.status_code
            )
            if health is not None and self._sustained_failure(health):
                days = self._disable_after / timedelta(days=1)
                reason = (
                    f"every delivery failed since {health.failing_since:%Y-%m-%d %H:%M} UTC"
                    f" ({health.consecutive_failures} attempts, threshold {days:g} days)"
                )
                disabled = await disable_in(tx, endpoint.tenant_id, endpoint.id, reason)
                if self._notifier is not None:
                    await self._notifier.endpoint_disabled(tx, disabled)
            else:
                disabled = None
        if disabled is not None and self._subscriptions is not None:
            await self._subscriptions.stop(endpoint.tenant_id, consumer_name(endpoint.id))

    def _sustained_failure(self, endpoint: Endpoint) -> bool:
        return (
            endpoint.status == "enabled"
            and endpoint.failing_since is not None
            and endpoint.consecutive_failures >= self._min_failures
            and datetime.now(UTC) - endpoint.failing_since >= self._disable_after
        )


def _endpoint_id(consumer: str) -> UUID | None:
    if not consumer.startswith(CONSUMER_PREFIX):
        return None
    try:
        return UUID(consumer.removeprefix(CONSUMER_PREFIX))
    except ValueError:
        return None


async def _read_capped(response: httpx.Response) -> str:
    kept = bytearray()
    async for chunk in response.aiter_raw():
        kept += chunk[: EXCERPT_BYTES - len(kept)]
        if len(kept) >= EXCERPT_BYTES:
            break
    return kept.decode(errors="replace")


def _since(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)


def _short(text: str) -> str:
    return text if len(text) <= ERROR_CHARS else text[: ERROR_CHARS - 1] + "…"
