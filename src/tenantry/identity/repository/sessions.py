"""Sessions and their rotating refresh tokens."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tenantry.identity.models import RefreshState, Session
from tenantry.kit.ids import uuid7
from tenantry.kit.invalidation import notify_in

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import datetime
    from uuid import UUID

    from tenantry.identity.models import AppUser
    from tenantry.kit.context import TenantContext
    from tenantry.kit.db import Database, Requirement, Transaction

_SESSION = (
    "id, app_user_id, auth_method, created_at, last_used_at, expires_at, revoked_at, ip, user_agent"
)


async def create_session(
    tx: Transaction,
    user: AppUser,
    *,
    auth_method: str,
    ttl_seconds: int,
    ip: str | None,
    user_agent: str | None,
    signed_in_at: datetime | None = None,
) -> Session:
    """`signed_in_at`: the interactive sign-in the session descends from, if not this one
    (a token exchange keeps its subject's)."""
    row = await tx.fetch_one(
        f"""INSERT INTO tenantry.sessions
                (tenant_id, app_id, id, app_user_id, auth_method, expires_at, ip, user_agent,
                 signed_in_at)
            VALUES (%s, %s, %s, %s, %s, now() + make_interval(secs => %s), %s, %s, %s)
            RETURNING {_SESSION}""",
        [
            user.tenant_id,
            user.app_id,
            uuid7(),
            user.id,
            auth_method,
            ttl_seconds,
            ip,
            (user_agent or "")[:500] or None,
            signed_in_at,
        ],
    )
    assert row is not None
    return Session(**row)


def active_session_check(
    tenant_id: UUID, app_id: UUID, session_id: UUID, user_id: UUID, error: Exception
) -> Requirement:
    """A requirement sent in the same round trip as the request's first statement."""
    return (
        """SELECT 1 AS ok FROM tenantry.sessions
            WHERE tenant_id = %s AND app_id = %s AND id = %s AND app_user_id = %s
              AND revoked_at IS NULL AND expires_at > now()""",
        [tenant_id, app_id, session_id, user_id],
        error,
    )


async def read_sessions(
    db: Database, context: TenantContext, require: Sequence[Requirement]
) -> list[Session]:
    rows = await db.read(
        context,
        f"""SELECT {_SESSION} FROM tenantry.sessions
             WHERE tenant_id = %s AND app_id = %s AND app_user_id = %s
               AND revoked_at IS NULL AND expires_at > now()
             ORDER BY created_at DESC""",
        [context.tenant_id, context.app_id, context.app_user_id],
        require=require,
    )
    return [Session(**row) for row in rows]


async def revoke_session(
    tx: Transaction,
    tenant_id: UUID,
    app_id: UUID,
    session_id: UUID,
    reason: str,
    *,
    user_id: UUID | None = None,
) -> bool:
    cur = await tx.execute(
        """UPDATE tenantry.sessions SET revoked_at = now(), revoked_reason = %s
            WHERE tenant_id = %s AND app_id = %s AND id = %s AND revoked_at IS NULL
              AND (%s::uuid IS NULL OR app_user_id = %s)""",
        [reason, tenant_id, app_id, session_id, user_id, user_id],
    )
    if cur.rowcount:
        await _ended(tx, tenant_id)
    return cur.rowcount == 1


async def revoke_user_sessions(
    tx: Transaction, user: AppUser, reason: str, *, keep: UUID | None = None
) -> int:
    """Revoke every live session of the user, except `keep` (the caller's own, if given)."""
    cur = await tx.execute(
        """UPDATE tenantry.sessions SET revoked_at = now(), revoked_reason = %s
            WHERE tenant_id = %s AND app_id = %s AND app_user_id = %s AND revoked_at IS NULL
              AND id IS DISTINCT FROM %s""",
        [reason, user.tenant_id, user.app_id, user.id, keep],
    )
    if cur.rowcount:
        await _ended(tx, user.tenant_id)
    return cur.rowcount


async def _ended(tx: Transaction, tenant_id: UUID) -> None:
    """Sessions of the tenant ended: this process forgets them the moment the change commits
    (the table's trigger tells the other processes, `identity.liveness`)."""
    await notify_in(tx, str(tenant_id))


async def add_refresh_token(
    tx: Transaction, tenant_id: UUID, app_id: UUID, session_id: UUID, token_hash: bytes
) -> None:
    await tx.execute(
        """INSERT INTO tenantry.refresh_tokens
               (tenant_id, app_id, id, session_id, token_hash, expires_at)
           SELECT tenant_id, app_id, %s, id, %s, expires_at FROM tenantry.sessions
            WHERE tenant_id = %s AND app_id = %s AND id = %s""",
        [uuid7(), token_hash, tenant_id, app_id, session_id],
    )


async def take_refresh_token(
    tx: Transaction, tenant_id: UUID, app_id: UUID, token_hash: bytes
) -> RefreshState | None:
    """Look the token up, locking it so two concurrent refreshes cannot both succeed."""
    row = await tx.fetch_one(
        """SELECT r.id AS token_id, r.session_id, s.app_user_id, r.used_at IS NOT NULL AS used,
                  (s.revoked_at IS NULL AND s.expires_at > now() AND r.expires_at > now())
                      AS session_active,
                  coalesce(s.signed_in_at, s.created_at) AS signed_in_at
             FROM tenantry.refresh_tokens r
             JOIN tenantry.sessions s
               ON s.tenant_id = r.tenant_id AND s.app_id = r.app_id AND s.id = r.session_id
            WHERE r.tenant_id = %s AND r.app_id = %s AND r.token_hash = %s
            FOR UPDATE OF r, s""",
        [tenant_id, app_id, token_hash],
    )
    return RefreshState(**row) if row else None


async def use_refresh_token(tx: Transaction, tenant_id: UUID, token_id: UUID) -> None:
    await tx.execute(
        """UPDATE tenantry.refresh_tokens SET used_at = now() WHERE tenant_id = %s AND id = %s""",
        [tenant_id, token_id],
    )
    await tx.execute(
        """UPDATE tenantry.sessions SET last_used_at = now()
            WHERE tenant_id = %s AND id = (SELECT session_id FROM tenantry.refresh_tokens
                                            WHERE tenant_id = %s AND id = %s)""",
        [tenant_id, tenant_id, token_id],
    )
