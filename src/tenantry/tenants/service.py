"""Tenant lookups on the request path, with a short-lived cache of slug, status and apps."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tenantry.kit.errors import NotFound, TenantInactive

if TYPE_CHECKING:
    from uuid import UUID

    from tenantry.kit.db import Database

CACHE_SECONDS = 2.0


@dataclass(frozen=True, slots=True)
class TenantInfo:
    id: UUID
    slug: str
    status: str
    app_ids: frozenset[UUID]


class TenantDirectory:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._by_id: dict[UUID, tuple[float, TenantInfo | None]] = {}
        self._slug_to_id: dict[str, UUID] = {}

    async def _load(self, where: str, value: object) -> TenantInfo | None:
        async with self._db.platform_transaction() as tx:
            row = await tx.fetch_one(
                f"""SELECT t.id, t.slug, t.status,
                           coalesce(array_agg(ta.app_id) FILTER (WHERE ta.app_id IS NOT NULL),
                                    '{{}}') AS app_ids
                      FROM tenantry.tenants t
                      LEFT JOIN tenantry.tenant_apps ta ON ta.tenant_id = t.id
                     WHERE t.{where} = %s
                     GROUP BY t.id""",
                [value],
            )
        if row is None:
            return None
        info = TenantInfo(row["id"], row["slug"], row["status"], frozenset(row["app_ids"]))
        self._by_id[info.id] = (time.monotonic(), info)
        self._slug_to_id[info.slug] = info.id
        return info

    async def get(self, tenant_id: UUID) -> TenantInfo | None:
        cached = self._by_id.get(tenant_id)
        if cached and time.monotonic() - cached[0] < CACHE_SECONDS:
            return cached[1]
        return await self._load("id", tenant_id)

    async def by_slug(self, slug: str) -> TenantInfo | None:
        tenant_id = self._slug_to_id.get(slug)
        if tenant_id is not None:
            return await self.get(tenant_id)
        return await self._load("slug", slug)

    def invalidate_scope(self, scope: str) -> None:
        """An invalidation message: a tenant id, or `*` for everything."""
        if scope == "*":
            self._by_id.clear()
            return
        self._by_id = {k: v for k, v in self._by_id.items() if str(k) != scope}

    async def require_serving(self, tenant_id: UUID, app_id: UUID) -> TenantInfo:
        """The tenant if it is active and has the app enabled; otherwise a refusal."""
        tenant = await self.get(tenant_id)
        if tenant is None or app_id not in tenant.app_ids:
            raise NotFound("no such tenant or app")
        if tenant.status != "active":
            raise TenantInactive(f"tenant is {tenant.status}")
        return tenant
