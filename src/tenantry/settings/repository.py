"""Every statement on tenant settings and their history (platform role)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from psycopg.types.json import Jsonb

from tenantry.kit.ids import uuid7

if TYPE_CHECKING:
    from uuid import UUID

    from psycopg.rows import DictRow

    from tenantry.kit.actor import Actor
    from tenantry.kit.db import Transaction


async def stored(tx: Transaction, tenant_id: UUID) -> dict[str, Any]:
    rows = await tx.fetch_all(
        "SELECT key, value FROM tenantry.tenant_settings WHERE tenant_id = %s", [tenant_id]
    )
    return {r["key"]: r["value"] for r in rows}


async def stored_value(tx: Transaction, tenant_id: UUID, key: str) -> DictRow | None:
    """The tenant's plan, whether it stores `key` and the stored value; None when the
    transaction cannot see the tenant (another tenant's context sees no row)."""
    return await tx.fetch_one(
        """SELECT t.plan, s.key IS NOT NULL AS stored, s.value
             FROM tenantry.tenants t
             LEFT JOIN tenantry.tenant_settings s ON s.tenant_id = t.id AND s.key = %s
            WHERE t.id = %s""",
        [key, tenant_id],
    )


async def write(
    tx: Transaction,
    tenant_id: UUID,
    key: str,
    value: Any,  # noqa: ANN401 - JSON values
    *,
    by: Actor,
    reason: str,
) -> None:
    """Store a value and its history row; the old value is locked while it is replaced."""
    old = await tx.fetch_one(
        "SELECT value FROM tenantry.tenant_settings WHERE tenant_id = %s AND key = %s FOR UPDATE",
        [tenant_id, key],
    )
    await tx.execute(
        """INSERT INTO tenantry.tenant_settings (tenant_id, id, key, value, updated_by)
           VALUES (%s, %s, %s, %s, %s)
           ON CONFLICT (tenant_id, key) DO UPDATE
              SET value = excluded.value, updated_at = excluded.updated_at,
                  updated_by = excluded.updated_by""",
        [tenant_id, uuid7(), key, Jsonb(value), str(by)],
    )
    await tx.execute(
        """INSERT INTO tenantry.tenant_setting_history
               (tenant_id, id, key, old_value, new_value, actor, reason)
           VALUES (%s, %s, %s, %s, %s, %s, %s)""",
        [
            tenant_id,
            uuid7(),
            key,
            Jsonb(old["value"]) if old else None,
            Jsonb(value),
            str(by),
            reason,
        ],
    )


async def history(tx: Transaction, tenant_id: UUID, key: str | None) -> list[dict[str, Any]]:
    return await tx.fetch_all(
        """SELECT key, old_value, new_value, actor, reason, created_at
             FROM tenantry.tenant_setting_history
            WHERE tenant_id = %s AND (%s::text IS NULL OR key = %s) ORDER BY id DESC""",
        [tenant_id, key, key],
    )
