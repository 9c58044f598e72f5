"""Alerts: the rules run inside each security event's transaction (an alert is never lost and
never raised for a rolled-back event); administrators read, acknowledge and resolve them.

Delivery is a seam: `Notifier`s are called in the same transaction when an alert is raised
(mail through the outbox; webhooks once events exist)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from tenantry.alerts import repository
from tenantry.alerts.models import STATUSES, rules_for
from tenantry.kit.context import TenantContext
from tenantry.kit.errors import InvalidInput, NotFound

if TYPE_CHECKING:
    from datetime import datetime
    from uuid import UUID

    from tenantry.alerts.models import Alert, Rule
    from tenantry.kit.actor import Actor
    from tenantry.kit.db import Database, Transaction
    from tenantry.security_events.models import RecordedEvent


class Notifier(Protocol):
    async def alert_raised(
        self, tx: Transaction, tenant_id: UUID, alert_id: UUID, rule: Rule, source: str
    ) -> None: ...


class AlertService:
    def __init__(self, db: Database, notifiers: list[Notifier] | None = None) -> None:
        self._db = db
        self._notifiers = notifiers or []

    def add_notifier(self, notifier: Notifier) -> None:
        """Deliver every alert raised from now on through `notifier` too."""
        self._notifiers.append(notifier)

    async def on_event(self, tx: Transaction, event: RecordedEvent) -> None:
        """The `SecurityEvents` observer: count the event into every rule it matches."""
        for rule in rules_for(event.kind):
            source = event.ip or ""
            raised = await repository.count_event(tx, event.tenant_id, rule, source, event.kind)
            if raised is not None:
                for notifier in self._notifiers:
                    await notifier.alert_raised(tx, event.tenant_id, raised, rule, source)

    async def search(
        self,
        tenant_id: UUID,
        *,
        status: str | None = None,
        rule: str | None = None,
        since: datetime | None = None,
        before_id: UUID | None = None,
        limit: int = 50,
    ) -> list[Alert]:
        _check_status(status)
        async with self._db.tenant_transaction(TenantContext(tenant_id, cross_app=True)) as tx:
            return await repository.search(
                tx,
                tenant_id,
                status=status,
                rule=rule,
                since=since,
                before_id=before_id,
                limit=limit,
            )

    async def search_every_tenant(
        self,
        *,
        tenant_id: UUID | None = None,
        status: str | None = None,
        rule: str | None = None,
        since: datetime | None = None,
        before_id: UUID | None = None,
        limit: int = 50,
    ) -> list[Alert]:
        """Every tenant's alerts, for platform administrators."""
        _check_status(status)
        # One tenant: where it lives; every tenant (None): at home.
        async with self._db.platform_transaction(tenant_id=tenant_id) as tx:
            return await repository.search(
                tx,
                tenant_id,
                status=status,
                rule=rule,
                since=since,
                before_id=before_id,
                limit=limit,
            )

    async def open_count(self, tenant_id: UUID) -> int:
        async with self._db.tenant_transaction(TenantContext(tenant_id, cross_app=True)) as tx:
            return await repository.count_open(tx, tenant_id)

    async def open_count_every_tenant(self) -> int:
        """Open alerts across tenants, for the operators' dashboard."""
        async with self._db.platform_transaction() as tx:
            return await repository.count_open(tx, None)

    async def acknowledge(
        self, tenant_id: UUID, alert_id: UUID, *, by: Actor, read_only: bool = False
    ) -> None:
        """Mark an alert seen, with who and when; another tenant's alert does not exist.
        `read_only`: the caller acts for someone with read-only rights (the database refuses)."""
        context = TenantContext(tenant_id, read_only=read_only)
        async with self._db.tenant_transaction(context) as tx:
            if not await repository.acknowledge(tx, tenant_id, alert_id, str(by)):
                raise NotFound("no such alert")

    async def resolve(
        self, tenant_id: UUID, alert_id: UUID, *, by: Actor, read_only: bool = False
    ) -> None:
        """Close an alert, with who and when; another tenant's alert does not exist.

        The states: open → acknowledged → resolved, or open → resolved directly. Resolving is
        idempotent: resolving a resolved alert changes nothing and keeps the first resolver and
        time (as acknowledging twice does), so a retried or double-clicked request is no error.
        Resolution ends the alert's window: a new burst from the same source raises a new
        alert. `read_only`: as for `acknowledge`."""
        context = TenantContext(tenant_id, read_only=read_only)
        async with self._db.tenant_transaction(context) as tx:
            if not await repository.resolve(tx, tenant_id, alert_id, str(by)):
                raise NotFound("no such alert")


def _check_status(status: str | None) -> None:
    if status is not None and status not in STATUSES:
        raise InvalidInput(f"status must be one of {', '.join(STATUSES)}")
