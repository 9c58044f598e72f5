"""The tenant audit log: appended in the transaction of the change it records, read by tenant
and platform administrators, verified, exported and pruned by retention."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from tenantry.audit_log import repository
from tenantry.audit_log.models import AuditEntry, AuditReceipt, ChainStatus, Pruned
from tenantry.audit_log.verify import BATCH, verify_chain
from tenantry.kit.context import TenantContext
from tenantry.kit.errors import InvalidInput, NotFound
from tenantry.kit.requests import current_request_id

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
    from uuid import UUID

    from tenantry.kit.actor import Actor
    from tenantry.kit.db import Database, Transaction


def _entry(
    *,
    action: str,
    object_type: str,
    object_id: object,
    by: Actor,
    effective_user: object,
    app_id: UUID | None,
    metadata: Mapping[str, Any] | None,
    request_id: str | None,
    delegated: bool,
    impersonated: bool,
) -> dict[str, Any]:
    effective = effective_user if effective_user is not None else by.on_behalf_of
    return {
        "actor": str(by),
        "effective_user": str(effective) if effective is not None else None,
        # A principal acting for someone says how (`Principal.actor`).
        "delegated": delegated or by.kind == "delegation",
        "impersonated": impersonated or by.kind == "impersonation",
        "action": action,
        "object_type": object_type,
        "object_id": str(object_id) if object_id is not None else None,
        "app_id": app_id,
        "metadata": dict(metadata or {}),
        "request_id": request_id or current_request_id(),
    }


class AuditLog:
    def __init__(self, db: Database, *, platform_tenant: str) -> None:
        self._db = db
        self._platform_tenant = platform_tenant
        # Where each tenant's last intact walk in this process ended: (seq, hash).
        self._walked: dict[UUID, tuple[int, bytes]] = {}

    @staticmethod
    async def record_in(
        tx: Transaction,
        *,
        tenant_id: UUID,
        action: str,
        object_type: str,
        object_id: object,
        by: Actor,
        effective_user: object = None,
        app_id: UUID | None = None,
        metadata: Mapping[str, Any] | None = None,
        request_id: str | None = None,
        delegated: bool = False,
        impersonated: bool = False,
    ) -> AuditReceipt:
        """Append an entry to the tenant's chain inside the caller's transaction, so it commits
        (or rolls back) with the change it records. Works in a tenant's own context (runtime
        role) and in a platform transaction. `effective_user` defaults to the actor's
        `on_behalf_of`; `object_id` and `effective_user` are stored as text."""
        entry = _entry(
            action=action,
            object_type=object_type,
            object_id=object_id,
            by=by,
            effective_user=effective_user,
            app_id=app_id,
            metadata=metadata,
            request_id=request_id,
            delegated=delegated,
            impersonated=impersonated,
        )
        row = await repository.append(tx, tenant_id, entry)
        return AuditReceipt(row["seq"], bytes(row["hash"]))

    @staticmethod
    async def record_many_in(
        tx: Transaction, *, tenant_id: UUID, by: Actor, entries: list[Mapping[str, Any]]
    ) -> list[AuditReceipt]:
        """Many entries of one tenant in one statement (imports, bulk changes), chained in
        order. Each entry holds `action`, `object_type`, `object_id` and optionally the other
        fields of `record_in`."""
        rows = [
            _entry(
                action=e["action"],
                object_type=e["object_type"],
                object_id=e.get("object_id"),
                by=by,
                effective_user=e.get("effective_user"),
                app_id=e.get("app_id"),
                metadata=e.get("metadata"),
                request_id=e.get("request_id"),
                delegated=e.get("delegated", False),
                impersonated=e.get("impersonated", False),
            )
            for e in entries
        ]
        appended = await repository.append_many(tx, tenant_id, rows)
        return [AuditReceipt(r["seq"], bytes(r["hash"])) for r in appended]

    async def record_platform_in(
        self,
        tx: Transaction,
        *,
        action: str,
        object_type: str,
        object_id: object,
        by: Actor,
        metadata: Mapping[str, Any] | None = None,
        request_id: str | None = None,
    ) -> AuditReceipt | None:
        """A change that belongs to no tenant (a flag definition) goes to the operators' tenant's
        log, in a platform transaction; nothing is written before that tenant exists."""
        entry = _entry(
            action=action,
            object_type=object_type,
            object_id=object_id,
            by=by,
            effective_user=None,
            app_id=None,
            metadata=metadata,
            request_id=request_id,
            delegated=False,
            impersonated=False,
        )
        row = await repository.append_for_slug(tx, self._platform_tenant, entry)
        return AuditReceipt(row["seq"], bytes(row["hash"])) if row else None

    async def search(
        self,
        tenant_id: UUID,
        *,
        action: str | None = None,
        actor: str | None = None,
        object_type: str | None = None,
        object_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        before_seq: int | None = None,
        limit: int = 50,
    ) -> list[AuditEntry]:
        """A tenant administrator's read: in the tenant's own context, so row-level security
        holds it to the tenant whatever the filters say."""
        async with self._db.tenant_transaction(TenantContext(tenant_id, cross_app=True)) as tx:
            rows = await repository.search(
                tx,
                tenant_id,
                action=action,
                actor=actor,
                object_type=object_type,
                object_id=object_id,
                since=since,
                until=until,
                before_seq=before_seq,
                limit=limit,
            )
        return [AuditEntry.from_row(r) for r in rows]

    async def search_tenant(self, slug: str, **filters: Any) -> list[AuditEntry]:  # noqa: ANN401 - the filters of `search`
        """The same read for platform administrators, by tenant slug."""
        return await self.search(await self._tenant_id(slug), **filters)

    async def _tenant_id(self, slug: str) -> UUID:
        async with self._db.platform_transaction() as tx:
            found = await repository.tenants(tx, slug)
        if not found:
            raise NotFound(f"no tenant {slug!r}")
        tenant_id: UUID = found[0]["id"]
        return tenant_id

    async def status(self, tenant_id: UUID, tenant: str) -> ChainStatus:
        """A tenant administrator's chain check, in the tenant's own context."""
        async with self._db.tenant_transaction(TenantContext(tenant_id, cross_app=True)) as tx:
            return await verify_chain(tx, tenant_id, tenant)

    async def verify(self, slug: str | None = None) -> AsyncIterator[ChainStatus]:
        """Every tenant's chain (or one), one status each as it is checked."""
        async with self._db.platform_transaction() as tx:
            tenants = await repository.tenants(tx, slug)
        if slug is not None and not tenants:
            raise NotFound(f"no tenant {slug!r}")
        for tenant in tenants:  # each chain where its tenant lives
            async with self._db.platform_transaction(tenant_id=tenant["id"]) as tx:
                yield self._remember(await verify_chain(tx, tenant["id"], tenant["slug"]))

    async def glance(self, slug: str) -> ChainStatus:
        """The chain walked in full when it is short; a long one from where this process last
        found it intact (`resumed_seq`), so a page view costs the rows appended since, not the
        whole log. The first glance, and `verify`, walk it all; an edit behind the resumed
        point waits for the next full walk."""
        tenant_id = await self._tenant_id(slug)
        async with self._db.platform_transaction(tenant_id=tenant_id) as tx:
            found = await verify_chain(tx, tenant_id, slug, self._walked.get(tenant_id))
        return self._remember(found)

    def _remember(self, found: ChainStatus) -> ChainStatus:
        if found.ok:
            self._walked[found.tenant_id] = (found.head_seq, found.last_hash)
        else:
            self._walked.pop(found.tenant_id, None)
        return found

    async def export(
        self,
        slug: str | None = None,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> AsyncIterator[AuditEntry]:
        """Entries in chain order, tenant by tenant, a batch at a time."""
        if since and until and since >= until:
            raise InvalidInput("--since must be before --until")
        async with self._db.platform_transaction() as tx:
            tenants = await repository.tenants(tx, slug)
        if slug is not None and not tenants:
            raise NotFound(f"no tenant {slug!r}")
        for tenant in tenants:
            after = 0
            while True:
                async with self._db.platform_transaction(tenant_id=tenant["id"]) as tx:
                    rows = await repository.batch(
                        tx, tenant["id"], after, BATCH, since=since, until=until
                    )
                if not rows:
                    break
                for row in rows:
                    yield AuditEntry.from_row(row)
                after = rows[-1]["seq"]

    async def prune(
        self,
        retention_days: Callable[[str], Awaitable[int]],
        *,
        by: Actor,
        slug: str | None = None,
        now: datetime | None = None,
    ) -> list[Pruned]:
        """Remove entries older than each tenant's retention (`audit_retention_days`), as a
        prefix of its chain behind a recorded checkpoint, and log the prune itself."""
        async with self._db.platform_transaction() as tx:
            tenants = await repository.tenants(tx, slug)
        if slug is not None and not tenants:
            raise NotFound(f"no tenant {slug!r}")
        results = []
        for tenant in tenants:
            days = await retention_days(tenant["slug"])
            cutoff = (now or datetime.now(UTC)) - timedelta(days=days)
            results.append(await self.prune_before(tenant["id"], tenant["slug"], cutoff, by=by))
        return results

    async def prune_before(
        self, tenant_id: UUID, tenant: str, cutoff: datetime, *, by: Actor
    ) -> Pruned:
        async with self._db.platform_transaction() as tx:
            row = await repository.prune(tx, tenant_id, cutoff)
            if row["pruned"]:
                await self.record_in(
                    tx,
                    tenant_id=tenant_id,
                    action="audit.prune",
                    object_type="audit_log",
                    object_id=tenant_id,
                    by=by,
                    metadata={
                        "before": cutoff.isoformat(),
                        "rows": row["pruned"],
                        "through_seq": row["through_seq"],
                    },
                )
        return Pruned(tenant, row["pruned"], row["through_seq"])
