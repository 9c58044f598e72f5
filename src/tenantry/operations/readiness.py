"""Readiness: the database answers, and its schema is at the code's migration head."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from tenantry.kit.migrate import current_revision, head_revision

if TYPE_CHECKING:
    from tenantry.kit.db import Database


@dataclass(frozen=True, slots=True)
class Readiness:
    status: str  # ready, migrations_pending or database_unreachable
    current: str | None = None
    head: str | None = None

    @property
    def ready(self) -> bool:
        return self.status == "ready"


async def readiness(db: Database) -> Readiness:
    try:
        async with db.platform_transaction() as tx:
            current = await current_revision(tx)
    except Exception:  # noqa: BLE001 - any failure means not ready
        return Readiness("database_unreachable")
    head = head_revision()
    if current != head:
        return Readiness("migrations_pending", current, head)
    return Readiness("ready", current, head)
