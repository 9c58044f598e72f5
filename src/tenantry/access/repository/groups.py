"""Groups and their members."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import psycopg

from tenantry.access.models import Group
from tenantry.access.repository import _write
from tenantry.kit.errors import Conflict
from tenantry.kit.ids import uuid7

if TYPE_CHECKING:
    from uuid import UUID

    from psycopg.rows import DictRow

    from tenantry.kit.db import Transaction

_GROUP = "SELECT id, name, description FROM tenantry.groups"


def _group(row: DictRow) -> Group:
    return Group(row["id"], row["name"], row["description"])


async def create_group(tx: Transaction, tenant_id: UUID, name: str, description: str) -> Group:
    try:
        cursor = await _write(
            tx,
            """INSERT INTO tenantry.groups (tenant_id, id, name, description)
               VALUES (%s, %s, %s, %s) RETURNING id, name, description""",
            [tenant_id, uuid7(), name, description],
        )
    except psycopg.errors.UniqueViolation as exc:
        raise Conflict(f"a group named {name!r} exists already") from exc
    row = await cursor.fetchone()
    assert row is not None
    return _group(row)


async def get_group(tx: Transaction, tenant_id: UUID, group_id: UUID) -> Group | None:
    row = await tx.fetch_one(f"{_GROUP} WHERE tenant_id = %s AND id = %s", [tenant_id, group_id])
    return _group(row) if row else None


async def list_groups(tx: Transaction, tenant_id: UUID) -> list[Group]:
    rows = await tx.fetch_all(f"{_GROUP} WHERE tenant_id = %s ORDER BY name", [tenant_id])
    return [_group(r) for r in rows]


async def update_group(
    tx: Transaction, tenant_id: UUID, group_id: UUID, name: str, description: str
) -> Group | None:
    try:
        cursor = await _write(
            tx,
            """UPDATE tenantry.groups SET name = %s, description = %s
                WHERE tenant_id = %s AND id = %s RETURNING id, name, description""",
            [name, description, tenant_id, group_id],
        )
    except psycopg.errors.UniqueViolation as exc:
        raise Conflict(f"a group named {name!r} exists already") from exc
    row = await cursor.fetchone()
    return _group(row) if row else None


async def group_assigned(tx: Transaction, tenant_id: UUID, group_id: UUID) -> bool:
    row = await tx.fetch_one(
        """SELECT EXISTS (SELECT 1 FROM tenantry.role_assignments
                           WHERE tenant_id = %s AND subject_kind = 'group' AND subject_id = %s
                             AND revoked_at IS NULL) AS used""",
        [tenant_id, group_id],
    )
    return bool(row and row["used"])


async def delete_group(tx: Transaction, tenant_id: UUID, group_id: UUID) -> bool:
    cursor = await tx.execute(
        "DELETE FROM tenantry.groups WHERE tenant_id = %s AND id = %s", [tenant_id, group_id]
    )
    return cursor.rowcount > 0


async def add_member(
    tx: Transaction, tenant_id: UUID, group_id: UUID, app_id: UUID, user_id: UUID
) -> None:
    await _write(
        tx,
        """INSERT INTO tenantry.group_memberships
                  (tenant_id, id, group_id, user_app_id, app_user_id)
           VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING""",
        [tenant_id, uuid7(), group_id, app_id, user_id],
    )


async def remove_member(tx: Transaction, tenant_id: UUID, group_id: UUID, user_id: UUID) -> bool:
    cursor = await tx.execute(
        """DELETE FROM tenantry.group_memberships
            WHERE tenant_id = %s AND group_id = %s AND app_user_id = %s""",
        [tenant_id, group_id, user_id],
    )
    return cursor.rowcount > 0


async def list_members(tx: Transaction, tenant_id: UUID, group_id: UUID) -> list[dict[str, Any]]:
    rows = await tx.fetch_all(
        """SELECT app_user_id, user_app_id AS app_id FROM tenantry.group_memberships
            WHERE tenant_id = %s AND group_id = %s ORDER BY app_user_id""",
        [tenant_id, group_id],
    )
    return [dict(r) for r in rows]
