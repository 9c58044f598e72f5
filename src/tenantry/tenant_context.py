"""The tenant context in one call: user, tenant, settings, enabled apps and effective flags.

Loaded by one SQL statement (one round trip, as the runtime role in the caller's signed
context), cached per tenant, app and user, and dropped when any write that affects the tenant
commits (see `tenantry.kit.invalidation`). Deprecated flags that a tenant still evaluates are
counted, so operators know who depends on them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tenantry.flags import evaluation
from tenantry.kit.errors import NotFound
from tenantry.kit.invalidation import EVERYTHING
from tenantry.settings.service import effective as effective_settings

if TYPE_CHECKING:
    from uuid import UUID

    from tenantry.flags.deprecation import DeprecationRecorder
    from tenantry.identity.principal import Principal
    from tenantry.kit.db import Database, Requirement


CONTEXT_SQL = """
SELECT
  (SELECT row_to_json(u) FROM (
      SELECT id, email, display_name, email_verified, mfa_enabled FROM tenantry.app_users
       WHERE tenant_id = %s AND app_id = %s AND id = %s) u) AS user,
  (SELECT row_to_json(t) FROM (
      SELECT id, slug, name, status, plan FROM tenantry.tenants WHERE id = %s) t) AS tenant,
  (SELECT coalesce(jsonb_object_agg(key, value), '{}') FROM tenantry.tenant_settings
    WHERE tenant_id = %s) AS settings,
  (SELECT coalesce(jsonb_agg(a.slug ORDER BY a.slug), '[]') FROM tenantry.tenant_apps ta
     JOIN tenantry.apps a ON a.id = ta.app_id WHERE ta.tenant_id = %s) AS apps,
  (SELECT coalesce(jsonb_agg(jsonb_build_object(
            'key', f.key, 'default', f.default_value, 'status', f.status,
            'overrides', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                                'app_id', o.app_id, 'value', o.value,
                                'rollout_percent', o.rollout_percent)), '[]')
                            FROM tenantry.feature_flag_overrides o
                           WHERE o.tenant_id = %s AND o.flag_key = f.key
                             AND (o.app_id IS NULL OR o.app_id = %s)))), '[]')
     FROM tenantry.feature_flags f) AS flags
"""


@dataclass(frozen=True)
class CachedContext:
    body: dict[str, Any]
    deprecated_flags: tuple[str, ...]


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
        key = (principal.tenant_id, principal.app_id, principal.app_user_id)
        cached = self._cache.get(key)
        if cached is not None:
            self.hits += 1
            if checks:  # the credential is still re-checked on every request
                await self._db.read(principal.context, "SELECT 1 AS ok", require=checks)
        else:
            self.misses += 1
            generation = self._generation
            cached = await self._load(principal, checks)
            if generation == self._generation:
                self._cache[key] = cached
        self._count_deprecated(principal, cached)
        return cached.body

    async def _load(self, principal: Principal, checks: list[Requirement]) -> CachedContext:
        tenant, app = principal.tenant_id, principal.app_id
        rows = await self._db.read(
            principal.context,
            CONTEXT_SQL,
            [tenant, app, principal.app_user_id, tenant, tenant, tenant, tenant, app],
            require=checks,
        )
        row = rows[0]
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
            "flags": flags,
        }
        deprecated = tuple(f["key"] for f in row["flags"] if f["status"] == "deprecated")
        return CachedContext(body, deprecated)

    def _count_deprecated(self, principal: Principal, cached: CachedContext) -> None:
        for flag in cached.deprecated_flags:
            self._deprecations.seen(principal.tenant_id, "flag", flag, principal.app_slug)
