"""Entitlements on the request path: the snapshot per (tenant, app), held in memory.

Every authenticated request of an app passes `admit` (the licence state by time, reads vs
writes by HTTP method) and routes that need a feature declare it (`RequiresFeature` in
`http/entitlements.py`, which calls `require_feature`). A miss costs one read of the snapshot
as the runtime role; issuing, importing and revoking notify the tenant's scope in their own
transaction, so every process drops the tenant's snapshots when the change commits.

An app for which a tenant has no licence is unrestricted, unless the installation sets
`TENANTRY_LICENCES_REQUIRED=true`: then it is blocked. The admin app (the platform's own) is
never licensed.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from tenantry.kit.context import TenantContext
from tenantry.kit.invalidation import EVERYTHING
from tenantry.licensing import repository
from tenantry.licensing.models import (
    Entitlement,
    FeatureNotLicensed,
    LicenceBlocked,
    LicenceState,
)

if TYPE_CHECKING:
    from uuid import UUID

    from tenantry.kit.db import Database

UNLICENSED_APPS = frozenset({"admin"})


class Entitlements:
    def __init__(self, db: Database, *, required: bool = False) -> None:
        self._db = db
        self.required = required
        self._cache: dict[tuple[UUID, UUID], Entitlement | None] = {}
        # Bumped by every invalidation, so a load that raced with a change is not kept.
        self._generation = 0

    def invalidate(self, scope: str) -> None:
        self._generation += 1
        if scope == EVERYTHING:
            self._cache.clear()
            return
        for key in [k for k in self._cache if str(k[0]) == scope]:
            self._cache.pop(key, None)

    async def snapshot(self, tenant_id: UUID, app_id: UUID) -> Entitlement | None:
        key = (tenant_id, app_id)
        try:
            return self._cache[key]
        except KeyError:
            pass
        generation = self._generation
        row = await repository.entitlement(self._db, TenantContext(tenant_id, app_id))
        found = Entitlement.from_row(dict(row)) if row else None
        if generation == self._generation:
            self._cache[key] = found
        return found

    async def admit(
        self, tenant_id: UUID, app_id: UUID, app_slug: str, method: str
    ) -> LicenceState | None:
        """The licence state a request of `app_slug` runs in (None: no licence, unrestricted),
        or the refusal: 403 `licence_blocked`, or `licence_read_only` for a write."""
        if app_slug in UNLICENSED_APPS:
            return None
        entitlement = await self.snapshot(tenant_id, app_id)
        if entitlement is None:
            if self.required:
                raise LicenceBlocked(f"this tenant holds no licence for {app_slug}")
            return None
        return entitlement.admit(method, datetime.now(UTC))

    async def require_feature(
        self, tenant_id: UUID, app_id: UUID, app_slug: str, feature: str
    ) -> None:
        """403 `feature_not_licensed` unless the tenant's licence for the app lists `feature`
        (an app without a licence is unrestricted unless licences are required)."""
        entitlement = await self.snapshot(tenant_id, app_id)
        if entitlement is None:
            if self.required and app_slug not in UNLICENSED_APPS:
                raise FeatureNotLicensed(f"the feature {feature} is not licensed")
            return
        if feature not in entitlement.features:
            raise FeatureNotLicensed(f"the feature {feature} is not licensed")
