"""Who still uses what is deprecated: flags evaluated and endpoints called, per tenant and app.

Usage is counted in memory and written at most once a minute per (tenant, kind, name, app) by
a background task, so a hot deprecated path costs a dictionary lookup, not a write.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any
from uuid import UUID

from fastapi import Depends, Request, Response

from tenantry.flags.repository import record_deprecated_use
from tenantry.identity.auth import Requires
from tenantry.identity.principal import Principal, Scope
from tenantry.kit.invalidation import BackgroundTasks

if TYPE_CHECKING:
    from tenantry.kit.db import Database

REPORT_SECONDS = 60.0
Key = tuple[UUID, str, str, str]


class DeprecationRecorder:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._pending: dict[Key, int] = {}
        self._reported: dict[Key, float] = {}
        self._tasks = BackgroundTasks()

    def seen(self, tenant_id: UUID, kind: str, name: str, app_slug: str) -> None:
        key = (tenant_id, kind, name, app_slug)
        self._pending[key] = self._pending.get(key, 0) + 1
        now = time.monotonic()
        if now - self._reported.get(key, -1e9) < REPORT_SECONDS:
            return
        self._reported[key] = now
        self._tasks.spawn(self._write(key, self._pending.pop(key)))

    async def _write(self, key: Key, uses: int) -> None:
        tenant_id, kind, name, app_slug = key
        async with self._db.platform_transaction() as tx:
            await record_deprecated_use(tx, tenant_id, kind, name, app_slug, uses)


def deprecated_endpoint(
    name: str, sunset: str | None = None, scopes: tuple[Scope, ...] = (Scope.PROFILE,)
) -> Any:  # noqa: ANN401 - a Depends
    """Mark an app route deprecated: `Deprecation`/`Sunset` headers (RFC 9745, RFC 8594) and a
    per-tenant usage count. Use as `dependencies=[deprecated_endpoint("GET /v1/old")]`; it
    authenticates the caller itself, with `scopes` (give the route's own, and FastAPI shares
    one authentication between the two)."""

    # A default rather than an Annotated hint: the hint would be evaluated later, as a string,
    # where `scopes` is out of reach.
    async def mark(
        request: Request,
        response: Response,
        principal: Principal = Requires(*scopes),  # noqa: B008
    ) -> None:
        response.headers["Deprecation"] = "true"
        if sunset:
            response.headers["Sunset"] = sunset
        request.app.state.services.deprecations.seen(
            principal.tenant_id, "endpoint", name, principal.app_slug
        )

    return Depends(mark)
