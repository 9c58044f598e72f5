"""Tenant roles, their own privileges and the tenant's template overrides."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tenantry.access.models import (
    Role,
)
from tenantry.kit.ids import uuid7

if TYPE_CHECKING:
    from uuid import UUID

    from psycopg.rows import DictRow

    from tenantry.kit.db import Transaction

from tenantry.access.repository import _write

# Roles and overrides -----------------------------------------------------------------------

# Every table named by the tenant parameter, not through `r`: Citus then sends the whole
# statement to the tenant's shard (it does not plan a correlated EXCEPT across shards).
_ROLE = """SELECT r.id, r.key, r.name, r.template_key,
       ARRAY(SELECT rp.privilege_key FROM tenantry.role_privileges rp
              WHERE rp.tenant_id = %(tenant)s AND rp.role_id = r.id
             UNION
             (SELECT tp.privilege_key FROM tenantry.role_template_privileges tp
               WHERE tp.template_key = r.template_key
              UNION
              SELECT o.privilege_key FROM tenantry.role_template_overrides o
               WHERE o.tenant_id = %(tenant)s AND o.template_key = r.template_key
                 AND o.effect = 'grant'
              EXCEPT
              SELECT o.privilege_key FROM tenantry.role_template_overrides o
               WHERE o.tenant_id = %(tenant)s AND o.template_key = r.template_key
                 AND o.effect = 'revoke')
             ORDER BY 1) AS privileges
  FROM tenantry.roles r WHERE r.tenant_id = %(tenant)s"""


def _role(row: DictRow) -> Role:
    return Role(row["id"], row["key"], row["name"], row["template_key"], tuple(row["privileges"]))


async def list_roles(tx: Transaction, tenant_id: UUID) -> list[Role]:
    rows = await tx.fetch_all(f"{_ROLE} ORDER BY r.key", {"tenant": tenant_id})
    return [_role(r) for r in rows]


async def get_role(tx: Transaction, tenant_id: UUID, key: str) -> Role | None:
    row = await tx.fetch_one(f"{_ROLE} AND r.key = %(key)s", {"tenant": tenant_id, "key": key})
    return _role(row) if row else None


async def create_role(
    tx: Transaction, tenant_id: UUID, key: str, name: str, template: str | None
) -> UUID:
    role_id = uuid7()
    await tx.execute(
        """INSERT INTO tenantry.roles (tenant_id, id, key, name, template_key)
           VALUES (%s, %s, %s, %s, %s)""",
        [tenant_id, role_id, key, name, template],
    )
    return role_id


async def template_exists(tx: Transaction, key: str) -> bool:
    row = await tx.fetch_one("SELECT 1 AS x FROM tenantry.role_templates WHERE key = %s", [key])
    return row is not None


async def add_role_privilege(tx: Transaction, tenant_id: UUID, role_id: UUID, key: str) -> None:
    await _write(
        tx,
        """INSERT INTO tenantry.role_privileges (tenant_id, id, role_id, privilege_key)
           VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING""",
        [tenant_id, uuid7(), role_id, key],
    )


async def remove_role_privilege(tx: Transaction, tenant_id: UUID, role_id: UUID, key: str) -> bool:
    cursor = await tx.execute(
        """DELETE FROM tenantry.role_privileges
            WHERE tenant_id = %s AND role_id = %s AND privilege_key = %s""",
        [tenant_id, role_id, key],
    )
    return cursor.rowcount > 0


async def delete_role(tx: Transaction, tenant_id: UUID, role_id: UUID) -> None:
    await tx.execute(
        "DELETE FROM tenantry.roles WHERE tenant_id = %s AND id = %s", [tenant_id, role_id]
    )


async def role_ever_assigned(tx: Transaction, tenant_id: UUID, role_id: UUID) -> bool:
    row = await tx.fetch_one(
        """SELECT 1 AS x FROM tenantry.role_assignments
            WHERE tenant_id = %s AND role_id = %s LIMIT 1""",
        [tenant_id, role_id],
    )
    return row is not None


async def set_override(
    tx: Transaction, tenant_id: UUID, template: str, key: str, effect: str
) -> None:
    await _write(
        tx,
        """DELETE FROM tenantry.role_template_overrides
            WHERE tenant_id = %s AND template_key = %s AND privilege_key = %s""",
        [tenant_id, template, key],
    )
    await _write(
        tx,
        """INSERT INTO tenantry.role_template_overrides
                  (tenant_id, id, template_key, privilege_key, effect)
           VALUES (%s, %s, %s, %s, %s)""",
        [tenant_id, uuid7(), template, key, effect],
    )


async def remove_override(tx: Transaction, tenant_id: UUID, template: str, key: str) -> bool:
    cursor = await tx.execute(
        """DELETE FROM tenantry.role_template_overrides
            WHERE tenant_id = %s AND template_key = %s AND privilege_key = %s""",
        [tenant_id, template, key],
    )
    return cursor.rowcount > 0


async def list_overrides(tx: Transaction, tenant_id: UUID) -> list[dict[str, Any]]:
    rows = await tx.fetch_all(
        """SELECT template_key, privilege_key, effect FROM tenantry.role_template_overrides
            WHERE tenant_id = %s ORDER BY template_key, privilege_key""",
        [tenant_id],
    )
    return [dict(r) for r in rows]
