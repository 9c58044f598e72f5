"""A tenant's apps: enable and disable (a disabled app keeps every row of its data), pin a
version or follow the latest, and a config validated against the effective version's settings
schema. Every change is a revision in `tenant_app_history` and an entry in the audit log."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tenantry.kit.errors import NotFound
from tenantry.kit.invalidation import notify_in
from tenantry.registry import manifest as manifests
from tenantry.registry.models import InvalidAppConfig, TenantApp
from tenantry.registry.repository import catalog, tenant_apps

if TYPE_CHECKING:
    from uuid import UUID

    from tenantry.apps.service import AppDirectory
    from tenantry.audit_log.service import AuditLog
    from tenantry.kit.actor import Actor
    from tenantry.kit.context import TenantContext
    from tenantry.kit.db import Database, Transaction
    from tenantry.registry.models import TenantAppChange
    from tenantry.tenants.service import TenantDirectory


@dataclass(frozen=True, slots=True)
class _State:
    status: str
    pinned_version: str | None
    config: dict[str, Any]


class TenantApps:
    def __init__(
        self, db: Database, apps: AppDirectory, tenants: TenantDirectory, audit: AuditLog
    ) -> None:
        self._db = db
        self._apps = apps
        self._tenants = tenants
        self._audit = audit

    async def of_tenant(self, slug: str) -> list[TenantApp]:
        tenant_id = await self._tenant_id(slug)
        async with self._db.platform_transaction(tenant_id=tenant_id) as tx:
            return await tenant_apps.of_tenant(tx, tenant_id)

    async def _tenant_id(self, slug: str, *, writable: bool = False) -> UUID:
        """The tenant's id, looked up at home: its apps are rows of its own, where it lives."""
        async with self._db.platform_transaction() as tx:
            return (await self._tenants.require_in(tx, slug, writable=writable)).id

    async def own(self, context: TenantContext) -> list[TenantApp]:
        """The caller's tenant's apps, read in its own context (tenant administrators)."""
        return await tenant_apps.read_own(self._db, context)

    async def history(self, slug: str, app_slug: str) -> list[TenantAppChange]:
        tenant_id = await self._tenant_id(slug)
        async with self._db.platform_transaction(tenant_id=tenant_id) as tx:
            app = await self._apps.require_in(tx, app_slug)
            return await tenant_apps.history(tx, tenant_id, app.id)

    async def enable(self, slug: str, app_slug: str, *, by: Actor, reason: str) -> TenantApp:
        """Enable the app; one the tenant never had is added, a disabled one comes back with
        all of its data."""
        return await self._change(
            slug, app_slug, by, reason, "app.enable", lambda s: _State("enabled", *_rest(s))
        )

    async def disable(self, slug: str, app_slug: str, *, by: Actor, reason: str) -> TenantApp:
        """Disable the app: its routes answer `app_disabled` and nothing of its data goes."""
        return await self._change(
            slug, app_slug, by, reason, "app.disable", lambda s: _State("disabled", *_rest(s))
        )

    async def pin(
        self, slug: str, app_slug: str, version: str | None, *, by: Actor, reason: str
    ) -> TenantApp:
        """Pin a published version, or follow the latest (`version` None)."""
        return await self._change(
            slug,
            app_slug,
            by,
            reason,
            "app.pin",
            lambda s: _State(s.status, version, s.config),
        )

    async def configure(
        self, slug: str, app_slug: str, config: object, *, by: Actor, reason: str
    ) -> TenantApp:
        if not isinstance(config, dict):
            raise InvalidAppConfig("$: an app config is a JSON object")
        return await self._change(
            slug,
            app_slug,
            by,
            reason,
            "app.configure",
            lambda s: _State(s.status, s.pinned_version, config),
        )

    async def _change(
        self,
        slug: str,
        app_slug: str,
        by: Actor,
        reason: str,
        action: str,
        change: Any,  # noqa: ANN401 - a Callable[[_State], _State]
    ) -> TenantApp:
        tenant_id = await self._tenant_id(slug, writable=True)
        async with self._db.platform_transaction(tenant_id=tenant_id) as tx:
            app = await self._apps.require_in(tx, app_slug)
            current = await tenant_apps.one(tx, tenant_id, app.id, lock=True)
            if current is None:
                if action != "app.enable":
                    raise NotFound(f"{slug} does not have {app_slug}")
                await tenant_apps.add(tx, tenant_id, app.id)
                current = await tenant_apps.one(tx, tenant_id, app.id, lock=True)
                assert current is not None
            before = _State(current.status, current.pinned_version, current.config)
            after: _State = change(before)
            await self._check(tx, app.id, app_slug, current.latest_version, after)
            revision = current.config_revision + 1
            await tenant_apps.write(
                tx,
                tenant_id,
                app.id,
                status=after.status,
                pinned_version=after.pinned_version,
                config=after.config,
                revision=revision,
            )
            await tenant_apps.record(
                tx,
                tenant_id,
                app.id,
                revision=revision,
                status=after.status,
                pinned_version=after.pinned_version,
                config=after.config,
                by=str(by),
                reason=reason,
            )
            await self._audit.record_in(
                tx,
                tenant_id=tenant_id,
                action=action,
                object_type="app",
                object_id=app_slug,
                by=by,
                app_id=app.id,
                # Config keys, not values: an app's config may hold what only it should read.
                metadata={
                    "revision": revision,
                    "status": after.status,
                    "pinned_version": after.pinned_version,
                    "config_keys": sorted(after.config),
                    "reason": reason,
                },
            )
            await notify_in(tx, str(tenant_id))
            changed = await tenant_apps.one(tx, tenant_id, app.id)
        assert changed is not None
        return changed

    @staticmethod
    async def _check(
        tx: Transaction, app_id: UUID, app_slug: str, latest: str | None, state: _State
    ) -> None:
        """The pinned version exists and the config fits the effective version's schema."""
        number = state.pinned_version or latest
        if number is None:
            if state.config:
                raise InvalidAppConfig(f"{app_slug} has no published version to configure")
            return
        version = await catalog.version(tx, app_id, number)
        if version is None:
            raise NotFound(f"no version {number!r} of {app_slug}")
        try:
            manifests.validate_config(version.manifest["settings_schema"], state.config)
        except InvalidAppConfig as exc:
            raise InvalidAppConfig(f"{exc.message} (version {number})") from exc


def _rest(state: _State) -> tuple[str | None, dict[str, Any]]:
    return state.pinned_version, state.config
