"""Reading and changing tenant settings (platform path; the runtime role only reads them)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from psycopg.types.json import Jsonb

from tenantry.kit.errors import NotFound
from tenantry.kit.ids import uuid7
from tenantry.kit.invalidation import notify_in
from tenantry.settings import registry
from tenantry.tenants import repository as tenants

if TYPE_CHECKING:
    from uuid import UUID

    from tenantry.kit.db import Database, Transaction


def effective(plan: str, stored: dict[str, Any]) -> dict[str, Any]:
    """Plan defaults overlaid with the tenant's own values (unknown stored keys are ignored)."""
    values = registry.defaults_for(plan)
    values.update({k: v for k, v in stored.items() if k in registry.DEFINITIONS})
    return values


async def write_setting(
    tx: Transaction,
    tenant_id: UUID,
    key: str,
    value: Any,  # noqa: ANN401 - JSON values
    *,
    actor: str,
    reason: str,
) -> Any:  # noqa: ANN401 - JSON values
    clean = registry.definition(key).validate(value)
    old = await tx.fetch_one(
        "SELECT value FROM tenantry.tenant_settings WHERE tenant_id = %s AND key = %s FOR UPDATE",
        [tenant_id, key],
    )
    await tx.execute(
        """INSERT INTO tenantry.tenant_settings (tenant_id, id, key, value, updated_by)
           VALUES (%s, %s, %s, %s, %s)
           ON CONFLICT (tenant_id, key) DO UPDATE
              SET value = excluded.value, updated_at = now(), updated_by = excluded.updated_by""",
        [tenant_id, uuid7(), key, Jsonb(clean), actor],
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
            Jsonb(clean),
            actor,
            reason,
        ],
    )
    await notify_in(tx, str(tenant_id))
    return clean


class SettingsService:
    def __init__(self, db: Database) -> None:
        self._db = db

    @staticmethod
    def validate(key: str, value: Any) -> Any:  # noqa: ANN401 - JSON values
        return registry.definition(key).validate(value)

    @staticmethod
    async def write_in(
        tx: Transaction,
        tenant_id: UUID,
        key: str,
        value: Any,  # noqa: ANN401 - JSON values
        *,
        actor: str,
        reason: str,
    ) -> Any:  # noqa: ANN401 - JSON values
        """Write a setting inside the caller's transaction (provisioning)."""
        return await write_setting(tx, tenant_id, key, value, actor=actor, reason=reason)

    async def _tenant(self, tx: Transaction, slug: str) -> tenants.TenantRecord:
        tenant = await tenants.get_record(tx, slug)
        if tenant is None:
            raise NotFound(f"no tenant {slug!r}")
        return tenant

    async def effective(self, slug: str) -> dict[str, Any]:
        async with self._db.platform_transaction() as tx:
            tenant = await self._tenant(tx, slug)
            rows = await tx.fetch_all(
                "SELECT key, value FROM tenantry.tenant_settings WHERE tenant_id = %s", [tenant.id]
            )
        return effective(tenant.plan, {r["key"]: r["value"] for r in rows})

    async def set(self, slug: str, key: str, value: Any, *, actor: str, reason: str) -> Any:  # noqa: ANN401
        async with self._db.platform_transaction() as tx:
            tenant = await tenants.get_writable(tx, slug)
            return await write_setting(tx, tenant.id, key, value, actor=actor, reason=reason)

    async def history(self, slug: str, key: str | None = None) -> list[dict[str, Any]]:
        async with self._db.platform_transaction() as tx:
            tenant = await self._tenant(tx, slug)
            return await tx.fetch_all(
                """SELECT key, old_value, new_value, actor, reason, created_at
                     FROM tenantry.tenant_setting_history
                    WHERE tenant_id = %s AND (%s::text IS NULL OR key = %s) ORDER BY id DESC""",
                [tenant.id, key, key],
            )
