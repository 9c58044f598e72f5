"""Recording security events. Each is written in its own transaction so that it survives the
failure of the request that caused it, unless it is the trail of a change and must commit with
it (`record_in`)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tenantry.kit.context import TenantContext
from tenantry.security_events import repository
from tenantry.security_events.models import RecordedEvent

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable
    from datetime import datetime
    from uuid import UUID

    from tenantry.kit.db import Database, Transaction
    from tenantry.kit.metrics import Metrics
    from tenantry.security_events.models import SecurityEvent

log = logging.getLogger("tenantry.security")


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a request came from, for the record."""

    ip: str | None = None
    request_id: str | None = None


class SecurityEvents:
    def __init__(self, db: Database, metrics: Metrics) -> None:
        self._db = db
        self._metrics = metrics
        self._observers: list[Callable[[Transaction, RecordedEvent], Awaitable[None]]] = []

    def observe(self, observer: Callable[[Transaction, RecordedEvent], Awaitable[None]]) -> None:
        """Call `observer` for every event recorded from now on, inside the event's transaction
        after its row is written: what it writes commits with the event, or not at all."""
        self._observers.append(observer)

    async def record(
        self,
        kind: str,
        *,
        tenant_id: UUID,
        origin: Origin,
        app_id: UUID | None = None,
        app_user_id: UUID | None = None,
        severity: str = "warning",
        detail: dict[str, Any] | None = None,
    ) -> None:
        # Written in the event's own scope: its app's, or tenant-wide when it has none.
        async with self._db.tenant_transaction(TenantContext(tenant_id, app_id)) as tx:
            await self.record_in(
                tx,
                kind,
                tenant_id=tenant_id,
                origin=origin,
                app_id=app_id,
                app_user_id=app_user_id,
                severity=severity,
                detail=detail,
            )

    async def record_in(
        self,
        tx: Transaction,
        kind: str,
        *,
        tenant_id: UUID,
        origin: Origin,
        app_id: UUID | None = None,
        app_user_id: UUID | None = None,
        severity: str = "warning",
        detail: dict[str, Any] | None = None,
    ) -> None:
        """Record inside the caller's transaction, for changes whose trail must commit with
        them (domain claims)."""
        self._metrics.security_events.labels(kind=kind).inc()
        log.warning(
            "security event",
            extra={"event": kind, "tenant_id": str(tenant_id), "request_id": origin.request_id},
        )
        await repository.insert(
            tx,
            tenant_id=tenant_id,
            kind=kind,
            severity=severity,
            app_id=app_id,
            app_user_id=app_user_id,
            ip=origin.ip,
            request_id=origin.request_id,
            detail=detail or {},
        )
        recorded = RecordedEvent(tenant_id, app_id, kind, severity, origin.ip)
        for observer in self._observers:
            await observer(tx, recorded)

    async def search(
        self,
        tenant_id: UUID,
        *,
        kind: str | None = None,
        app_id: UUID | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        before_id: UUID | None = None,
        limit: int = 50,
    ) -> list[SecurityEvent]:
        # Tenant administrators read every app's events: a cross-app (read-only) context.
        context = TenantContext(tenant_id, cross_app=True)
        async with self._db.tenant_transaction(context) as tx:
            return await repository.search(
                tx,
                tenant_id,
                kind=kind,
                app_id=app_id,
                since=since,
                until=until,
                before_id=before_id,
                limit=limit,
            )

    async def search_every_tenant(
        self,
        *,
        tenant_id: UUID | None = None,
        kind: str | None = None,
        app_id: UUID | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[SecurityEvent]:
        """The same search across every tenant, for platform administrators."""
        # One tenant: where it lives; every tenant (None): at home.
        async with self._db.platform_transaction(tenant_id=tenant_id) as tx:
            return await repository.search(
                tx,
                tenant_id,
                kind=kind,
                app_id=app_id,
                since=since,
                until=until,
                before_id=None,
                limit=limit,
                offset=offset,
            )
