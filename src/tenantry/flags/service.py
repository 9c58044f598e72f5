"""Managing feature flags and per-tenant overrides, with versions and rollback."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from tenantry.apps import repository as apps_repo
from tenantry.flags import evaluation, repository
from tenantry.flags.repository import Flag, OverrideVersion
from tenantry.kit.errors import Conflict, InvalidInput, NotFound
from tenantry.kit.invalidation import EVERYTHING, notify_in
from tenantry.tenants import repository as tenants

if TYPE_CHECKING:
    from uuid import UUID

    from tenantry.kit.db import Database, Transaction


class FlagService:
    def __init__(self, db: Database) -> None:
        self._db = db

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
        actor: str,
        reason: str,
    ) -> Flag:
        evaluation.check_value(flag_type, default)
        async with self._db.platform_transaction() as tx:
            if await repository.get_flag(tx, key):
                raise Conflict(f"flag {key!r} already exists")
            flag = Flag(key, flag_type, default, description, owner, "active", 1, datetime.now(UTC))
            saved = await repository.save_flag(tx, flag, actor=actor, reason=reason, created=True)
            await notify_in(tx, EVERYTHING)
        return saved

    async def update(self, key: str, *, actor: str, reason: str, **changes: Any) -> Flag:  # noqa: ANN401
        async with self._db.platform_transaction() as tx:
            flag = await repository.get_flag(tx, key, lock=True)
            if flag is None:
                raise NotFound(f"no flag {key!r}")
            if "default_value" in changes:
                evaluation.check_value(flag.type, changes["default_value"])
            if changes.get("status", flag.status) not in {"active", "deprecated"}:
                raise InvalidInput("status must be active or deprecated")
            saved = await repository.save_flag(
                tx, replace(flag, **changes), actor=actor, reason=reason, created=False
            )
            await notify_in(tx, EVERYTHING)
        return saved

    async def _target(
        self, tx: Transaction, slug: str, key: str, app_slug: str | None, *, write: bool = True
    ) -> tuple[UUID, Flag, UUID | None]:
        tenant = await tenants.require_tenant(tx, slug, writable=write)
        flag = await repository.get_flag(tx, key)
        if flag is None:
            raise NotFound(f"no flag {key!r}")
        app_id = None
        if app_slug is not None:
            app = await apps_repo.get_by_slug(tx, app_slug)
            if app is None:
                raise NotFound(f"no app {app_slug!r}")
            app_id = app.id
        return tenant.id, flag, app_id

    async def set_override(
        self,
        slug: str,
        key: str,
        value: Any,  # noqa: ANN401 - JSON values
        *,
        app_slug: str | None = None,
        rollout_percent: int | None = None,
        actor: str,
        reason: str,
    ) -> int:
        if rollout_percent is not None and not 0 <= rollout_percent <= 100:  # noqa: PLR2004
            raise InvalidInput("rollout_percent must be between 0 and 100")
        async with self._db.platform_transaction() as tx:
            tenant_id, flag, app_id = await self._target(tx, slug, key, app_slug)
            evaluation.check_value(flag.type, value)
            version = await repository.next_override_version(tx, tenant_id, key, app_id)
            await repository.write_override(
                tx,
                tenant_id,
                key,
                app_id,
                value=value,
                rollout_percent=rollout_percent,
                removed=False,
                version=version,
                actor=actor,
                reason=reason,
            )
            await notify_in(tx, str(tenant_id))
        return version

    async def remove_override(
        self, slug: str, key: str, *, app_slug: str | None = None, actor: str, reason: str
    ) -> int:
        async with self._db.platform_transaction() as tx:
            tenant_id, _, app_id = await self._target(tx, slug, key, app_slug)
            if await repository.current_override(tx, tenant_id, key, app_id) is None:
                raise NotFound("no such override")
            version = await repository.next_override_version(tx, tenant_id, key, app_id)
            await repository.write_override(
                tx,
                tenant_id,
                key,
                app_id,
                value=None,
                rollout_percent=None,
                removed=True,
                version=version,
                actor=actor,
                reason=reason,
            )
            await notify_in(tx, str(tenant_id))
        return version

    async def versions(
        self, slug: str, key: str, *, app_slug: str | None = None
    ) -> list[OverrideVersion]:
        async with self._db.platform_transaction() as tx:
            tenant_id, _, app_id = await self._target(tx, slug, key, app_slug, write=False)
            return await repository.override_versions(tx, tenant_id, key, app_id)

    async def rollback(
        self,
        slug: str,
        key: str,
        version: int,
        *,
        app_slug: str | None = None,
        actor: str,
        reason: str,
    ) -> int:
        """Make the override what it was at `version`, as a new version (history is kept)."""
        async with self._db.platform_transaction() as tx:
            tenant_id, _, app_id = await self._target(tx, slug, key, app_slug)
            history = {
                v.version: v for v in await repository.override_versions(tx, tenant_id, key, app_id)
            }
            target = history.get(version)
            if target is None:
                raise NotFound(f"no version {version} of this override")
            new_version = await repository.next_override_version(tx, tenant_id, key, app_id)
            await repository.write_override(
                tx,
                tenant_id,
                key,
                app_id,
                value=target.value,
                rollout_percent=target.rollout_percent,
                removed=target.removed,
                version=new_version,
                actor=actor,
                reason=f"rollback to v{version}: {reason}",
            )
            await notify_in(tx, str(tenant_id))
        return new_version

    async def deprecations(self) -> list[dict[str, Any]]:
        async with self._db.platform_transaction() as tx:
            return await repository.deprecation_report(tx)
