"""Delivering the mail outbox. Mail is written to the outbox in the same transaction as the
change that causes it (a sign-up, a reset request), so nothing is sent for a rolled-back
change and nothing is lost if the mail server is down: delivery picks it up later.

Without `TENANTRY_SMTP_URL` mail stays in the outbox (development: `tenantry mail outbox`).
"""

from __future__ import annotations

import asyncio
import smtplib
from dataclasses import dataclass
from email.message import EmailMessage
from typing import TYPE_CHECKING, Protocol
from urllib.parse import unquote, urlparse

from tenantry.identity.repository import mail as outbox
from tenantry.kit.errors import ConfigurationError

if TYPE_CHECKING:
    from psycopg.rows import DictRow

    from tenantry.kit.db import Database


@dataclass(frozen=True)
class Mail:
    to: str
    subject: str
    body: str


async def newest(db: Database, limit: int) -> list[DictRow]:
    """The newest mail in the outbox, every tenant's (an operator's view)."""
    async with db.platform_transaction() as tx:
        return await outbox.newest(tx, limit)


class MailSender(Protocol):
    async def send(self, mail: Mail) -> None: ...


class SmtpSender:
    """smtp://user:pass@host:port (STARTTLS when offered) or smtps://… (implicit TLS)."""

    def __init__(self, url: str, sender: str) -> None:
        parsed = urlparse(url)
        if parsed.scheme not in {"smtp", "smtps"} or not parsed.hostname:
            raise ConfigurationError("TENANTRY_SMTP_URL must look like smtp://user:pass@host:port")
        self._tls = parsed.scheme == "smtps"
        self._host = parsed.hostname
        self._port = parsed.port or (465 if self._tls else 25)
        self._user = unquote(parsed.username or "")
        self._password = unquote(parsed.password or "")
        self._from = sender

    def __repr__(self) -> str:  # the URL may carry a password
        return f"SmtpSender({self._host}:{self._port})"

    async def send(self, mail: Mail) -> None:
        await asyncio.to_thread(self._send, mail)

    def _send(self, mail: Mail) -> None:
        message = EmailMessage()
        message["From"] = self._from
        message["To"] = mail.to
        message["Subject"] = mail.subject
        message.set_content(mail.body)
        client_class = smtplib.SMTP_SSL if self._tls else smtplib.SMTP
        with client_class(self._host, self._port, timeout=10) as client:
            if not self._tls and client.has_extn("starttls"):
                client.starttls()
            if self._user:
                client.login(self._user, self._password)
            client.send_message(message)


async def deliver_pending(db: Database, sender: MailSender, limit: int = 100) -> tuple[int, int]:
    """Send up to `limit` unsent mails; returns (sent, failed). Safe to run from several
    workers at once: each mail is locked while it is sent (FOR UPDATE SKIP LOCKED)."""
    sent = failed = 0
    for _ in range(limit):
        async with db.platform_transaction() as tx:
            row = await outbox.take_unsent(tx)
            if row is None:
                break
            try:
                await sender.send(Mail(row["to_address"], row["subject"], row["body"]))
            except (OSError, smtplib.SMTPException):
                failed += 1
                break  # the server is unhappy: leave the rest for the next run
            await outbox.mark_sent(tx, row["tenant_id"], row["id"])
            sent += 1
    return sent, failed
