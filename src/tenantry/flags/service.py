"""Managing feature flags and per-tenant overrides, with versions and rollback."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from tenantry.flags import evaluation, repository
from tenantry.flags.repository import Flag, OverrideVersion
from tenantry.kit.errors import Conflict, InvalidInput, NotFound
from tenantry.kit.invalidation import EVERYTHING, notify_in

if TYPE_CHECKING:
    from uuid import UUID

    from tenantry.apps.service import AppDirectory
    from tenantry.audit_log.service import AuditLog
    from tenantry.kit.actor import Actor
    from tenantry.kit.db import Database, Transaction
    from tenantry.tenants.service import TenantDirectory


class FlagService:
    def __init__(
        self, db: Database, apps: AppDirectory, tenants: TenantDirectory, audit: AuditLog
    ) -> None:
        self._db = db
        self._audit = audit
        self._apps = apps
        self._tenants = tenants

    async def all(self) -> list[Flag]:
        async with self._db.platform_transaction() as tx:
            return await repository.list_flags(tx)

    async def define(
        self,
        key: str,
        flag_type: str,
        default: Any,  # noqa: ANN401 - JSON values
        *,
        description: str = "",
        owner: str = "",
        by: Actor,
        reason: str,
    ) -> Flag:
        evaluation.check_value(flag_type, default)
        async with self._db.platform_transaction() as tx:
            if await repository.get_flag(tx, key):
                raise Conflict(f"flag {key!r} already exists")
            flag = Flag(key, flag_type, default, description, owner, "active", 1, datetime.now(UTC))
            saved = await repository.save_flag(tx, flag, by=by, reason=reason, created=True)
            await self._audit.record_platform_in(
                tx,
                action="flag.define",
                object_type="flag",
                object_id=key,
                by=by,
                metadata={"type": flag_type, "default": default, "reason": reason},
            )
            await notify_in(tx, EVERYTHING)
        return saved

    async def update(self, key: str, *, by: Actor, reason: str, **changes: Any) -> Flag:  # noqa: ANN401 - JSON values
        async with self._db.platform_transaction() as tx:
            flag = await repository.get_flag(tx, key, lock=True)
            if flag is None:
                raise NotFound(f"no flag {key!r}")
            if "default_value" in changes:
                evaluation.check_value(flag.type, changes["default_value"])
            if changes.get("status", flag.status) not in {"active", "deprecated"}:
                raise InvalidInput("status must be active or deprecated")
            saved = await repository.save_flag(
                tx, replace(flag, **changes), by=by, reason=reason, created=False
            )
            await self._audit.record_platform_in(
                tx,
                action="flag.update",
                object_type="flag",
                object_id=key,
                by=by,
                metadata={"changes": changes, "reason": reason},
            )
            await notify_in(tx, EVERYTHING)
        return saved

    async def _tenant_id(self, slug: str, *, write: bool = True) -> UUID:
        """The tenant's id, looked up at home: its overrides live where it lives."""
        async with self._db.platform_transaction() as tx:
            return (await self._tenants.require_in(tx, slug, writable=write)).id

    async def _target(
        self, tx: Transaction, key: str, app_slug: str | None
    ) -> tuple[Flag, UUID | None]:
        """The flag and the app (catalogs, copied into every silo)."""
        flag = await repository.get_flag(tx, key)
        if flag is None:
            raise NotFound(f"no flag {key!r}")
        app_id = None
        if app_slug is not None:
            app_id = (await self._apps.require_in(tx, app_slug)).id
        return flag, app_id

    async def set_override(
        self,
        slug: str,
        key: str,
        value: Any,  # noqa: ANN401 - JSON values
        *,
        app_slug: str | None = None,
        rollout_percent: int | None = None,
        by: Actor,
        reason: str,
    ) -> int:
        if rollout_percent is not None and not 0 <= rollout_percent <= 100:  # noqa: PLR2004 - a percentage
            raise InvalidInput("rollout_percent must be between 0 and 100")
        tenant_id = await self._tenant_id(slug)
        async with self._db.platform_transaction(tenant_id=tenant_id) as tx:
            flag, app_id = await self._target(tx, key, app_slug)
            evaluation.check_value(flag.type, value)
            return await self._write_version(
                tx, tenant_id, key, app_id, (value, rollout_percent, False), by, reason
            )

    async def remove_override(
        self, slug: str, key: str, *, app_slug: str | None = None, by: Actor, reason: str
    ) -> int:
        tenant_id = await self._tenant_id(slug)
        async with self._db.platform_transaction(tenant_id=tenant_id) as tx:
            _, app_id = await self._target(tx, key, app_slug)
            if await repository.current_override(tx, tenant_id, key, app_id) is None:
                raise NotFound("no such override")
            return await self._write_version(
                tx, tenant_id, key, app_id, (None, None, True), by, reason, "flag.override_remove"
            )

    async def versions(
        self, slug: str, key: str, *, app_slug: str | None = None
    ) -> list[OverrideVersion]:
        tenant_id = await self._tenant_id(slug, write=False)
        async with self._db.platform_transaction(tenant_id=tenant_id) as tx:
            _, app_id = await self._target(tx, key, app_slug)
            return await repository.override_versions(tx, tenant_id, key, app_id)

    async def rollback(
        self,
        slug: str,
        key: str,
        version: int,
        *,
        app_slug: str | None = None,
        by: Actor,
        reason: str,
    ) -> int:
        """Make the override what it was at `version`, as a new version (history is kept)."""
        tenant_id = await self._tenant_id(slug)
        async with self._db.platform_transaction(tenant_id=tenant_id) as tx:
            _, app_id = await self._target(tx, key, app_slug)
            history = {
                v.version: v for v in await repository.override_versions(tx, tenant_id, key, app_id)
            }
            target = history.get(version)
            if target is None:
                raise NotFound(f"no version {version} of this override")
            state = (target.value, target.rollout_percent, target.removed)
            return await self._write_version(
                tx,
                tenant_id,
                key,
                app_id,
                state,
                by,
                f"rollback to v{version}: {reason}",
                "flag.rollback",
            )

    async def _write_version(
        self,
        tx: Transaction,
        tenant_id: UUID,
        key: str,
        app_id: UUID | None,
        state: tuple[Any, int | None, bool],
        by: Actor,
        reason: str,
        action: str = "flag.override",
    ) -> int:
        """Record the override's next version: (value, rollout percent, removed), and the change
        in the tenant's audit log."""
        value, rollout_percent, removed = state
        version = await repository.next_override_version(tx, tenant_id, key, app_id)
        await repository.write_override(
            tx,
            tenant_id,
            key,
            app_id,
            value=value,
            rollout_percent=rollout_percent,
            removed=removed,
            version=version,
            by=by,
            reason=reason,
        )
        await self._audit.record_in(
            tx,
            tenant_id=tenant_id,
            action=action,
            object_type="flag",
            object_id=key,
            by=by,
            app_id=app_id,
            metadata={
                "version": version,
                "value": value,
                "rollout_percent": rollout_percent,
                "removed": removed,
                "reason": reason,
            },
        )
        await notify_in(tx, str(tenant_id))
        return version

    async def deprecations(self) -> list[dict[str, Any]]:
        async with self._db.platform_transaction() as tx:
            return await repository.deprecation_report(tx)

    async def overrides_for_tenant(self, slug: str) -> list[repository.Override]:
        """Every current override of one tenant's flags, tenant-wide ones first."""
        tenant_id = await self._tenant_id(slug, write=False)
        async with self._db.platform_transaction(tenant_id=tenant_id) as tx:
            return await repository.overrides_for_tenant(tx, tenant_id)
