"""Who still uses what is deprecated: flags evaluated and endpoints called, per tenant and app.

Routes are marked with `tenantry.http.deprecation.deprecated_endpoint`.

Usage is counted in memory and written at most once a minute per (tenant, kind, name, app) by
a background task, so a hot deprecated path costs a dictionary lookup, not a write.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING
from uuid import UUID

from tenantry.flags.repository import record_deprecated_use
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
        async with self._db.platform_transaction(tenant_id=tenant_id) as tx:
            await record_deprecated_use(tx, tenant_id, kind, name, app_slug, uses)
