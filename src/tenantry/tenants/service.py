"""Tenant lookups: cached for the request path (slug, status, apps), or inside a caller's
transaction for the control plane's writes."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import TYPE_CHECKING

from tenantry.kit.errors import AppDisabled, NotFound, TenantInactive
from tenantry.kit.placements import SHARED
from tenantry.tenants.repository import tenants as repository

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable
    from uuid import UUID

    from tenantry.kit.db import Database, Transaction
    from tenantry.tenants.models import TenantInfo, TenantRecord

CACHE_SECONDS = 2.0


class TenantDirectory:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._by_id: dict[UUID, tuple[float, TenantInfo | None]] = {}
        self._slug_to_id: dict[str, UUID] = {}

    async def _load(
        self, read: Callable[[Transaction], Awaitable[TenantInfo | None]]
    ) -> TenantInfo | None:
        async with self._db.platform_transaction() as tx:
            info = await read(tx)
        if info is None:
            return None
        if info.placement != SHARED:  # its apps are rows of its own, in its silo
            async with self._db.platform_transaction(placement=info.placement) as tx:
                there = await repository.serving_by_id(tx, info.id)
            apps = (there.app_ids, there.disabled_app_ids) if there else (frozenset(), frozenset())
            info = replace(info, app_ids=apps[0], disabled_app_ids=apps[1])
        self._by_id[info.id] = (time.monotonic(), info)
        self._slug_to_id[info.slug] = info.id
        return info

    async def get(self, tenant_id: UUID) -> TenantInfo | None:
        cached = self._by_id.get(tenant_id)
        if cached and time.monotonic() - cached[0] < CACHE_SECONDS:
            return cached[1]
        return await self._load(lambda tx: repository.serving_by_id(tx, tenant_id))

    def cached_plan(self, tenant_id: UUID) -> str | None:
        """The tenant's plan as last read, however long ago (None: not read yet), for the
        quotas its transactions run with: never a query, so opening a tenant's transaction
        never waits for a platform connection."""
        cached = self._by_id.get(tenant_id)
        return cached[1].plan if cached and cached[1] else None

    async def by_slug(self, slug: str) -> TenantInfo | None:
        tenant_id = self._slug_to_id.get(slug)
        if tenant_id is not None:
            return await self.get(tenant_id)
        return await self._load(lambda tx: repository.serving_by_slug(tx, slug))

    def invalidate_scope(self, scope: str) -> None:
        """An invalidation message: a tenant id, or `*` for everything."""
        if scope == "*":
            self._by_id.clear()
            return
        self._by_id = {k: v for k, v in self._by_id.items() if str(k) != scope}

    async def require_serving(self, tenant_id: UUID, app_id: UUID) -> TenantInfo:
        """The tenant if it is active and has the app enabled; otherwise a refusal. An app the
        tenant never had is a 404; one it disabled is `app_disabled` (its data is kept)."""
        tenant = await self.get(tenant_id)
        if tenant is not None and app_id in tenant.disabled_app_ids:
            raise AppDisabled("this app is disabled for the tenant; its data is kept")
        if tenant is None or app_id not in tenant.app_ids:
            raise NotFound("no such tenant or app")
        if tenant.status != "active":
            raise TenantInactive(f"tenant is {tenant.status}")
        return tenant

    @staticmethod
    async def require_in(
        tx: Transaction, slug: str, *, writable: bool = False, lock: bool = False
    ) -> TenantRecord:
        """The tenant named `slug` read in the caller's transaction, or NotFound; `writable`
        also refuses a tenant whose configuration is frozen (deprovisioned or purged)."""
        return await repository.require_tenant(tx, slug, writable=writable, lock=lock)
