"""Tenant lifecycle, provisioning and purge: the operator's side of tenants.

`pending → active ⇄ suspended → deprovisioned → purged`. Every change names its actor and reason,
lands in the tenant's lifecycle trail and invalidates cached tenant state in every process.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import BaseModel, ConfigDict, Field

from tenantry.kit.errors import Conflict, InvalidInput, NotFound
from tenantry.kit.invalidation import notify_in
from tenantry.tenants.repository import domains
from tenantry.tenants.repository import tenants as repository

if TYPE_CHECKING:
    from collections.abc import Iterable
    from uuid import UUID

    from tenantry.apps.models import App
    from tenantry.apps.service import AppDirectory
    from tenantry.audit_log.service import AuditLog
    from tenantry.identity.directory import UserDirectory
    from tenantry.identity.models import AppUser
    from tenantry.kit.actor import Actor
    from tenantry.kit.db import Database, Transaction
    from tenantry.tenants.models import TenantRecord


class InitialSettings(Protocol):
    """What provisioning needs from the settings feature, which sits above tenants: checking a
    value up front, and writing it inside the provisioning transaction. The composition root
    passes the settings service."""

    def validate(self, key: str, value: Any) -> Any: ...  # noqa: ANN401 - JSON values

    async def write_in(
        self,
        tx: Transaction,
        tenant_id: UUID,
        key: str,
        value: Any,  # noqa: ANN401 - JSON values
        *,
        by: Actor,
        reason: str,
    ) -> Any: ...  # noqa: ANN401 - JSON values


# action -> (allowed from, to)
TRANSITIONS: dict[str, tuple[frozenset[str], str]] = {
    "activate": (frozenset({"pending"}), "active"),
    "suspend": (frozenset({"active"}), "suspended"),
    "resume": (frozenset({"suspended"}), "active"),
    "deprovision": (frozenset({"suspended"}), "deprovisioned"),
}
INVITATION = (
    "Choose your password with this code (valid for 7 days) at "
    "POST /v1/apps/admin/auth/password-reset/confirm:\n\n{code}\n"
)


class ProvisionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    slug: str = Field(pattern=r"^[a-z][a-z0-9-]{1,62}$")
    name: str = Field(min_length=1, max_length=200)
    plan: str = Field(default="free", pattern=r"^[a-z][a-z0-9_-]{0,39}$")
    apps: list[str] = Field(default_factory=list, max_length=50)
    admin_email: str = Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=320)
    settings: dict[str, Any] = Field(default_factory=dict)

    def fingerprint(self) -> bytes:
        return hashlib.sha256(json.dumps(self.model_dump(), sort_keys=True).encode()).digest()


@dataclass(frozen=True)
class Provisioned:
    tenant: TenantRecord
    created: bool  # False when an earlier call with the same idempotency key made it


@dataclass(frozen=True)
class PurgeReport:
    tenant: str
    deleted: dict[str, int] = field(default_factory=dict)
    remaining: dict[str, int] = field(default_factory=dict)


Step = Callable[[str], None]


def _no_step(_: str) -> None:
    return None


# Told of every lifecycle change in its transaction (the composition root passes what depends on
# a tenant's status, such as the guests it sends to other tenants).
StatusHook = Callable[["Transaction", "UUID"], Awaitable[None]]


class TenantService:
    def __init__(
        self,
        db: Database,
        settings: InitialSettings,
        apps: AppDirectory,
        users: UserDirectory,
        audit: AuditLog,
        *,
        purge_grace_days: int,
        platform_tenant: str,
        on_status: StatusHook | None = None,
    ) -> None:
        self._db = db
        self._on_status = on_status
        self._audit = audit
        self._settings = settings
        self._apps = apps
        self._users = users
        self._grace_days = purge_grace_days
        self._platform_tenant = platform_tenant

    def _protect_operators(self, slug: str, action: str) -> None:
        # Suspending or removing the operators' own tenant would lock every platform
        # administrator out (their sessions require it to be active).
        if slug == self._platform_tenant and action in {"suspend", "deprovision", "purge"}:
            raise Conflict(f"the platform tenant {slug!r} cannot be {action}ed from here")

    async def transition(self, slug: str, action: str, *, reason: str, by: Actor) -> TenantRecord:
        if action not in TRANSITIONS:
            raise InvalidInput(f"unknown action {action!r}; one of {', '.join(TRANSITIONS)}")
        if not reason.strip():
            raise InvalidInput("a reason is required")
        allowed, target = TRANSITIONS[action]
        self._protect_operators(slug, action)
        async with self._db.platform_transaction() as tx:
            tenant = await repository.require_tenant(tx, slug, lock=True)
            if tenant.status not in allowed:
                raise Conflict(
                    f"cannot {action} a tenant that is {tenant.status} "
                    f"(allowed from: {', '.join(sorted(allowed))})"
                )
            await repository.set_status(tx, tenant.id, target, grace_days=self._grace_days)
            await repository.add_lifecycle_event(tx, tenant.id, tenant.status, target, reason, by)
            await self._record(tx, tenant.id, f"tenant.{action}", by, reason=reason)
            await self._status_changed(tx, tenant.id)
            await notify_in(tx, str(tenant.id))
            updated = await repository.get_record(tx, slug)
        assert updated is not None
        return updated

    async def provision(
        self,
        request: ProvisionRequest,
        *,
        by: Actor,
        idempotency_key: str | None = None,
        on_step: Step = _no_step,
    ) -> Provisioned:
        """Create a tenant with its settings, apps and first administrator, atomically.

        Everything happens in one transaction: a failure at any step leaves nothing behind. A
        retry with the same idempotency key returns the tenant the first call created.
        """
        for key, value in request.settings.items():
            self._settings.validate(key, value)
        if idempotency_key is not None:
            existing = await self._by_idempotency_key(idempotency_key, request)
            if existing is not None:
                return Provisioned(existing, created=False)
        try:
            async with self._db.platform_transaction() as tx:
                tenant = await self._provision_in(tx, request, by, idempotency_key, on_step)
        except Conflict:
            if idempotency_key is not None:
                existing = await self._by_idempotency_key(idempotency_key, request)
                if existing is not None:  # a concurrent call with the same key won the race
                    return Provisioned(existing, created=False)
            raise
        return Provisioned(tenant, created=True)

    async def _by_idempotency_key(self, key: str, request: ProvisionRequest) -> TenantRecord | None:
        async with self._db.platform_transaction() as tx:
            found = await repository.provisioning_request(tx, key)
        if found is None:
            return None
        fingerprint, tenant = found
        if fingerprint != request.fingerprint():
            raise Conflict("this idempotency key was used for a different request")
        return tenant

    async def _provision_in(
        self,
        tx: Transaction,
        request: ProvisionRequest,
        by: Actor,
        idempotency_key: str | None,
        on_step: Step,
    ) -> TenantRecord:
        on_step("tenant")
        if await repository.get_record(tx, request.slug) is not None:
            raise Conflict(f"tenant {request.slug!r} already exists")
        try:
            tenant = await repository.create(
                tx, slug=request.slug, name=request.name, status="pending", plan=request.plan
            )
        except Conflict as exc:
            raise Conflict(f"tenant {request.slug!r} already exists") from exc
        await repository.add_lifecycle_event(tx, tenant.id, None, "pending", "provisioned", by)
        if idempotency_key is not None:
            on_step("idempotency")
            await repository.add_provisioning_request(
                tx, idempotency_key, request.fingerprint(), tenant.id
            )
        on_step("settings")
        for key, value in request.settings.items():
            await self._settings.write_in(tx, tenant.id, key, value, by=by, reason="provisioning")
        on_step("apps")
        apps = await self._enable_apps(tx, tenant.id, {*request.apps, "admin"})
        on_step("admin")
        await self._users.invite_in(
            tx,
            tenant.id,
            apps["admin"].id,
            request.admin_email,
            "Administrator",
            subject=f"You are the administrator of {request.name}",
            body=INVITATION,
        )
        on_step("activate")
        await repository.set_status(tx, tenant.id, "active")
        await repository.add_lifecycle_event(tx, tenant.id, "pending", "active", "provisioned", by)
        await self._record(
            tx,
            tenant.id,
            "tenant.provision",
            by,
            plan=request.plan,
            apps=sorted(apps),
            admin_email=request.admin_email,
            settings=sorted(request.settings),
        )
        await notify_in(tx, str(tenant.id))
        on_step("commit")
        record = await repository.get_record(tx, request.slug)
        assert record is not None
        return record

    async def _enable_apps(
        self, tx: Transaction, tenant_id: UUID, slugs: Iterable[str]
    ) -> dict[str, App]:
        enabled = {}
        for slug in sorted(slugs):
            try:
                app = await self._apps.require_in(tx, slug)
            except NotFound as exc:
                raise InvalidInput(f"unknown app {slug!r}") from exc
            await repository.enable_app(tx, tenant_id, app.id)
            enabled[slug] = app
        return enabled

    async def ensure_tenant(
        self, slug: str, name: str, plan: str, apps: Iterable[str], *, by: Actor
    ) -> tuple[TenantRecord, dict[str, App]]:
        """An active tenant serving `apps`, created if missing, and those apps: demo data, the
        operators' tenant, fixtures. Unlike `provision`, it invites nobody and may run again."""
        async with self._db.platform_transaction() as tx:
            tenant = await repository.get_record(tx, slug)
            if tenant is None:
                tenant = await repository.create(
                    tx, slug=slug, name=name, status="active", plan=plan
                )
                await repository.add_lifecycle_event(tx, tenant.id, None, "active", "created", by)
                await self._record(tx, tenant.id, "tenant.create", by, plan=plan)
            enabled = await self._enable_apps(tx, tenant.id, apps)
            await notify_in(tx, str(tenant.id))
        return tenant, enabled

    async def add_platform_admin(
        self, email: str, password_hash: str, *, by: Actor, exist_ok: bool = False
    ) -> AppUser:
        """A user of the admin app in the operators' tenant (created if missing): a platform
        administrator. An existing one is a conflict unless `exist_ok`."""
        tenant, apps = await self.ensure_tenant(
            self._platform_tenant, "Platform operators", "internal", ["admin"], by=by
        )
        admin_app = apps["admin"].id
        existing = await self._users.find(tenant.id, admin_app, email)
        if existing is not None:
            if exist_ok:
                return existing
            raise Conflict(f"{email} is already a platform administrator")
        return await self._users.add(
            tenant.id, admin_app, email, "Platform admin", password_hash=password_hash
        )

    async def purge(
        self, slug: str, *, by: Actor, reason: str, force: bool = False, on_step: Step = _no_step
    ) -> PurgeReport:
        """Delete every row of a deprovisioned tenant in every declared tenant table, driven by
        the catalog, then prove nothing is left. The tenant row stays as a `purged` tombstone
        with its lifecycle trail."""
        self._protect_operators(slug, "purge")
        async with self._db.platform_transaction() as tx:
            tenant = await repository.require_tenant(tx, slug, lock=True)
            if tenant.status != "deprovisioned":
                raise Conflict(
                    f"only deprovisioned tenants can be purged (this one is {tenant.status})"
                )
            if not force and not await repository.purge_due(tx, tenant.id):
                assert tenant.purge_after is not None
                raise Conflict(
                    f"the grace period runs until {tenant.purge_after:%Y-%m-%d %H:%M} UTC"
                )
            report = PurgeReport(slug)
            tables = [*await repository.purgeable_tables(tx), *repository.PRIVATE_TENANT_TABLES]
            for table in tables:
                on_step(".".join(table))
                report.deleted[".".join(table)] = await repository.delete_rows(tx, table, tenant.id)
            for table in tables:
                report.remaining[".".join(table)] = await repository.count_rows(
                    tx, table, tenant.id
                )
            if any(report.remaining.values()):
                raise RuntimeError(f"purge left rows behind: {report.remaining}")
            await repository.set_status(tx, tenant.id, "purged")
            await repository.add_lifecycle_event(
                tx, tenant.id, "deprovisioned", "purged", reason, by
            )
            await self._status_changed(tx, tenant.id)
            # The audit log is kept after a purge (the evidence of what happened, pruned by
            # retention like any other), so the purge is its last entry.
            await self._record(tx, tenant.id, "tenant.purge", by, reason=reason, **report.deleted)
            await notify_in(tx, str(tenant.id))
        return report

    async def _status_changed(self, tx: Transaction, tenant_id: UUID) -> None:
        if self._on_status is not None:
            await self._on_status(tx, tenant_id)

    async def _record(
        self,
        tx: Transaction,
        tenant_id: UUID,
        action: str,
        by: Actor,
        **metadata: Any,  # noqa: ANN401 - JSON values
    ) -> None:
        await self._audit.record_in(
            tx,
            tenant_id=tenant_id,
            action=action,
            object_type="tenant",
            object_id=tenant_id,
            by=by,
            metadata=metadata,
        )

    async def detail(self, slug: str) -> dict[str, Any]:
        async with self._db.platform_transaction() as tx:
            tenant = await repository.require_tenant(tx, slug)
        # Its apps, domains and lifecycle trail are rows of its own, where it lives.
        async with self._db.platform_transaction(tenant_id=tenant.id) as tx:
            apps = await repository.enabled_apps(tx, tenant.id)
            domain_list = await domains.list_for(tx, tenant.id)
            events = await repository.lifecycle_events(tx, tenant.id)
        return {"tenant": tenant, "apps": apps, "domains": domain_list, "events": events}

    async def search(
        self, *, query: str | None, status: str | None, plan: str | None, limit: int, offset: int
    ) -> tuple[list[TenantRecord], int]:
        async with self._db.platform_transaction() as tx:
            return await repository.search(
                tx, query=query, status=status, plan=plan, limit=limit, offset=offset
            )
