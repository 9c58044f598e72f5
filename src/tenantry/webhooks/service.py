"""Webhook endpoints for tenant administrators: create (the secret shown once), list, read,
change, delete, rotate the secret with an overlap, enable, send a test event, read the log.

Each endpoint is fed by an event subscription named `webhook:<endpoint id>`; the events
service is reached through the `Subscriptions` seam (`webhooks/subscriptions.py`), which the
composition root fills. The test event is sent by the deliverer (`send_test`)."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Protocol

from tenantry.kit.context import TenantContext
from tenantry.kit.errors import InvalidInput, NotFound
from tenantry.kit.ids import uuid7
from tenantry.kit.outbound import RefusedDestination, check_url_shape
from tenantry.webhooks import repository
from tenantry.webhooks.models import (
    TYPE_PATTERN,
    Attempt,
    CreatedEndpoint,
    Endpoint,
    consumer_name,
)
from tenantry.webhooks.signing import new_secret, shown

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import datetime
    from uuid import UUID

    from tenantry.kit.db import Database, Transaction
    from tenantry.webhooks.sealing import SecretSealer

DEFAULT_OVERLAP = timedelta(hours=24)
MAX_DESCRIPTION = 500


class Subscriptions(Protocol):
    """What webhooks need of the events service: an endpoint's subscription follows the
    endpoint's own change, right after it commits (see `webhooks/subscriptions.py`)."""

    async def follow(self, tenant_id: UUID, consumer: str, types: Sequence[str]) -> None: ...

    async def stop(self, tenant_id: UUID, consumer: str) -> None: ...


