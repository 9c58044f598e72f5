"""Secrets per tenant and app: versioned values sealed with the tenant's data key, rotation,
disabling, master key rewrap, and an access log entry (with the caller's reason) for every
read and change. Values never reach a log, a problem or the audit log."""

from __future__ import annotations

import secrets as random
from typing import TYPE_CHECKING

from tenantry.kit.context import TenantContext
from tenantry.kit.errors import InvalidInput, NotFound
from tenantry.secrets import repository
from tenantry.secrets.box import RewrapReport, SecretBox, decrypt, encrypt, value_aad
from tenantry.secrets.models import SecretDisabled, SecretNotFound, SecretScope

if TYPE_CHECKING:
    from uuid import UUID

    from tenantry.apps.service import AppDirectory
    from tenantry.audit_log.service import AuditLog
    from tenantry.kit.actor import Actor
    from tenantry.kit.db import Database, Transaction
    from tenantry.secrets.keys import KeyEncryptionKey
    from tenantry.secrets.models import AccessEntry, DataKeyInfo, SecretInfo
    from tenantry.tenants.service import TenantDirectory

MAX_VALUE_BYTES = 64 * 1024
MAX_REASON = 500
ROTATED_BYTES = 32


def _reason(reason: str) -> str:
    reason = reason.strip()
    if not reason or len(reason) > MAX_REASON:
        raise InvalidInput("a reason (1 to 500 characters) is required")
    return reason


