"""Each endpoint's event subscription (`webhook:<endpoint id>`), kept by the events service.

The events service opens its own transactions, so an endpoint's subscription follows the
endpoint's change right after it commits: the subscription is owned by the admin app (the
consumer app of every webhook) and is reactivated or updated rather than duplicated. Should that
second step fail, enabling or updating the endpoint again repairs it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tenantry.identity.principal import ADMIN_APP
from tenantry.kit.errors import NotFound

if TYPE_CHECKING:
    from collections.abc import Sequence
    from uuid import UUID

    from tenantry.apps.service import AppDirectory
    from tenantry.events.service import Events


class EventSubscriptions:
    def __init__(self, events: Events, apps: AppDirectory) -> None:
        self._events = events
        self._apps = apps

    async def follow(self, tenant_id: UUID, consumer: str, types: Sequence[str]) -> None:
        for subscription in await self._events.subscriptions(tenant_id):
            if subscription.consumer == consumer:
                await self._events.update_subscription(
                    tenant_id, subscription.id, types=types, active=True
                )
                return
        await self._events.subscribe(tenant_id, await self._admin_app(), consumer, types)

    async def stop(self, tenant_id: UUID, consumer: str) -> None:
        for subscription in await self._events.subscriptions(tenant_id):
            if subscription.consumer == consumer and subscription.active:
                await self._events.update_subscription(tenant_id, subscription.id, active=False)

    async def _admin_app(self) -> UUID:
        try:
            return self._apps.by_slug(ADMIN_APP).id
        except NotFound:
            # A process that never loaded the catalog (a CLI command, the worker).
            await self._apps.reload()
            return self._apps.by_slug(ADMIN_APP).id
