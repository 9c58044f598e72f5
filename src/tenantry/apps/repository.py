"""SQL for the global apps catalog."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tenantry.apps.models import App

if TYPE_CHECKING:
    from tenantry.kit.db import Transaction


async def get_by_slug(tx: Transaction, slug: str) -> App | None:
    row = await tx.fetch_one(
        "SELECT id, slug, name, status FROM tenantry.apps WHERE slug = %s", [slug]
    )
    return App(**row) if row else None


async def list_all(tx: Transaction) -> list[App]:
    rows = await tx.fetch_all("SELECT id, slug, name, status FROM tenantry.apps ORDER BY slug")
    return [App(**row) for row in rows]
