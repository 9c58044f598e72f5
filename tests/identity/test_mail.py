"""Outbox delivery to a real SMTP server on loopback (aiosmtpd)."""

from __future__ import annotations

import socket

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Message

from tenantry.identity.mail import SmtpSender, deliver_pending
from tenantry.kit.errors import ConfigurationError
from tests.support.accounts import signup


class Inbox(Message):
    def __init__(self) -> None:
        super().__init__()
        self.messages: list = []

    def handle_message(self, message) -> None:
        self.messages.append(message)


@pytest.fixture
def smtp():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


async def test_outbox_is_delivered_once(client, db, tenant, smtp) -> None:
    inbox, port = smtp
    await signup(client, "thinktank", tenant, "postbox@example.com")
    sender = SmtpSender(f"smtp://127.0.0.1:{port}", "no-reply@tenantry.test")
    sent, failed = await deliver_pending(db, sender, limit=1000)
    assert failed == 0
    assert sent >= 1
    mine = [m for m in inbox.messages if m["To"] == "postbox@example.com"]
    assert len(mine) == 1
    assert mine[0]["Subject"] == "Verify your email address"
    assert "tenantry_ott_" in mine[0].get_payload()
    # Delivered mail is marked; a second run sends nothing again.
    assert (await deliver_pending(db, sender, limit=1000)) == (0, 0)


async def test_a_dead_server_loses_nothing(client, db, tenant) -> None:
    await signup(client, "thinktank", tenant, "later@example.com")
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    dead = sock.getsockname()[1]
    sock.close()
    sent, failed = await deliver_pending(db, SmtpSender(f"smtp://127.0.0.1:{dead}", "x@y.test"))
    assert (sent, failed) == (0, 1)
    async with db.platform_transaction() as tx:
        row = await tx.fetch_one(
            "SELECT sent_at FROM tenantry.mail_outbox WHERE to_address = 'later@example.com'"
        )
    assert row["sent_at"] is None


def test_bad_smtp_url_is_a_clear_error() -> None:
    with pytest.raises(ConfigurationError, match="smtp://"):
        SmtpSender("mailto:someone", "x@y.test")
    assert "secret" not in repr(SmtpSender("smtp://u:secret@127.0.0.1:25", "x@y.test"))
