"""Reading and changing tenant settings (platform path; the runtime role only reads them)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tenantry.kit.errors import NotFound
from tenantry.kit.invalidation import notify_in
from tenantry.settings import registry, repository

if TYPE_CHECKING:
    from uuid import UUID

    from tenantry.audit_log.service import AuditLog
    from tenantry.kit.actor import Actor
    from tenantry.kit.db import Database, Transaction
    from tenantry.tenants.service import TenantDirectory


def effective(plan: str, stored: dict[str, Any]) -> dict[str, Any]:
    """Plan defaults overlaid with the tenant's own values (unknown stored keys are ignored)."""
    values = registry.defaults_for(plan)
    values.update({k: v for k, v in stored.items() if k in registry.DEFINITIONS})
    return values


class SettingsService:
    def __init__(self, db: Database, tenants: TenantDirectory, audit: AuditLog) -> None:
        self._db = db
        self._tenants = tenants
        self._audit = audit

    @staticmethod
    def validate(key: str, value: Any) -> Any:  # noqa: ANN401 - JSON values
        return registry.definition(key).validate(value)

    @staticmethod
    async def effective_value_in(tx: Transaction, tenant_id: UUID, key: str) -> Any:  # noqa: ANN401 - JSON values
        """One setting's effective value for the tenant, read in the caller's transaction: its
        own value, else its plan's default. Works in the tenant's own context (the runtime
        role reads its tenant's settings); a tenant the context cannot see is NotFound."""
        found = registry.definition(key)
        row = await repository.stored_value(tx, tenant_id, key)
        if row is None:
            raise NotFound("no such tenant")
        return row["value"] if row["stored"] else found.default_for(row["plan"])

    async def write_in(
        self,
        tx: Transaction,
        tenant_id: UUID,
        key: str,
        value: Any,  # noqa: ANN401 - JSON values
        *,
        by: Actor,
        reason: str,
    ) -> Any:  # noqa: ANN401 - JSON values
        """Validate and write a setting inside the caller's transaction (also provisioning's),
        recorded in the tenant's audit log in that same transaction."""
        clean = SettingsService.validate(key, value)
        await repository.write(tx, tenant_id, key, clean, by=by, reason=reason)
        await self._audit.record_in(
            tx,
            tenant_id=tenant_id,
            action="setting.change",
            object_type="setting",
            object_id=key,
            by=by,
            metadata={"value": clean, "reason": reason},
        )
        await notify_in(tx, str(tenant_id))
        return clean

    # The tenant is looked up at home; its settings are read and written where it lives.
    async def effective(self, slug: str) -> dict[str, Any]:
        async with self._db.platform_transaction() as tx:
            tenant = await self._tenants.require_in(tx, slug)
        async with self._db.platform_transaction(tenant_id=tenant.id) as tx:
            values = await repository.stored(tx, tenant.id)
        return effective(tenant.plan, values)

    async def set(self, slug: str, key: str, value: Any, *, by: Actor, reason: str) -> Any:  # noqa: ANN401 - JSON values
        async with self._db.platform_transaction() as tx:
            tenant = await self._tenants.require_in(tx, slug, writable=True)
        async with self._db.platform_transaction(tenant_id=tenant.id) as tx:
            return await self.write_in(tx, tenant.id, key, value, by=by, reason=reason)

    async def history(self, slug: str, key: str | None = None) -> list[dict[str, Any]]:
        async with self._db.platform_transaction() as tx:
            tenant = await self._tenants.require_in(tx, slug)
        async with self._db.platform_transaction(tenant_id=tenant.id) as tx:
            return await repository.history(tx, tenant.id, key)

    async def audit_retention_days(self, slug: str) -> int:
        """How long this tenant keeps its audit log: its own setting or its plan's default."""
        days: int = (await self.effective(slug))["audit_retention_days"]
        return days
