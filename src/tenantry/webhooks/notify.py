"""Telling a tenant that one of its webhook endpoints was disabled: a mail to each of its
administrators through the mail outbox and an entry in its audit log, in the transaction that
disabled it (so neither is lost, nor sent for a rolled-back change). The worker disables on the
platform path, which reaches the admin app's users and outbox without switching scope."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tenantry.audit_log.service import AuditLog
from tenantry.identity.principal import ADMIN_APP
from tenantry.kit.actor import Actor

if TYPE_CHECKING:
    from tenantry.apps.service import AppDirectory
    from tenantry.identity.directory import UserDirectory
    from tenantry.kit.db import Transaction
    from tenantry.webhooks.models import Endpoint

MAX_RECIPIENTS = 20
SYSTEM = Actor("system", "webhooks")


class DisabledMail:
    def __init__(self, apps: AppDirectory, users: UserDirectory) -> None:
        self._apps = apps
        self._users = users

    async def endpoint_disabled(self, tx: Transaction, endpoint: Endpoint) -> None:
        await AuditLog.record_in(
            tx,
            tenant_id=endpoint.tenant_id,
            action="webhook_endpoint.disabled",
            object_type="webhook_endpoint",
            object_id=endpoint.id,
            by=SYSTEM,
            metadata={"url": endpoint.url, "reason": endpoint.disabled_reason},
        )
        subject = "A webhook endpoint was disabled"
        body = (
            f"The webhook endpoint {endpoint.url} ({endpoint.id}) was disabled: "
            f"{endpoint.disabled_reason}.\n\nFix the receiver, then enable the endpoint on the "
            "Webhooks page of the admin console; failed deliveries can be replayed."
        )
        admin_app = (await self._apps.require_in(tx, ADMIN_APP)).id
        addresses = await self._users.active_addresses_in(
            tx, endpoint.tenant_id, admin_app, MAX_RECIPIENTS
        )
        for address in addresses:
            await self._users.queue_mail_in(
                tx, endpoint.tenant_id, admin_app, address, subject, body
            )
