"""Impersonation sessions and delegations: the grants under which someone acts for a user."""

from __future__ import annotations

from typing import TYPE_CHECKING, LiteralString

from tenantry.identity.models import ActorImpersonation, Delegation, Impersonation
from tenantry.identity.principal import ActingMode
from tenantry.kit.ids import uuid7

if TYPE_CHECKING:
    from uuid import UUID

    from tenantry.kit.db import Requirement, Transaction

_IMPERSONATION = """id, tenant_id, app_id, target_user_id, actor_user_id, actor_tenant_id, actor,
    reason, read_only, started_at, expires_at, ended_at"""


def _delegation(now: LiteralString) -> LiteralString:
    """The delegation's columns, live as of `now`: in a RETURNING clause a column the statement
    set to now(), since Citus takes no now() there."""
    return f"""id, tenant_id, app_id, grantor_id, delegate_id, scopes, privileges, reason,
    starts_at, ends_at, revoked_at,
    (revoked_at IS NULL AND starts_at <= {now} AND ends_at > {now}) AS live"""


_DELEGATION = _delegation("now()")
_DELEGATED = _delegation("starts_at")
_DELEGATION_REVOKED = _delegation("revoked_at")


def live_grant_check(
    mode: ActingMode, tenant_id: UUID, app_id: UUID, grant_id: UUID, user_id: UUID, error: Exception
) -> Requirement:
    """The grant behind an acting credential, still running: sent with the request's first
    statement, so ending an impersonation or revoking a delegation stops its tokens at once."""
    if mode is ActingMode.IMPERSONATION:
        return (
            """SELECT 1 AS ok FROM tenantry.impersonation_sessions
                WHERE tenant_id = %s AND app_id = %s AND id = %s AND target_user_id = %s
                  AND ended_at IS NULL AND expires_at > now()""",
            [tenant_id, app_id, grant_id, user_id],
            error,
        )
    return (
        """SELECT 1 AS ok FROM tenantry.delegations
            WHERE tenant_id = %s AND app_id = %s AND id = %s AND grantor_id = %s
              AND revoked_at IS NULL AND starts_at <= now() AND ends_at > now()""",
        [tenant_id, app_id, grant_id, user_id],
        error,
    )


async def start_impersonation(
    tx: Transaction,
    *,
    tenant_id: UUID,
    app_id: UUID,
    target_user_id: UUID,
    actor_user_id: UUID,
    actor_tenant_id: UUID,
    actor: str,
    reason: str,
    read_only: bool,
    minutes: int,
) -> Impersonation:
    row = await tx.fetch_one(
        f"""INSERT INTO tenantry.impersonation_sessions
                (tenant_id, app_id, id, target_user_id, actor_user_id, actor_tenant_id, actor,
                 reason, read_only, expires_at)
            VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, now() + make_interval(mins => %s))
            RETURNING {_IMPERSONATION}""",
        [
            tenant_id,
            app_id,
            uuid7(),
            target_user_id,
            actor_user_id,
            actor_tenant_id,
            actor,
            reason,
            read_only,
            minutes,
        ],
    )
    assert row is not None
    return Impersonation(**row)


async def impersonation(tx: Transaction, tenant_id: UUID, grant_id: UUID) -> Impersonation | None:
    row = await tx.fetch_one(
        f"""SELECT {_IMPERSONATION} FROM tenantry.impersonation_sessions
             WHERE tenant_id = %s AND id = %s""",
        [tenant_id, grant_id],
    )
    return Impersonation(**row) if row else None


async def end_impersonation(tx: Transaction, tenant_id: UUID, grant_id: UUID, by: str) -> bool:
    cur = await tx.execute(
        """UPDATE tenantry.impersonation_sessions SET ended_at = now(), ended_by = %s
            WHERE tenant_id = %s AND id = %s AND ended_at IS NULL""",
        [by, tenant_id, grant_id],
    )
    return cur.rowcount == 1


async def impersonations(tx: Transaction, tenant_id: UUID, limit: int) -> list[Impersonation]:
    rows = await tx.fetch_all(
        f"""SELECT {_IMPERSONATION} FROM tenantry.impersonation_sessions
             WHERE tenant_id = %s ORDER BY started_at DESC LIMIT %s""",
        [tenant_id, limit],
    )
    return [Impersonation(**row) for row in rows]


