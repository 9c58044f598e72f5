"""Readiness: the database answers, its schema is at the code's migration head, and at least one
cache-invalidation channel is connected (without one, a process could go on serving a tenant
that another process suspended). Each dependency is reported on its own."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tenantry.kit.migrate import current_revision, head_revision

if TYPE_CHECKING:
    from collections.abc import Mapping

    from tenantry.kit.db import Database


@dataclass(frozen=True, slots=True)
class Readiness:
    # ready, migrations_pending, database_unreachable or invalidation_disconnected
    status: str
    current: str | None = None
    head: str | None = None
    # Each dependency's state, e.g. {"database": "ready", "invalidation.redis": "connected"}.
    dependencies: dict[str, str] = field(default_factory=dict)

    @property
    def ready(self) -> bool:
        return self.status == "ready"


async def readiness(db: Database, invalidation: Mapping[str, str], mail: str) -> Readiness:
    """`invalidation`: each listener channel's state; `mail`: how mail leaves (reported only:
    with SMTP down, mail waits in the outbox)."""
    dependencies = {f"invalidation.{name}": state for name, state in invalidation.items()}
    dependencies["mail"] = mail
    try:
        async with db.platform_transaction() as tx:
            current = await current_revision(tx)
    except Exception:  # noqa: BLE001 - any failure means not ready
        return Readiness("database_unreachable", dependencies={"database": "unreachable"})
    head = head_revision()
    if current != head:
        dependencies["database"] = "migrations_pending"
        return Readiness("migrations_pending", current, head, dependencies)
    dependencies["database"] = "ready"
    if "connected" not in invalidation.values():
        return Readiness("invalidation_disconnected", current, head, dependencies)
    return Readiness("ready", current, head, dependencies)
