"""Departments (a tree) and their members."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tenantry.access.models import (
    Department,
)
from tenantry.kit.ids import uuid7

if TYPE_CHECKING:
    from uuid import UUID

    from psycopg.rows import DictRow

    from tenantry.kit.db import Transaction

from tenantry.access.repository import _write

# Departments and members -------------------------------------------------------------------

_DEPARTMENT = "SELECT id, parent_id, name, path FROM tenantry.departments"


def _department(row: DictRow) -> Department:
    return Department(row["id"], row["parent_id"], row["name"], tuple(row["path"]))


async def create_department(
    tx: Transaction, tenant_id: UUID, name: str, parent_id: UUID | None
) -> Department:
    row = await (
        await _write(
            tx,
            """INSERT INTO tenantry.departments (tenant_id, id, parent_id, name, path)
           VALUES (%s, %s, %s, %s, '{}') RETURNING id, parent_id, name, path""",
            [tenant_id, uuid7(), parent_id, name],
        )
    ).fetchone()
    assert row is not None
    return _department(row)


async def get_department(
    tx: Transaction, tenant_id: UUID, department_id: UUID
) -> Department | None:
    row = await tx.fetch_one(
        f"{_DEPARTMENT} WHERE tenant_id = %s AND id = %s", [tenant_id, department_id]
    )
    return _department(row) if row else None


async def list_departments(tx: Transaction, tenant_id: UUID) -> list[Department]:
    rows = await tx.fetch_all(f"{_DEPARTMENT} WHERE tenant_id = %s ORDER BY path", [tenant_id])
    return [_department(r) for r in rows]


async def update_department(
    tx: Transaction, tenant_id: UUID, department_id: UUID, name: str, parent_id: UUID | None
) -> Department:
    row = await (
        await _write(
            tx,
            """UPDATE tenantry.departments SET name = %s, parent_id = %s
            WHERE tenant_id = %s AND id = %s RETURNING id, parent_id, name, path""",
            [name, parent_id, tenant_id, department_id],
        )
    ).fetchone()
    assert row is not None
    return _department(row)


async def department_in_use(tx: Transaction, tenant_id: UUID, department_id: UUID) -> bool:
    row = await tx.fetch_one(
        """SELECT EXISTS (SELECT 1 FROM tenantry.departments
                           WHERE tenant_id = %s AND parent_id = %s)
               OR EXISTS (SELECT 1 FROM tenantry.role_assignments
                           WHERE tenant_id = %s AND subject_kind = 'department'
                             AND subject_id = %s)
               OR EXISTS (SELECT 1 FROM tenantry.role_assignments
                           WHERE tenant_id = %s AND scope_department_id = %s) AS used""",
        [tenant_id, department_id] * 3,
    )
    return bool(row and row["used"])


async def delete_department(tx: Transaction, tenant_id: UUID, department_id: UUID) -> None:
    await tx.execute(
        "DELETE FROM tenantry.departments WHERE tenant_id = %s AND id = %s",
        [tenant_id, department_id],
    )


async def add_member(
    tx: Transaction, tenant_id: UUID, department_id: UUID, app_id: UUID, user_id: UUID
) -> None:
    await _write(
        tx,
        """INSERT INTO tenantry.department_members
                  (tenant_id, id, department_id, user_app_id, app_user_id)
           VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING""",
        [tenant_id, uuid7(), department_id, app_id, user_id],
    )


async def remove_member(
    tx: Transaction, tenant_id: UUID, department_id: UUID, user_id: UUID
) -> bool:
    cursor = await tx.execute(
        """DELETE FROM tenantry.department_members
            WHERE tenant_id = %s AND department_id = %s AND app_user_id = %s""",
        [tenant_id, department_id, user_id],
    )
    return cursor.rowcount > 0


async def list_members(
    tx: Transaction, tenant_id: UUID, department_id: UUID
) -> list[dict[str, Any]]:
    rows = await tx.fetch_all(
        """SELECT app_user_id, user_app_id AS app_id FROM tenantry.department_members
            WHERE tenant_id = %s AND department_id = %s ORDER BY app_user_id""",
        [tenant_id, department_id],
    )
    return [dict(r) for r in rows]


async def user_paths(tx: Transaction, tenant_id: UUID, user_id: UUID) -> list[tuple[UUID, ...]]:
    """The path (root to department) of each department `user_id` belongs to."""
    rows = await tx.fetch_all(
        """SELECT d.path FROM tenantry.department_members m
             JOIN tenantry.departments d ON d.tenant_id = m.tenant_id AND d.id = m.department_id
            WHERE m.tenant_id = %s AND m.app_user_id = %s""",
        [tenant_id, user_id],
    )
    return [tuple(r["path"]) for r in rows]
