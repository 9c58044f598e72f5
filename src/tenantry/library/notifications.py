"""Telling a tenant's administrators, in the transaction of the change that calls for it.

    await notify_tenant_admins_in(db, scoped.tx, tenant_id, Notice(
        subject="...", body="...", event_type="notes.quota.reached", payload={...}))

The tenant's administrators are the active users of its admin app. Each gets a mail through
the mail outbox, and the admin app publishes the notice as an event (webhooks and in-process
consumers receive it), both in the caller's transaction: they commit with the change or not at
all, and nothing is lost while a mail server or a webhook receiver is down. The outbox and the
event belong to the admin app's scope, beside the caller's own, so the transaction switches to
that server-signed scope for them and back, as Tenantry's security alerts do.

The event type must be declared in an app manifest (`events.emits`), with the JSON Schema the
payload is validated against; an undeclared type or a payload it refuses raises `InvalidInput`,
and the caller's transaction fails with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tenantry.alerts.delivery import MAX_RECIPIENTS
from tenantry.apps.service import AppDirectory
from tenantry.events.service import Events
from tenantry.identity.directory import UserDirectory
from tenantry.identity.principal import ADMIN_APP
from tenantry.kit.context import TenantContext
from tenantry.tenants.service import TenantDirectory

if TYPE_CHECKING:
    from uuid import UUID

    from tenantry.kit.db import Database, Transaction

__all__ = ["Notice", "Notified", "notify_tenant_admins_in"]


@dataclass(frozen=True, slots=True)
class Notice:
    subject: str
    body: str
    event_type: str
    payload: Any
    # Events of one key reach each consumer in order (e.g. one per alerting rule).
    key: str | None = None


@dataclass(frozen=True, slots=True)
class Notified:
    """What went out: mails queued, and the event's id (None: the tenant has no admin app)."""

    mails: int
    event_id: UUID | None


async def notify_tenant_admins_in(
    db: Database, tx: Transaction, tenant_id: UUID, notice: Notice
) -> Notified:
    """Mail the tenant's administrators (at most 20, oldest accounts first) and publish the
    notice as the admin app's event, in `tx`. A tenant without the admin app enabled has no
    administrators to tell: nothing is written."""
    admin_app = await AppDirectory(db).require_in(tx, ADMIN_APP)
    tenant = await TenantDirectory(db).get(tenant_id)
    if tenant is None or admin_app.id not in tenant.app_ids:
        return Notified(0, None)
    token = db.signer.sign_tenant(TenantContext(tenant_id, admin_app.id))
    async with tx.switched(token):
        addresses = await UserDirectory.active_addresses_in(
            tx, tenant_id, admin_app.id, MAX_RECIPIENTS
        )
        for address in addresses:
            await UserDirectory.queue_mail_in(
                tx, tenant_id, admin_app.id, address, notice.subject, notice.body
            )
        event = await Events(db).publish_in(
            tx,
            tenant_id=tenant_id,
            app_id=admin_app.id,
            type=notice.event_type,
            payload=notice.payload,
            key=notice.key,
        )
    return Notified(len(addresses), event.id)
