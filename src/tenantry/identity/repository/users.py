"""App users and their preferences."""

from __future__ import annotations

from typing import TYPE_CHECKING

from psycopg.types.json import Jsonb

from tenantry.identity.models import AppUser
from tenantry.kit.ids import uuid7

if TYPE_CHECKING:
    from collections.abc import Sequence
    from uuid import UUID

    from tenantry.kit.context import TenantContext
    from tenantry.kit.db import Database, Requirement, Transaction

_USER = """id, tenant_id, app_id, email, email_verified, display_name, status, password_hash,
           mfa_secret, mfa_enabled, created_at, last_login_at, email_proven_at,
           deactivated_by"""


async def get_by_email(
    tx: Transaction, tenant_id: UUID, app_id: UUID, email: str
) -> AppUser | None:
    row = await tx.fetch_one(
        f"""SELECT {_USER} FROM tenantry.app_users
             WHERE tenant_id = %s AND app_id = %s AND email_normalized = %s""",
        [tenant_id, app_id, email.strip().lower()],
    )
    return AppUser(**row) if row else None


async def get(tx: Transaction, tenant_id: UUID, app_id: UUID, user_id: UUID) -> AppUser | None:
    row = await tx.fetch_one(
        f"""SELECT {_USER} FROM tenantry.app_users
             WHERE tenant_id = %s AND app_id = %s AND id = %s""",
        [tenant_id, app_id, user_id],
    )
    return AppUser(**row) if row else None


async def active_addresses(tx: Transaction, tenant_id: UUID, app_id: UUID, limit: int) -> list[str]:
    """The addresses of the app's active users, oldest account first (an app's administrators,
    for the admin app)."""
    rows = await tx.fetch_all(
        """SELECT email FROM tenantry.app_users
            WHERE tenant_id = %s AND app_id = %s AND status = 'active'
            ORDER BY created_at LIMIT %s""",
        [tenant_id, app_id, limit],
    )
    return [row["email"] for row in rows]


async def read_user(
    db: Database, context: TenantContext, require: Sequence[Requirement]
) -> AppUser | None:
    """The context's own user, in one round trip (see `Database.read`)."""
    rows = await db.read(
        context,
        f"""SELECT {_USER} FROM tenantry.app_users
             WHERE tenant_id = %s AND app_id = %s AND id = %s""",
        [context.tenant_id, context.app_id, context.app_user_id],
        require=require,
    )
    return AppUser(**rows[0]) if rows else None


async def create(
    tx: Transaction,
    tenant_id: UUID,
    app_id: UUID,
    email: str,
    display_name: str | None = None,
    *,
    password_hash: str | None = None,
    email_verified: bool = False,
) -> AppUser:
    row = await tx.fetch_one(
        f"""INSERT INTO tenantry.app_users
                (tenant_id, app_id, id, email, display_name, password_hash, email_verified,
                 password_changed_at)
            VALUES (%s, %s, %s, %s, %s, %s, %s, CASE WHEN %s::text IS NULL THEN NULL ELSE now() END)
            RETURNING {_USER}""",
        [
            tenant_id,
            app_id,
            uuid7(),
            email,
            display_name,
            password_hash,
            email_verified,
            password_hash,
        ],
    )
    assert row is not None
    return AppUser(**row)


async def set_password(tx: Transaction, user: AppUser, password_hash: str) -> None:
    await tx.execute(
        """UPDATE tenantry.app_users
              SET password_hash = %s, password_changed_at = now(), updated_at = now()
            WHERE tenant_id = %s AND app_id = %s AND id = %s""",
        [password_hash, user.tenant_id, user.app_id, user.id],
    )


async def mark_login(tx: Transaction, user: AppUser) -> bool:
    """Record a sign-in; False if the user is not active (any more). The row lock this takes
    orders a sign-in after a concurrent deactivation, which then wins."""
    cur = await tx.execute(
        """UPDATE tenantry.app_users SET last_login_at = now()
            WHERE tenant_id = %s AND app_id = %s AND id = %s AND status = 'active'""",
        [user.tenant_id, user.app_id, user.id],
    )
    return cur.rowcount == 1


async def mark_email_verified(
    tx: Transaction, user_id: UUID, tenant_id: UUID, app_id: UUID
) -> None:
    """The address received a code Tenantry mailed and the code came back: verified, and
    proven by Tenantry itself (what makes identities in several tenants one person)."""
    await tx.execute(
        """UPDATE tenantry.app_users
              SET email_verified = true, email_proven_at = now(), updated_at = now()
            WHERE tenant_id = %s AND app_id = %s AND id = %s""",
        [tenant_id, app_id, user_id],
    )


async def set_status(
    tx: Transaction,
    tenant_id: UUID,
    app_id: UUID,
    user_id: UUID,
    *,
    active: bool,
    by: str,
    reason: str | None,
) -> AppUser | None:
    """Deactivate (recording who and why) or reactivate a user; None if there is no such user
    or it already has that status."""
    row = await tx.fetch_one(
        f"""UPDATE tenantry.app_users
               SET status = CASE WHEN %(active)s THEN 'active' ELSE 'inactive' END,
                   deactivated_at = CASE WHEN %(active)s THEN NULL ELSE now() END,
                   deactivated_by = CASE WHEN %(active)s THEN NULL ELSE %(by)s END,
                   deactivation_reason = CASE WHEN %(active)s THEN NULL ELSE %(reason)s END,
                   updated_at = now()
             WHERE tenant_id = %(tenant)s AND app_id = %(app)s AND id = %(user)s
               AND status <> CASE WHEN %(active)s THEN 'active' ELSE 'inactive' END
            RETURNING {_USER}""",
        {
            "active": active,
            "by": by,
            "reason": reason,
            "tenant": tenant_id,
            "app": app_id,
            "user": user_id,
        },
    )
    return AppUser(**row) if row else None


async def set_mfa(tx: Transaction, user: AppUser, secret: str | None, *, enabled: bool) -> None:
    await tx.execute(
        """UPDATE tenantry.app_users SET mfa_secret = %s, mfa_enabled = %s, updated_at = now()
            WHERE tenant_id = %s AND app_id = %s AND id = %s""",
        [secret, enabled, user.tenant_id, user.app_id, user.id],
    )


async def use_totp_step(tx: Transaction, user: AppUser, step: int) -> bool:
    """Record `step` as the last TOTP step used; False if it (or a later one) was used already.
    One conditional UPDATE, so two concurrent logins with one code cannot both pass."""
    cur = await tx.execute(
        """UPDATE tenantry.app_users SET mfa_last_step = %s
            WHERE tenant_id = %s AND app_id = %s AND id = %s
              AND (mfa_last_step IS NULL OR mfa_last_step < %s)""",
        [step, user.tenant_id, user.app_id, user.id, step],
    )
    return cur.rowcount == 1


async def set_preference(tx: Transaction, user: AppUser, key: str, value: object) -> None:
    await tx.execute(
        """INSERT INTO tenantry.app_user_preferences
               (tenant_id, app_id, id, app_user_id, key, value)
           VALUES (%s, %s, %s, %s, %s, %s)
           ON CONFLICT (tenant_id, app_id, app_user_id, key)
           DO UPDATE SET value = excluded.value""",
        [user.tenant_id, user.app_id, uuid7(), user.id, key, Jsonb(value)],
    )