async def add_delegation(
    tx: Transaction,
    *,
    tenant_id: UUID,
    app_id: UUID,
    grantor_id: UUID,
    delegate_id: UUID,
    scopes: list[str],
    privileges: list[str],
    reason: str,
    minutes: int,
) -> Delegation:
    row = await tx.fetch_one(
        f"""INSERT INTO tenantry.delegations
                (tenant_id, app_id, id, grantor_id, delegate_id, scopes, privileges, reason,
                 ends_at)
            VALUES (%s, %s, %s, %s, %s, %s, %s, %s, now() + make_interval(mins => %s))
            RETURNING {_DELEGATED}""",
        [tenant_id, app_id, uuid7(), grantor_id, delegate_id, scopes, privileges, reason, minutes],
    )
    assert row is not None
    return Delegation(**row)


async def delegations_of(
    tx: Transaction, tenant_id: UUID, app_id: UUID, user_id: UUID
) -> list[Delegation]:
    """The delegations a user granted or holds, newest first."""
    rows = await tx.fetch_all(
        f"""SELECT {_DELEGATION} FROM tenantry.delegations
             WHERE tenant_id = %s AND app_id = %s AND (grantor_id = %s OR delegate_id = %s)
             ORDER BY created_at DESC LIMIT 200""",
        [tenant_id, app_id, user_id, user_id],
    )
    return [Delegation(**row) for row in rows]


async def delegation(
    tx: Transaction, tenant_id: UUID, app_id: UUID, grant_id: UUID
) -> Delegation | None:
    row = await tx.fetch_one(
        f"""SELECT {_DELEGATION} FROM tenantry.delegations
             WHERE tenant_id = %s AND app_id = %s AND id = %s""",
        [tenant_id, app_id, grant_id],
    )
    return Delegation(**row) if row else None


async def revoke_delegation(
    tx: Transaction, tenant_id: UUID, app_id: UUID, grant_id: UUID, user_id: UUID
) -> bool:
    """Revoke as its grantor or its delegate; False if neither, or already revoked."""
    cur = await tx.execute(
        """UPDATE tenantry.delegations SET revoked_at = now()
            WHERE tenant_id = %s AND app_id = %s AND id = %s AND revoked_at IS NULL
              AND (grantor_id = %s OR delegate_id = %s)""",
        [tenant_id, app_id, grant_id, user_id, user_id],
    )
    return cur.rowcount == 1


async def started_by(
    tx: Transaction, actor_tenant_id: UUID, actor_user_id: UUID, limit: int
) -> list[ActorImpersonation]:
    """The impersonations one administrator started, in any tenant (platform path)."""
    rows = await tx.fetch_all(
        """SELECT i.id, t.slug AS tenant_slug, a.slug AS app_slug, u.email AS target_email,
                  i.reason, i.read_only, i.started_at, i.expires_at, i.ended_at,
                  (i.ended_at IS NULL AND i.expires_at > now()) AS active
             FROM tenantry.impersonation_sessions i
             JOIN tenantry.tenants t ON t.id = i.tenant_id
             JOIN tenantry.apps a ON a.id = i.app_id
             JOIN tenantry.app_users u
               ON u.tenant_id = i.tenant_id AND u.app_id = i.app_id AND u.id = i.target_user_id
            WHERE i.actor_tenant_id = %s AND i.actor_user_id = %s
            ORDER BY i.started_at DESC LIMIT %s""",
        [actor_tenant_id, actor_user_id, limit],
    )
    return [ActorImpersonation(**row) for row in rows]


async def tenant_delegations(tx: Transaction, tenant_id: UUID, limit: int) -> list[Delegation]:
    """Every delegation of a tenant's users, newest first (platform administrators)."""
    rows = await tx.fetch_all(
        f"""SELECT {_DELEGATION} FROM tenantry.delegations
             WHERE tenant_id = %s ORDER BY created_at DESC LIMIT %s""",
        [tenant_id, limit],
    )
    return [Delegation(**row) for row in rows]


async def revoke_tenant_delegation(
    tx: Transaction, tenant_id: UUID, grant_id: UUID
) -> Delegation | None:
    """Revoke any of a tenant's delegations; None if there is none running by that id."""
    row = await tx.fetch_one(
        f"""UPDATE tenantry.delegations SET revoked_at = now()
             WHERE tenant_id = %s AND id = %s AND revoked_at IS NULL
             RETURNING {_DELEGATION_REVOKED}""",
        [tenant_id, grant_id],
    )
    return Delegation(**row) if row else None
