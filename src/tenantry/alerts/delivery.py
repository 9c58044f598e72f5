"""Delivering a raised alert, in the transaction of the event that raised it: a mail to each of
the tenant's administrators through the mail outbox and, for rules that point at cross-tenant
probing, a copy to the operators' administrators. Nothing is queued for a rolled-back event,
and nothing is lost if the mail server is down.

The administrators are the active users of the admin app; their outbox is the admin app's, a
scope beside the event's own, so the notifier switches the transaction to that server-signed
scope for the mail and back (`Transaction.switched`). Webhooks will be another `Notifier`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tenantry.identity.principal import ADMIN_APP
from tenantry.kit.context import TenantContext

if TYPE_CHECKING:
    from uuid import UUID

    from tenantry.alerts.models import Rule
    from tenantry.apps.service import AppDirectory
    from tenantry.identity.directory import UserDirectory
    from tenantry.kit.db import Database, Transaction
    from tenantry.tenants.service import TenantDirectory

# Beyond this many administrators, the oldest accounts hear of it (a bound on one event's work).
MAX_RECIPIENTS = 20


class MailNotifier:
    def __init__(
        self,
        db: Database,
        apps: AppDirectory,
        tenants: TenantDirectory,
        users: UserDirectory,
        *,
        platform_tenant: str,
    ) -> None:
        self._db = db
        self._apps = apps
        self._tenants = tenants
        self._users = users
        self._platform_tenant = platform_tenant

    async def alert_raised(
        self, tx: Transaction, tenant_id: UUID, alert_id: UUID, rule: Rule, source: str
    ) -> None:
        tenant = await self._tenants.get(tenant_id)
        slug = tenant.slug if tenant else str(tenant_id)
        origin = f" from {source}" if source else ""
        body = (
            f"{rule.title}{origin}: at least {rule.threshold} event(s) within "
            f"{rule.window_seconds // 60 or 1} minute(s) in tenant {slug}.\n\n"
            f"Alert {alert_id}. Review and acknowledge it on the Alerts page of the admin console."
        )
        subject = f"[{rule.severity}] {rule.title}"
        await self._mail_admins(tx, tenant_id, subject, body)
        if rule.probing:
            operators = await self._tenants.by_slug(self._platform_tenant)
            if operators is not None and operators.id != tenant_id:
                await self._mail_admins(tx, operators.id, f"{subject} ({slug})", body)

    async def _mail_admins(self, tx: Transaction, tenant_id: UUID, subject: str, body: str) -> None:
        admin_app = (await self._apps.require_in(tx, ADMIN_APP)).id
        token = self._db.signer.sign_tenant(TenantContext(tenant_id, admin_app))
        async with tx.switched(token):
            addresses = await self._users.active_addresses_in(
                tx, tenant_id, admin_app, MAX_RECIPIENTS
            )
            for address in addresses:
                await self._users.queue_mail_in(tx, tenant_id, admin_app, address, subject, body)
