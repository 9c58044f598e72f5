"""SQL for the global apps catalog."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from uuid import UUID

    from tenantry.kit.db import Transaction


@dataclass(frozen=True, slots=True)
class App:
    id: UUID
    slug: str
    name: str
    status: str


async def get_by_slug(tx: Transaction, slug: str) -> App | None:
    row = await tx.fetch_one(
        "SELECT id, slug, name, status FROM tenantry.apps WHERE slug = %s", [slug]
    )
    return App(**row) if row else None


async def list_all(tx: Transaction) -> list[App]:
    rows = await tx.fetch_all("SELECT id, slug, name, status FROM tenantry.apps ORDER BY slug")
    return [App(**row) for row in rows]
