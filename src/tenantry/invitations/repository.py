"""Invitations' SQL. Every statement runs in the invitation's own tenant and app context; only
the hash of an invitation's token is stored."""

from __future__ import annotations

from typing import TYPE_CHECKING, LiteralString

from tenantry.invitations.models import Invitation
from tenantry.kit.ids import uuid7

if TYPE_CHECKING:
    from uuid import UUID

    from tenantry.kit.db import Transaction


def _columns(now: LiteralString) -> LiteralString:
    """The invitation's columns, its status as of `now`: in a RETURNING clause a column the
    statement set to now(), since Citus takes no now() there."""
    return f"""id, app_id, email, display_name, role_keys,
    CASE WHEN accepted_at IS NOT NULL THEN 'accepted'
         WHEN revoked_at IS NOT NULL THEN 'revoked'
         WHEN expires_at <= {now} THEN 'expired'
         ELSE 'pending' END AS status,
    invited_by, created_at, expires_at, last_sent_at, send_count, accepted_at, app_user_id,
    roles_applied_at, revoked_at, revoked_by"""


_INVITATION = _columns("now()")
_INSERTED = _columns("created_at")
_ACCEPTED = _columns("accepted_at")
_REVOKED = _columns("revoked_at")
_RESENT = _columns("last_sent_at")
_OPEN = "accepted_at IS NULL AND revoked_at IS NULL"


async def close_expired(tx: Transaction, tenant_id: UUID, app_id: UUID, email: str) -> None:
    """An expired open invitation of the address makes way for a new one (it stays listed)."""
    await tx.execute(
        f"""UPDATE tenantry.invitations
               SET revoked_at = now(), revoked_by = 'system', revoked_reason = 'expired'
             WHERE tenant_id = %s AND app_id = %s AND email_normalized = %s AND {_OPEN}
               AND expires_at <= now()""",
        [tenant_id, app_id, email],
    )


async def insert(
    tx: Transaction,
    tenant_id: UUID,
    app_id: UUID,
    *,
    email: str,
    display_name: str | None,
    role_keys: list[str],
    token_hash: bytes,
    ttl_seconds: int,
    invited_by: str,
) -> Invitation:
    row = await tx.fetch_one(
        f"""INSERT INTO tenantry.invitations
                (tenant_id, app_id, id, email, email_normalized, display_name, role_keys,
                 token_hash, invited_by, expires_at)
            VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, now() + make_interval(secs => %s))
            RETURNING {_INSERTED}""",
        [
            tenant_id,
            app_id,
            uuid7(),
            email,
            email.strip().lower(),
            display_name,
            role_keys,
            token_hash,
            invited_by,
            ttl_seconds,
        ],
    )
    assert row is not None
    return Invitation(**row)


async def listed(
    tx: Transaction, tenant_id: UUID, app_id: UUID, status: str | None, limit: int
) -> list[Invitation]:
    rows = await tx.fetch_all(
        f"""SELECT * FROM (SELECT {_INVITATION} FROM tenantry.invitations
                            WHERE tenant_id = %s AND app_id = %s) i
             WHERE %s::text IS NULL OR i.status = %s
             ORDER BY i.created_at DESC LIMIT %s""",
        [tenant_id, app_id, status, status, limit],
    )
    return [Invitation(**row) for row in rows]


async def get(
    tx: Transaction, tenant_id: UUID, app_id: UUID, invitation_id: UUID
) -> Invitation | None:
    row = await tx.fetch_one(
        f"""SELECT {_INVITATION} FROM tenantry.invitations
             WHERE tenant_id = %s AND app_id = %s AND id = %s""",
        [tenant_id, app_id, invitation_id],
    )
    return Invitation(**row) if row else None


async def take(
    tx: Transaction, tenant_id: UUID, app_id: UUID, token_hash: bytes
) -> Invitation | None:
    """The invitation of a token, locked for this transaction: of two concurrent acceptances
    the second waits, then sees the first one's outcome."""
    row = await tx.fetch_one(
        f"""SELECT {_INVITATION} FROM tenantry.invitations
             WHERE tenant_id = %s AND app_id = %s AND token_hash = %s FOR UPDATE""",
        [tenant_id, app_id, token_hash],
    )
    return Invitation(**row) if row else None


async def mark_accepted(
    tx: Transaction, tenant_id: UUID, app_id: UUID, invitation_id: UUID, user_id: UUID
) -> Invitation:
    row = await tx.fetch_one(
        f"""UPDATE tenantry.invitations SET accepted_at = now(), app_user_id = %s
             WHERE tenant_id = %s AND app_id = %s AND id = %s AND {_OPEN}
            RETURNING {_ACCEPTED}""",
        [user_id, tenant_id, app_id, invitation_id],
    )
    assert row is not None
    return Invitation(**row)


async def mark_roles_applied(
    tx: Transaction, tenant_id: UUID, app_id: UUID, invitation_id: UUID
) -> None:
    await tx.execute(
        """UPDATE tenantry.invitations SET roles_applied_at = now()
            WHERE tenant_id = %s AND app_id = %s AND id = %s""",
        [tenant_id, app_id, invitation_id],
    )


async def revoke(
    tx: Transaction,
    tenant_id: UUID,
    app_id: UUID,
    invitation_id: UUID,
    *,
    by: str,
    reason: str | None,
) -> Invitation | None:
    row = await tx.fetch_one(
        f"""UPDATE tenantry.invitations
               SET revoked_at = now(), revoked_by = %s, revoked_reason = %s
             WHERE tenant_id = %s AND app_id = %s AND id = %s AND {_OPEN}
            RETURNING {_REVOKED}""",
        [by, reason, tenant_id, app_id, invitation_id],
    )
    return Invitation(**row) if row else None


async def renew_token(
    tx: Transaction,
    tenant_id: UUID,
    app_id: UUID,
    invitation_id: UUID,
    token_hash: bytes,
    ttl_seconds: int,
) -> Invitation:
    """A resend: a new token replaces the old one (which stops working) with a new expiry."""
    row = await tx.fetch_one(
        f"""UPDATE tenantry.invitations
               SET token_hash = %s, expires_at = now() + make_interval(secs => %s),
                   last_sent_at = now(), send_count = send_count + 1
             WHERE tenant_id = %s AND app_id = %s AND id = %s AND {_OPEN}
            RETURNING {_RESENT}""",
        [token_hash, ttl_seconds, tenant_id, app_id, invitation_id],
    )
    assert row is not None
    return Invitation(**row)


async def seconds_since_sent(
    tx: Transaction, tenant_id: UUID, app_id: UUID, invitation_id: UUID
) -> int:
    row = await tx.fetch_one(
        """SELECT floor(extract(epoch FROM now() - last_sent_at))::int AS waited
             FROM tenantry.invitations WHERE tenant_id = %s AND app_id = %s AND id = %s""",
        [tenant_id, app_id, invitation_id],
    )
    assert row is not None
    return int(row["waited"])
