"""Licences: issue, import, revoke, read; every change also sets the entitlements snapshot
and invalidates the tenant's cached contexts in the same transaction."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING
from uuid import uuid4

from tenantry.kit.context import TenantContext
from tenantry.kit.errors import InvalidInput, NotFound
from tenantry.kit.invalidation import notify_in
from tenantry.licensing import repository
from tenantry.licensing.document import sign, unb64url, verify_licence
from tenantry.licensing.keys import LicenceKeys
from tenantry.licensing.models import (
    READ_ONLY_DAYS,
    Entitlement,
    Licence,
    LicenceInvalid,
    SeatUsage,
)

if TYPE_CHECKING:
    from uuid import UUID

    from tenantry.apps.service import AppDirectory
    from tenantry.audit_log.service import AuditLog
    from tenantry.kit.actor import Actor
    from tenantry.kit.db import Database, Transaction
    from tenantry.licensing.models import StoredLicence
    from tenantry.tenants.service import TenantDirectory

ISSUER = "tenantry"
_NAME = r"^[a-z][a-z0-9_.-]{0,63}$"
MAX_DAYS = 3660
MAX_GRACE_DAYS = 365
MAX_REASON = 500


class Licences:
    def __init__(
        self,
        db: Database,
        apps: AppDirectory,
        tenants: TenantDirectory,
        audit: AuditLog,
        keys: LicenceKeys | None = None,
    ) -> None:
        self._db = db
        self._apps = apps
        self._tenants = tenants
        self._audit = audit
        self.keys = keys or LicenceKeys(db)

    async def issue(
        self,
        tenant_slug: str,
        app_slug: str,
        *,
        plan: str,
        seats: int | None,
        features: list[str],
        limits: dict[str, int],
        days: int,
        grace_days: int,
        by: Actor,
        valid_from: datetime | None = None,
    ) -> StoredLicence:
        _check_terms(plan, seats, features, limits, days, grace_days)
        start = (valid_from or datetime.now(UTC)).replace(microsecond=0)
        # The tenant, the app and the signing key are read at home; the licence is written
        # where the tenant lives.
        async with self._db.platform_transaction() as tx:
            tenant = await self._tenants.require_in(tx, tenant_slug, writable=True)
            app = await self._apps.require_in(tx, app_slug)
            await self._require_enabled(tenant.id, app.id, app_slug)
            kid, key = await self.keys.signer_in(tx)
        async with self._db.platform_transaction(tenant_id=tenant.id) as tx:
            licence = Licence(
                id=_new_id(),
                tenant_id=tenant.id,
                tenant_slug=tenant.slug,
                app=app.slug,
                plan=plan,
                seats=seats,
                features=tuple(sorted(set(features))),
                limits=dict(sorted(limits.items())),
                issued_at=datetime.now(UTC).replace(microsecond=0),
                valid_from=start,
                valid_until=start + timedelta(days=days),
                grace_days=grace_days,
                issuer=ISSUER,
                kid=kid,
            )
            payload, signature, document = sign(licence, kid, key)
            await repository.insert_licence(tx, licence, app.id, payload, signature, "issued")
            await self._activate_in(tx, licence, app.id, "issued", document, by)
            return await self._require(tx, licence.id)

    async def import_file(
        self, data: bytes, by: Actor, tenant_slug: str | None = None
    ) -> StoredLicence:
        """Store and activate a licence file issued elsewhere (an air-gapped installation): it
        must verify against this installation's public keys and name one of its tenants (the
        same id and slug) and an app that tenant has; `tenant_slug`, when the request names a
        tenant, must be that one."""
        licence = verify_licence(data, await self.keys.public_keys())
        payload, signature = _signed_parts(data)
        async with self._db.platform_transaction() as tx:
            try:
                app = await self._apps.require_in(tx, licence.app)
            except NotFound as exc:
                raise LicenceInvalid("other_app", f"no app {licence.app!r} here") from exc
            try:
                tenant = await self._tenants.require_in(tx, licence.tenant_slug, writable=True)
            except NotFound as exc:
                raise LicenceInvalid("other_tenant", "issued for another tenant") from exc
            if tenant.id != licence.tenant_id or tenant_slug not in (None, tenant.slug):
                raise LicenceInvalid("other_tenant", "issued for another tenant")
            info = await self._tenants.get(tenant.id)
            if info is None or app.id not in info.app_ids:
                raise LicenceInvalid("other_app", f"tenant does not have the app {app.slug!r}")
        async with self._db.platform_transaction(tenant_id=tenant.id) as tx:  # where it lives
            await repository.insert_licence(tx, licence, app.id, payload, signature, "imported")
            stored = await self._require(tx, licence.id)
            if stored.status == "revoked":
                raise LicenceInvalid("revoked", "this licence was revoked")
            await self._activate_in(tx, licence, app.id, "imported", data, by)
            return stored

    async def revoke(
        self, licence_id: UUID, reason: str, by: Actor, tenant_slug: str | None = None
    ) -> StoredLicence:
        if not reason.strip() or len(reason) > MAX_REASON:
            raise InvalidInput("a reason (at most 500 characters) is required")
        # A named tenant's licence where it lives; otherwise looked up at home.
        named = await self._tenant_id(tenant_slug)
        async with self._db.platform_transaction(tenant_id=named) as tx:
            found = await repository.licence(tx, licence_id)
            if found is None or tenant_slug not in (None, found.licence.tenant_slug):
                raise NotFound("no such licence")
            tenant_id = await repository.revoke(tx, licence_id, str(by), reason.strip())
            if tenant_id is None:
                raise NotFound("no such licence, or it is already revoked")
            await notify_in(tx, str(tenant_id))
            await self._audit.record_in(
                tx,
                tenant_id=tenant_id,
                action="licence.revoke",
                object_type="licence",
                object_id=licence_id,
                by=by,
                metadata={"reason": reason.strip()},
            )
            return await self._require(tx, licence_id)

    async def listing(self, tenant_slug: str | None = None) -> list[StoredLicence]:
        tenant_id = await self._tenant_id(tenant_slug)
        async with self._db.platform_transaction(tenant_id=tenant_id) as tx:
            return await repository.licences(tx, tenant_id)

    async def show(self, licence_id: UUID, tenant_slug: str | None = None) -> StoredLicence:
        tenant_id = await self._tenant_id(tenant_slug)  # as in `revoke`
        async with self._db.platform_transaction(tenant_id=tenant_id) as tx:
            found = await repository.licence(tx, licence_id)
        if found is None or tenant_slug not in (None, found.licence.tenant_slug):
            raise NotFound("no such licence")
        return found

    async def usage(self, tenant_slug: str | None = None) -> list[SeatUsage]:
        tenant_id = await self._tenant_id(tenant_slug)
        async with self._db.platform_transaction(tenant_id=tenant_id) as tx:
            rows = await repository.usage(tx, tenant_id)
        return [_usage(row) for row in rows]

    async def own(self, tenant_id: UUID) -> list[StoredLicence]:
        """A tenant administrator's view: the tenant's licences, in its own context."""
        async with self._db.tenant_transaction(TenantContext(tenant_id, cross_app=True)) as tx:
            return await repository.licences(tx, tenant_id)

    async def own_usage(self, tenant_id: UUID) -> list[SeatUsage]:
        """Seat usage of the caller's own tenant (the id comes from its verified credential).
        On the platform path: seats count every app's open invitations, which a tenant
        context cannot read across apps."""
        async with self._db.platform_transaction(tenant_id=tenant_id) as tx:
            rows = await repository.usage(tx, tenant_id)
        return [_usage(row) for row in rows]

    async def _tenant_id(self, tenant_slug: str | None) -> UUID | None:
        """The named tenant's id, looked up at home (None: every tenant, read at home): one
        tenant's licences are read where it lives."""
        if tenant_slug is None:
            return None
        async with self._db.platform_transaction() as tx:
            return (await self._tenants.require_in(tx, tenant_slug)).id

    async def _require_enabled(self, tenant_id: UUID, app_id: UUID, app_slug: str) -> None:
        info = await self._tenants.get(tenant_id)
        if info is None or app_id not in info.app_ids:
            raise InvalidInput(f"the tenant does not have the app {app_slug!r}")

    async def _activate_in(
        self,
        tx: Transaction,
        licence: Licence,
        app_id: UUID,
        source: str,
        document: bytes,
        by: Actor,
    ) -> None:
        digest = hashlib.sha256(document).digest()
        await repository.insert_activation(
            tx, licence.tenant_id, app_id, licence.id, source, str(by), digest
        )
        read_only_until = licence.grace_until + timedelta(days=READ_ONLY_DAYS)
        await repository.set_entitlement(tx, licence, app_id, read_only_until)
        await notify_in(tx, str(licence.tenant_id))
        await self._audit.record_in(
            tx,
            tenant_id=licence.tenant_id,
            action=f"licence.{'issue' if source == 'issued' else 'import'}",
            object_type="licence",
            object_id=licence.id,
            by=by,
            app_id=app_id,
            metadata={"sha256": digest.hex(), "plan": licence.plan, "seats": licence.seats},
        )

    @staticmethod
    async def _require(tx: Transaction, licence_id: UUID) -> StoredLicence:
        found = await repository.licence(tx, licence_id)
        assert found is not None  # written in this transaction
        return found


