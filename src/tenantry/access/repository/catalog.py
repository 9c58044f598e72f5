"""The privileges catalog and the role templates (global)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tenantry.access.models import (
    Privilege,
)

if TYPE_CHECKING:
    from collections.abc import Sequence
    from uuid import UUID

    from tenantry.kit.db import Transaction


# The catalog -------------------------------------------------------------------------------


async def list_privileges(tx: Transaction) -> list[Privilege]:
    rows = await tx.fetch_all(
        "SELECT key, description, owner_app_id FROM tenantry.privileges ORDER BY key"
    )
    return [Privilege(**r) for r in rows]


async def existing_privileges(tx: Transaction, keys: Sequence[str]) -> set[str]:
    rows = await tx.fetch_all(
        "SELECT key FROM tenantry.privileges WHERE key = ANY(%s)", [list(keys)]
    )
    return {r["key"] for r in rows}


async def register_privilege(
    tx: Transaction, key: str, description: str, owner_app_id: UUID | None
) -> None:
    await tx.execute(
        """INSERT INTO tenantry.privileges (key, description, owner_app_id) VALUES (%s, %s, %s)
           ON CONFLICT (key) DO UPDATE SET description = excluded.description
            WHERE tenantry.privileges.owner_app_id IS NOT DISTINCT FROM excluded.owner_app_id""",
        [key, description, owner_app_id],
    )


async def privilege_owner(tx: Transaction, key: str) -> tuple[bool, UUID | None]:
    row = await tx.fetch_one("SELECT owner_app_id FROM tenantry.privileges WHERE key = %s", [key])
    return (row is not None, row["owner_app_id"] if row else None)


async def add_template_privilege(tx: Transaction, template: str, key: str) -> None:
    await tx.execute(
        """INSERT INTO tenantry.role_template_privileges (template_key, privilege_key)
           VALUES (%s, %s) ON CONFLICT DO NOTHING""",
        [template, key],
    )


async def templates(tx: Transaction) -> dict[str, list[str]]:
    rows = await tx.fetch_all(
        """SELECT t.key, coalesce(array_agg(p.privilege_key ORDER BY p.privilege_key)
                    FILTER (WHERE p.privilege_key IS NOT NULL), '{}') AS privileges
             FROM tenantry.role_templates t
             LEFT JOIN tenantry.role_template_privileges p ON p.template_key = t.key
            GROUP BY t.key ORDER BY t.key"""
    )
    return {r["key"]: list(r["privileges"]) for r in rows}
