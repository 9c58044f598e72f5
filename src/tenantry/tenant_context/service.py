"""The one-call tenant context service: load, cache, invalidate, count deprecated flags."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from tenantry.access.models import Holdings
from tenantry.flags import evaluation
from tenantry.kit.errors import NotFound
from tenantry.kit.invalidation import EVERYTHING
from tenantry.licensing.models import Entitlement
from tenantry.settings.service import effective as effective_settings
from tenantry.tenant_context import repository

if TYPE_CHECKING:
    from tenantry.flags.deprecation import DeprecationRecorder
    from tenantry.identity.principal import Principal
    from tenantry.kit.db import Database, Requirement


@dataclass(frozen=True)
class CachedContext:
    body: dict[str, Any]
    deprecated_flags: tuple[str, ...]
    # The app's licence snapshot; its state depends on the clock, so it is rendered per load.
    entitlement: Entitlement | None = None


class ContextService:
    def __init__(self, db: Database, deprecations: DeprecationRecorder) -> None:
        self._db = db
        self._deprecations = deprecations
        self._cache: dict[tuple[UUID, UUID, UUID], CachedContext] = {}
        # Bumped by every invalidation, so a load that raced with a write is not cached.
        self._generation = 0
        self.hits = 0
        self.misses = 0

    def invalidate(self, scope: str) -> None:
        self._generation += 1
        if scope == EVERYTHING:
            self._cache.clear()
            return
        for key in [k for k in self._cache if str(k[0]) == scope]:
            self._cache.pop(key, None)

    async def load(self, principal: Principal, checks: list[Requirement]) -> dict[str, Any]:
        cached = await self._cached(principal, checks)
        self._count_deprecated(principal, cached)
        if cached.entitlement is None:
            return cached.body
        return {**cached.body, "entitlement": cached.entitlement.as_context(datetime.now(UTC))}

    async def holds(self, principal: Principal, checks: list[Requirement], privilege: str) -> bool:
        """Whether the principal holds `privilege` anywhere (tenant-wide or in a department),
        from the cached context: routes check this before their service decides per object."""
        body = (await self._cached(principal, checks)).body
        return privilege in body["privileges"] or any(
            privilege in held for held in body["department_privileges"].values()
        )

    async def _cached(self, principal: Principal, checks: list[Requirement]) -> CachedContext:
        key = (principal.tenant_id, principal.app_id, principal.app_user_id)
        cached = self._cache.get(key)
        if cached is not None:
            self.hits += 1
            # The credential is still re-checked on every request.
            await self._db.check(principal.context, checks)
        else:
            self.misses += 1
            generation = self._generation
            cached = await self._load(principal, checks)
            if generation == self._generation:
                self._cache[key] = cached
        return cached

    async def _load(self, principal: Principal, checks: list[Requirement]) -> CachedContext:
        row = await repository.load(self._db, principal.context, checks)
        if row["user"] is None or row["tenant"] is None:
            raise NotFound("no such user")
        tenant_row = row["tenant"]
        flags = {
            f["key"]: evaluation.effective(
                f["key"], f["default"], f["overrides"], principal.tenant_id, principal.app_id
            )
            for f in row["flags"]
        }
        body = {
            "user": row["user"],
            "tenant": tenant_row,
            "app": principal.app_slug,
            "settings": effective_settings(tenant_row["plan"], row["settings"]),
            "apps": row["apps"],
            # The app's effective version (pinned, else latest) and this tenant's config of it.
            "app_version": (row["app_registry"] or {}).get("version"),
            "app_config": (row["app_registry"] or {}).get("config", {}),
            "flags": flags,
            "entitlement": None,
            **Holdings.of((p, UUID(d) if d else None) for p, d in row["privileges"]).as_context(),
        }
        deprecated = tuple(f["key"] for f in row["flags"] if f["status"] == "deprecated")
        entitlement = Entitlement.from_row(row["entitlement"]) if row["entitlement"] else None
        return CachedContext(body, deprecated, entitlement)

    def _count_deprecated(self, principal: Principal, cached: CachedContext) -> None:
        for flag in cached.deprecated_flags:
            self._deprecations.seen(principal.tenant_id, "flag", flag, principal.app_slug)