class WebhookService:
    def __init__(
        self,
        db: Database,
        sealer: SecretSealer,
        subscriptions: Subscriptions | None = None,
        *,
        allow_private: bool = False,
        overlap: timedelta = DEFAULT_OVERLAP,
    ) -> None:
        self._db = db
        self._sealer = sealer
        self._subscriptions = subscriptions
        self._allow_private = allow_private
        self._overlap = overlap

    def _checked(
        self, url: str | None, description: str | None, types: Sequence[str] | None
    ) -> None:
        if url is not None:
            try:
                check_url_shape(url, allow_private=self._allow_private)
            except RefusedDestination as exc:
                raise InvalidInput(f"url: {exc}") from exc
        if description is not None and len(description) > MAX_DESCRIPTION:
            raise InvalidInput("description: at most 500 characters")
        if types is not None:
            if not types:
                raise InvalidInput("event_types: at least one type or pattern")
            for pattern in types:
                if not TYPE_PATTERN.match(pattern):
                    raise InvalidInput(
                        f"event_types: {pattern!r} is not a type or a `prefix.*` pattern"
                    )

    async def _new_version(
        self, tx: Transaction, tenant_id: UUID, endpoint_id: UUID, version: int
    ) -> str:
        raw = new_secret()
        sealed = await self._sealer.seal_in(tx, tenant_id, endpoint_id, version, raw)
        await repository.insert_secret(tx, tenant_id, uuid7(), endpoint_id, version, sealed)
        return shown(raw)

    async def create(
        self,
        tenant_id: UUID,
        *,
        url: str,
        event_types: Sequence[str],
        description: str = "",
    ) -> CreatedEndpoint:
        self._checked(url, description, event_types)
        async with self._db.tenant_transaction(TenantContext(tenant_id)) as tx:
            endpoint = await repository.insert_endpoint(
                tx, tenant_id, uuid7(), url, description, event_types
            )
            secret = await self._new_version(tx, tenant_id, endpoint.id, 1)
        await self._follow(endpoint)
        return CreatedEndpoint(endpoint, secret)

    async def _follow(self, endpoint: Endpoint) -> None:
        if self._subscriptions is None:
            return
        consumer = consumer_name(endpoint.id)
        if endpoint.status == "enabled":
            await self._subscriptions.follow(endpoint.tenant_id, consumer, endpoint.event_types)
        else:
            await self._subscriptions.stop(endpoint.tenant_id, consumer)

    async def endpoints(self, tenant_id: UUID) -> list[Endpoint]:
        async with self._db.tenant_transaction(TenantContext(tenant_id)) as tx:
            return await repository.list_endpoints(tx, tenant_id)

    async def get(self, tenant_id: UUID, endpoint_id: UUID) -> Endpoint:
        async with self._db.tenant_transaction(TenantContext(tenant_id)) as tx:
            return await _require(tx, tenant_id, endpoint_id)

    async def update(
        self,
        tenant_id: UUID,
        endpoint_id: UUID,
        *,
        url: str | None = None,
        description: str | None = None,
        event_types: Sequence[str] | None = None,
    ) -> Endpoint:
        self._checked(url, description, event_types)
        async with self._db.tenant_transaction(TenantContext(tenant_id)) as tx:
            endpoint = await repository.update_endpoint(
                tx,
                tenant_id,
                endpoint_id,
                url=url,
                description=description,
                event_types=event_types,
            )
            if endpoint is None:
                raise NotFound("no such webhook endpoint")
        await self._follow(endpoint)
        return endpoint

    async def delete(self, tenant_id: UUID, endpoint_id: UUID) -> None:
        async with self._db.tenant_transaction(TenantContext(tenant_id)) as tx:
            if not await repository.delete_endpoint(tx, tenant_id, endpoint_id):
                raise NotFound("no such webhook endpoint")
        if self._subscriptions is not None:
            await self._subscriptions.stop(tenant_id, consumer_name(endpoint_id))

    async def disable(self, tenant_id: UUID, endpoint_id: UUID, reason: str) -> Endpoint:
        async with self._db.tenant_transaction(TenantContext(tenant_id)) as tx:
            endpoint = await disable_in(tx, tenant_id, endpoint_id, reason)
        await self._follow(endpoint)
        return endpoint

    async def enable(self, tenant_id: UUID, endpoint_id: UUID) -> Endpoint:
        async with self._db.tenant_transaction(TenantContext(tenant_id)) as tx:
            endpoint = await repository.set_status(tx, tenant_id, endpoint_id, None)
            if endpoint is None:
                raise NotFound("no such webhook endpoint")
        await self._follow(endpoint)
        return endpoint

    async def rotate_secret(self, tenant_id: UUID, endpoint_id: UUID) -> str:
        """A new secret, shown once; the previous ones keep signing for the overlap."""
        async with self._db.tenant_transaction(TenantContext(tenant_id)) as tx:
            await _require(tx, tenant_id, endpoint_id)
            version = await repository.retire_secrets(tx, tenant_id, endpoint_id, self._overlap)
            return await self._new_version(tx, tenant_id, endpoint_id, version)

    async def attempts(
        self,
        tenant_id: UUID,
        endpoint_id: UUID,
        *,
        before: tuple[datetime, UUID] | None = None,
        limit: int = 50,
    ) -> list[Attempt]:
        async with self._db.tenant_transaction(TenantContext(tenant_id)) as tx:
            await _require(tx, tenant_id, endpoint_id)
            return await repository.attempts(tx, tenant_id, endpoint_id, before=before, limit=limit)


async def _require(tx: Transaction, tenant_id: UUID, endpoint_id: UUID) -> Endpoint:
    endpoint = await repository.get_endpoint(tx, tenant_id, endpoint_id)
    if endpoint is None:
        raise NotFound("no such webhook endpoint")
    return endpoint


async def disable_in(tx: Transaction, tenant_id: UUID, endpoint_id: UUID, reason: str) -> Endpoint:
    endpoint = await repository.set_status(tx, tenant_id, endpoint_id, reason[:500])
    if endpoint is None:
        raise NotFound("no such webhook endpoint")
    return endpoint