class Secrets:
    def __init__(
        self,
        db: Database,
        apps: AppDirectory,
        tenants: TenantDirectory,
        audit: AuditLog,
        kek: KeyEncryptionKey,
    ) -> None:
        self._db = db
        self._apps = apps
        self._tenants = tenants
        self._audit = audit
        self.box = SecretBox(kek)

    async def scope(self, tenant_slug: str, app_slug: str) -> SecretScope:
        """A tenant's app by slugs (the CLI, the admin UI), or NotFound."""
        async with self._db.platform_transaction() as tx:
            tenant = await self._tenants.require_in(tx, tenant_slug)
            app = await self._apps.require_in(tx, app_slug)
        info = await self._tenants.get(tenant.id)
        if info is None or app.id not in info.app_ids:
            raise NotFound(f"tenant {tenant_slug!r} does not have the app {app_slug!r}")
        return SecretScope(tenant.id, app.id)

    async def scope_of(self, tenant_id: UUID, app_slug: str) -> SecretScope:
        """One of the tenant's apps, for its administrators (NotFound if it has no such app)."""
        app = self._apps.by_slug(app_slug)
        info = await self._tenants.get(tenant_id)
        if info is None or app.id not in info.app_ids:
            raise NotFound(f"no app {app_slug!r}")
        return SecretScope(tenant_id, app.id)

    async def put(
        self,
        scope: SecretScope,
        name: str,
        value: bytes,
        *,
        by: Actor,
        principal: str,
        reason: str,
        request_id: str | None = None,
    ) -> SecretInfo:
        """A new version of `name` (the secret is created on its first value)."""
        return await self._write(scope, name, value, "write", by, principal, reason, request_id)

    async def rotate(
        self,
        scope: SecretScope,
        name: str,
        *,
        by: Actor,
        principal: str,
        reason: str,
        request_id: str | None = None,
    ) -> SecretInfo:
        """A new version with a fresh random value (read it with `reveal`, which is logged)."""
        value = random.token_urlsafe(ROTATED_BYTES).encode()
        async with self._db.tenant_transaction(self._context(scope)) as tx:
            if await repository.secret(tx, scope.tenant_id, scope.app_id, name) is None:
                raise SecretNotFound(f"no secret {name!r}")
        return await self._write(scope, name, value, "rotate", by, principal, reason, request_id)

    async def reveal(
        self,
        scope: SecretScope,
        name: str,
        *,
        by: Actor,
        principal: str,
        reason: str,
        version: int | None = None,
        request_id: str | None = None,
    ) -> tuple[SecretInfo, int, bytes]:
        """The value of the current (or a given) version; the read is logged with `reason`."""
        reason = _reason(reason)
        async with self._db.tenant_transaction(self._context(scope)) as tx:
            found = await self._require(tx, scope, name)
            if found.status != "active":
                raise SecretDisabled(f"the secret {name!r} is disabled")
            number = version or found.current_version
            row = await repository.version(tx, scope.tenant_id, scope.app_id, found.id, number)
            if row is None:
                raise SecretNotFound(f"no version {number} of {name!r}")
            key = await self.box.data_key_version_in(tx, scope.tenant_id, row["data_key_version"])
            aad = value_aad(scope.tenant_id, scope.app_id, found.id, number)
            value = decrypt(key, bytes(row["ciphertext"]), aad)
            await repository.log_access(
                tx, *_where(scope), found, number, "read", str(by), principal, reason, request_id
            )
            return found, number, value

    async def disable(
        self,
        scope: SecretScope,
        name: str,
        *,
        by: Actor,
        principal: str,
        reason: str,
        request_id: str | None = None,
    ) -> SecretInfo:
        reason = _reason(reason)
        async with self._db.tenant_transaction(self._context(scope)) as tx:
            found = await self._require(tx, scope, name, lock=True)
            await repository.disable(tx, scope.tenant_id, found.id)
            await repository.log_access(
                tx, *_where(scope), found, None, "disable", str(by), principal, reason, request_id
            )
            await self._record(tx, scope, "secret.disable", found, by, reason)
            return await self._require(tx, scope, name)

    async def metadata(self, scope: SecretScope) -> list[SecretInfo]:
        async with self._db.tenant_transaction(self._context(scope)) as tx:
            return await repository.secrets(tx, scope.tenant_id, scope.app_id)

    # --- the platform path: every app of a tenant, keys -----------------------------------

    async def of_tenant(self, tenant_id: UUID) -> list[SecretInfo]:
        async with self._db.platform_transaction(tenant_id=tenant_id) as tx:
            return await repository.secrets(tx, tenant_id, None)

    async def access_log(
        self,
        tenant_id: UUID,
        app_id: UUID | None = None,
        before: UUID | None = None,
        limit: int = 50,
    ) -> list[AccessEntry]:
        async with self._db.platform_transaction(tenant_id=tenant_id) as tx:
            return await repository.access_page(tx, tenant_id, app_id, before, limit)

    async def data_keys(self, tenant_id: UUID | None = None) -> list[DataKeyInfo]:
        # One tenant's keys where it lives; every tenant's (None) at home.
        async with self._db.platform_transaction(tenant_id=tenant_id) as tx:
            return await repository.data_keys(tx, tenant_id)

    async def rotate_data_key(self, tenant_slug: str, by: Actor) -> int:
        """A new data key for the tenant's new values; older versions keep theirs."""
        async with self._db.platform_transaction() as tx:
            tenant = await self._tenants.require_in(tx, tenant_slug, writable=True)
        # The key and its audit entry are written where the tenant lives.
        async with self._db.platform_transaction(tenant_id=tenant.id) as tx:
            version = await self.box.new_data_key_in(tx, tenant.id)
            await self._audit.record_in(
                tx,
                tenant_id=tenant.id,
                action="secret.data_key_rotate",
                object_type="secret_data_key",
                object_id=version,
                by=by,
            )
            return version

    async def rewrap_all(self) -> RewrapReport:
        """Every data key rewrapped under the current master key; no value is touched."""
        async with self._db.platform_transaction() as tx:
            return await self.box.rewrap_all_in(tx)

    # --- internals --------------------------------------------------------------------------

    async def _write(
        self,
        scope: SecretScope,
        name: str,
        value: bytes,
        action: str,
        by: Actor,
        principal: str,
        reason: str,
        request_id: str | None,
    ) -> SecretInfo:
        reason = _reason(reason)
        if not value or len(value) > MAX_VALUE_BYTES:
            raise InvalidInput("a value of 1 byte to 64 KiB is required")
        async with self._db.tenant_transaction(self._context(scope)) as tx:
            found = await repository.secret(tx, *_where(scope), name, lock=True)
            secret_id = (
                found.id
                if found
                else await repository.insert_secret(tx, scope.tenant_id, scope.app_id, name)
            )
            number = await repository.next_version(tx, scope.tenant_id, secret_id)
            key_version, key = await self.box.data_key_in(tx, scope.tenant_id)
            ciphertext = encrypt(key, value, value_aad(*_where(scope), secret_id, number))
            await repository.insert_version(
                tx, *_where(scope), secret_id, number, ciphertext, key_version, str(by)
            )
            stored = await self._require(tx, scope, name)
            await repository.log_access(
                tx, *_where(scope), stored, number, action, str(by), principal, reason, request_id
            )
            await self._record(tx, scope, f"secret.{action}", stored, by, reason)
            return stored

    async def _require(
        self, tx: Transaction, scope: SecretScope, name: str, *, lock: bool = False
    ) -> SecretInfo:
        found = await repository.secret(tx, *_where(scope), name, lock=lock)
        if found is None:
            raise SecretNotFound(f"no secret {name!r}")
        return found

    async def _record(
        self,
        tx: Transaction,
        scope: SecretScope,
        action: str,
        found: SecretInfo,
        by: Actor,
        reason: str,
    ) -> None:
        await self._audit.record_in(
            tx,
            tenant_id=scope.tenant_id,
            action=action,
            object_type="secret",
            object_id=found.id,
            by=by,
            app_id=scope.app_id,
            metadata={"name": found.name, "version": found.current_version, "reason": reason},
        )

    @staticmethod
    def _context(scope: SecretScope) -> TenantContext:
        return TenantContext(scope.tenant_id, scope.app_id)


def _where(scope: SecretScope) -> tuple[UUID, UUID]:
    return scope.tenant_id, scope.app_id