def _new_id() -> UUID:
    # Random, not time-ordered like row ids: a licence id travels outside the installation.
    return uuid4()


def _signed_parts(data: bytes) -> tuple[bytes, bytes]:
    document = json.loads(data)
    return unb64url(document["payload"]), unb64url(document["signature"])


def _check_terms(
    plan: str,
    seats: int | None,
    features: list[str],
    limits: dict[str, int],
    days: int,
    grace_days: int,
) -> None:
    for name in (plan, *features, *limits):
        if not re.match(_NAME, name):
            raise InvalidInput(f"not a valid plan, feature or limit name: {name!r}")
    if seats is not None and seats < 0:
        raise InvalidInput("seats must be 0 or more (or omitted: unlimited)")
    if any(v < 0 for v in limits.values()):
        raise InvalidInput("limits must be 0 or more")
    if not 1 <= days <= MAX_DAYS:
        raise InvalidInput("days must be between 1 and 3660")
    if not 0 <= grace_days <= MAX_GRACE_DAYS:
        raise InvalidInput("grace days must be between 0 and 365")


def _usage(row: dict[str, object]) -> SeatUsage:
    entitlement = Entitlement.from_row(dict(row))
    return SeatUsage(
        tenant=str(row["tenant"]),
        app=str(row["app"]),
        plan=entitlement.plan,
        seats=entitlement.seats,
        active_users=int(str(row["active_users"])),
        open_invitations=int(str(row["open_invitations"])),
        state=entitlement.state(datetime.now(UTC)).value,
    )
