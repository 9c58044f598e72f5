"""SQL for a tenant's apps: status, pinned version, config and their history."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from psycopg.types.json import Jsonb

from tenantry.kit.ids import uuid7
from tenantry.registry.models import TenantApp, TenantAppChange

if TYPE_CHECKING:
    from uuid import UUID

    from tenantry.kit.context import TenantContext
    from tenantry.kit.db import Database, Transaction

_TENANT_APP = """
    SELECT ta.app_id, a.slug, a.name, ta.status, ta.pinned_version, a.latest_version,
           ta.config, ta.config_revision, ta.enabled_at, ta.updated_at
      FROM tenantry.tenant_apps ta JOIN tenantry.apps a ON a.id = ta.app_id
"""


async def of_tenant(tx: Transaction, tenant_id: UUID) -> list[TenantApp]:
    rows = await tx.fetch_all(f"{_TENANT_APP} WHERE ta.tenant_id = %s ORDER BY a.slug", [tenant_id])
    return [TenantApp(**row) for row in rows]


async def read_own(db: Database, context: TenantContext) -> list[TenantApp]:
    """A tenant's apps read as the runtime role in its own context (row-level security)."""
    rows = await db.read(context, f"{_TENANT_APP} ORDER BY a.slug")
    return [TenantApp(**row) for row in rows]


async def one(
    tx: Transaction, tenant_id: UUID, app_id: UUID, *, lock: bool = False
) -> TenantApp | None:
    suffix = " FOR UPDATE OF ta" if lock else ""
    row = await tx.fetch_one(
        f"{_TENANT_APP} WHERE ta.tenant_id = %s AND ta.app_id = %s{suffix}", [tenant_id, app_id]
    )
    return TenantApp(**row) if row else None


async def add(tx: Transaction, tenant_id: UUID, app_id: UUID) -> None:
    await tx.execute(
        "INSERT INTO tenantry.tenant_apps (tenant_id, app_id) VALUES (%s, %s)", [tenant_id, app_id]
    )


async def write(
    tx: Transaction,
    tenant_id: UUID,
    app_id: UUID,
    *,
    status: str,
    pinned_version: str | None,
    config: dict[str, Any],
    revision: int,
) -> None:
    await tx.execute(
        """UPDATE tenantry.tenant_apps
              SET status = %s, pinned_version = %s, config = %s, config_revision = %s,
                  updated_at = now()
            WHERE tenant_id = %s AND app_id = %s""",
        [status, pinned_version, Jsonb(config), revision, tenant_id, app_id],
    )


async def record(
    tx: Transaction,
    tenant_id: UUID,
    app_id: UUID,
    *,
    revision: int,
    status: str,
    pinned_version: str | None,
    config: dict[str, Any],
    by: str,
    reason: str,
) -> None:
    await tx.execute(
        """INSERT INTO tenantry.tenant_app_history
               (tenant_id, id, app_id, revision, status, pinned_version, config, changed_by,
                reason)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)""",
        [tenant_id, uuid7(), app_id, revision, status, pinned_version, Jsonb(config), by, reason],
    )


async def history(tx: Transaction, tenant_id: UUID, app_id: UUID) -> list[TenantAppChange]:
    rows = await tx.fetch_all(
        """SELECT revision, status, pinned_version, config, changed_by, reason, changed_at
             FROM tenantry.tenant_app_history
            WHERE tenant_id = %s AND app_id = %s ORDER BY revision DESC""",
        [tenant_id, app_id],
    )
    return [TenantAppChange(**row) for row in rows]


async def effective(
    tx: Transaction, tenant_id: UUID, app_id: UUID
) -> tuple[str, str | None] | None:
    """What the gateway needs: the tenant's status for the app and its effective version."""
    row = await tx.fetch_one(
        """SELECT ta.status, coalesce(ta.pinned_version, a.latest_version) AS version
             FROM tenantry.tenant_apps ta JOIN tenantry.apps a ON a.id = ta.app_id
            WHERE ta.tenant_id = %s AND ta.app_id = %s""",
        [tenant_id, app_id],
    )
    return (row["status"], row["version"]) if row else None
