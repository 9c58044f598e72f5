"""The mail outbox: written in the transaction of the change that causes a mail, read by the
delivery worker on the platform path."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tenantry.kit.ids import uuid7

if TYPE_CHECKING:
    from uuid import UUID

    from psycopg.rows import DictRow

    from tenantry.kit.db import Transaction


async def queue_mail(
    tx: Transaction, tenant_id: UUID, app_id: UUID, to: str, subject: str, body: str
) -> None:
    await tx.execute(
        """INSERT INTO tenantry.mail_outbox (tenant_id, app_id, id, to_address, subject, body)
           VALUES (%s, %s, %s, %s, %s, %s)""",
        [tenant_id, app_id, uuid7(), to, subject, body],
    )


async def mails_sent_recently(
    tx: Transaction, tenant_id: UUID, app_id: UUID, to: str, subject: str, seconds: int
) -> int:
    row = await tx.fetch_one(
        """SELECT count(*) AS n FROM tenantry.mail_outbox
            WHERE tenant_id = %s AND app_id = %s AND created_at > now() - make_interval(secs => %s)
              AND to_address = %s AND subject = %s""",
        [tenant_id, app_id, seconds, to, subject],
    )
    assert row is not None
    return int(row["n"])


async def take_unsent(tx: Transaction) -> DictRow | None:
    """The oldest unsent mail, locked for this transaction; mails other workers are sending
    are skipped (FOR UPDATE SKIP LOCKED)."""
    return await tx.fetch_one(
        """SELECT tenant_id, id, to_address, subject, body FROM tenantry.mail_outbox
            WHERE sent_at IS NULL ORDER BY created_at LIMIT 1 FOR UPDATE SKIP LOCKED"""
    )


async def mark_sent(tx: Transaction, tenant_id: UUID, mail_id: UUID) -> None:
    await tx.execute(
        "UPDATE tenantry.mail_outbox SET sent_at = now() WHERE tenant_id = %s AND id = %s",
        [tenant_id, mail_id],
    )


async def newest(tx: Transaction, limit: int) -> list[DictRow]:
    """The newest mail across tenants, for the development outbox view."""
    return await tx.fetch_all(
        """SELECT m.created_at, t.slug AS tenant, a.slug AS app, m.to_address, m.subject, m.body
             FROM tenantry.mail_outbox m
             JOIN tenantry.tenants t ON t.id = m.tenant_id
             JOIN tenantry.apps a ON a.id = m.app_id
            ORDER BY m.created_at DESC LIMIT %s""",
        [limit],
    )
