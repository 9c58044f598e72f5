"""Mail that identity queues in the caller's transaction (see `mail` for delivery): one-time
codes, and notices to an address, limited per address.

Mail sent on request of anonymous callers (verification, password reset, "you already have an
account") is limited to `MAIL_PER_ADDRESS` of one kind to one address per window; further
requests are accepted as usual but send nothing, so a stranger cannot flood someone's inbox.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tenantry.identity.repository import credentials
from tenantry.identity.repository import mail as outbox
from tenantry.identity.tokens import TokenKind, new_token

if TYPE_CHECKING:
    from tenantry.identity.models import AppUser
    from tenantry.kit.db import Transaction

MAIL_PER_ADDRESS = 3
MAIL_WINDOW_SECONDS = 3600
_CODE_MAILS = {
    "verify_email": ("Verify your email address", "verify your email address"),
    "reset_password": ("Reset your password", "choose a new password"),
}


async def queue_limited(tx: Transaction, user: AppUser, subject: str, body: str) -> bool:
    """Queue a mail unless this address got `MAIL_PER_ADDRESS` of this kind recently."""
    sent = await outbox.mails_sent_recently(
        tx, user.tenant_id, user.app_id, user.email, subject, MAIL_WINDOW_SECONDS
    )
    if sent >= MAIL_PER_ADDRESS:
        return False
    await outbox.queue_mail(tx, user.tenant_id, user.app_id, user.email, subject, body)
    return True


async def send_code(tx: Transaction, user: AppUser, purpose: str, ttl: int) -> None:
    """Mail a single-use code for `purpose`; the code exists only if the mail was queued."""
    token = new_token(TokenKind.ONE_TIME, user.tenant_id)
    subject, action = _CODE_MAILS[purpose]
    body = (
        f"Use this code to {action}:\n\n{token.value}\n\n"
        f"It expires in {ttl // 3600 or 1} hour(s). "
        "If you did not ask for it, ignore this mail."
    )
    if await queue_limited(tx, user, subject, body):
        await credentials.add_one_time_token(tx, user, purpose, token.hash, ttl)


async def mail_existing_owner(tx: Transaction, user: AppUser) -> None:
    """Someone signed up with an address that has an account: its owner hears of it."""
    await queue_limited(
        tx,
        user,
        "Someone tried to sign up with your email address",
        "Someone tried to create an account with this email address, which already has one."
        "\n\nIf it was you, sign in instead, or reset your password if you forgot it. "
        "If not, you can ignore this mail: nothing has changed.",
    )
