"""SQL for app users, sessions and credentials. Every function runs in a tenant transaction,
so row-level security confines it to the context's tenant and app; the explicit filters keep
plans tight."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from psycopg.types.json import Jsonb

from tenantry.kit.ids import uuid7

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import datetime
    from uuid import UUID

    from tenantry.kit.context import TenantContext
    from tenantry.kit.db import Database, Requirement, Transaction


@dataclass(frozen=True, slots=True)
class AppUser:
    id: UUID
    tenant_id: UUID
    app_id: UUID
    email: str
    email_verified: bool
    display_name: str | None
    status: str
    password_hash: str | None
    mfa_secret: str | None
    mfa_enabled: bool
    created_at: datetime
    last_login_at: datetime | None


_USER = """id, tenant_id, app_id, email, email_verified, display_name, status, password_hash,
           mfa_secret, mfa_enabled, created_at, last_login_at"""


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


async def mark_login(tx: Transaction, user: AppUser) -> None:
    await tx.execute(
        """UPDATE tenantry.app_users SET last_login_at = now()
            WHERE tenant_id = %s AND app_id = %s AND id = %s""",
        [user.tenant_id, user.app_id, user.id],
    )


async def mark_email_verified(
    tx: Transaction, user_id: UUID, tenant_id: UUID, app_id: UUID
) -> None:
    await tx.execute(
        """UPDATE tenantry.app_users SET email_verified = true, updated_at = now()
            WHERE tenant_id = %s AND app_id = %s AND id = %s""",
        [tenant_id, app_id, user_id],
    )


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


# Sessions and refresh tokens ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Session:
    id: UUID
    app_user_id: UUID
    auth_method: str
    created_at: datetime
    last_used_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    ip: str | None
    user_agent: str | None


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
) -> Session:
    row = await tx.fetch_one(
        f"""INSERT INTO tenantry.sessions
                (tenant_id, app_id, id, app_user_id, auth_method, expires_at, ip, user_agent)
            VALUES (%s, %s, %s, %s, %s, now() + make_interval(secs => %s), %s, %s)
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
    return cur.rowcount


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


@dataclass(frozen=True, slots=True)
class RefreshState:
    token_id: UUID
    session_id: UUID
    app_user_id: UUID
    used: bool
    session_active: bool
    # The session's interactive sign-in, carried into refreshed access tokens as `auth_time`.
    signed_in_at: datetime


async def take_refresh_token(
    tx: Transaction, tenant_id: UUID, app_id: UUID, token_hash: bytes
) -> RefreshState | None:
    """Look the token up, locking it so two concurrent refreshes cannot both succeed."""
    row = await tx.fetch_one(
        """SELECT r.id AS token_id, r.session_id, s.app_user_id, r.used_at IS NOT NULL AS used,
                  (s.revoked_at IS NULL AND s.expires_at > now() AND r.expires_at > now())
                      AS session_active,
                  s.created_at AS signed_in_at
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


# One-time tokens, recovery codes, mail ---------------------------------------------------------


async def add_one_time_token(
    tx: Transaction, user: AppUser, purpose: str, token_hash: bytes, ttl_seconds: int
) -> None:
    await tx.execute(
        """INSERT INTO tenantry.one_time_tokens
               (tenant_id, app_id, id, app_user_id, purpose, token_hash, expires_at)
           VALUES (%s, %s, %s, %s, %s, %s, now() + make_interval(secs => %s))""",
        [user.tenant_id, user.app_id, uuid7(), user.id, purpose, token_hash, ttl_seconds],
    )


async def use_one_time_token(
    tx: Transaction, tenant_id: UUID, app_id: UUID, purpose: str, token_hash: bytes
) -> UUID | None:
    """Consume a valid token atomically; returns its user, or None if invalid/used/expired."""
    row = await tx.fetch_one(
        """UPDATE tenantry.one_time_tokens SET used_at = now()
            WHERE tenant_id = %s AND app_id = %s AND token_hash = %s AND purpose = %s
              AND used_at IS NULL AND expires_at > now()
            RETURNING app_user_id""",
        [tenant_id, app_id, token_hash, purpose],
    )
    return row["app_user_id"] if row else None


async def replace_recovery_codes(tx: Transaction, user: AppUser, hashes: list[bytes]) -> None:
    await tx.execute(
        """DELETE FROM tenantry.mfa_recovery_codes
            WHERE tenant_id = %s AND app_id = %s AND app_user_id = %s""",
        [user.tenant_id, user.app_id, user.id],
    )
    async with (await tx.connection()).cursor() as cur:
        await cur.executemany(
            """INSERT INTO tenantry.mfa_recovery_codes
                   (tenant_id, app_id, id, app_user_id, code_hash)
               VALUES (%s, %s, %s, %s, %s)""",
            [(user.tenant_id, user.app_id, uuid7(), user.id, h) for h in hashes],
        )


async def use_recovery_code(tx: Transaction, user: AppUser, code_hash: bytes) -> bool:
    cur = await tx.execute(
        """UPDATE tenantry.mfa_recovery_codes SET used_at = now()
            WHERE tenant_id = %s AND app_id = %s AND app_user_id = %s AND code_hash = %s
              AND used_at IS NULL""",
        [user.tenant_id, user.app_id, user.id, code_hash],
    )
    return cur.rowcount == 1


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


async def queue_mail(
    tx: Transaction, tenant_id: UUID, app_id: UUID, to: str, subject: str, body: str
) -> None:
    await tx.execute(
        """INSERT INTO tenantry.mail_outbox (tenant_id, app_id, id, to_address, subject, body)
           VALUES (%s, %s, %s, %s, %s, %s)""",
        [tenant_id, app_id, uuid7(), to, subject, body],
    )


# API tokens -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ApiToken:
    id: UUID
    app_user_id: UUID
    name: str
    display_prefix: str
    scopes: list[str]
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None


_API_TOKEN = "id, app_user_id, name, display_prefix, scopes, created_at, expires_at, last_used_at"


async def create_api_token(
    tx: Transaction,
    user: AppUser,
    *,
    name: str,
    token_hash: bytes,
    display_prefix: str,
    scopes: list[str],
    expires_in_days: int | None,
) -> ApiToken:
    row = await tx.fetch_one(
        f"""INSERT INTO tenantry.api_tokens
                (tenant_id, app_id, id, app_user_id, name, token_hash, display_prefix, scopes,
                 expires_at)
            VALUES (%s, %s, %s, %s, %s, %s, %s, %s,
                    now() + make_interval(days => %s::int))
            RETURNING {_API_TOKEN}""",
        [
            user.tenant_id,
            user.app_id,
            uuid7(),
            user.id,
            name,
            token_hash,
            display_prefix,
            scopes,
            expires_in_days,
        ],
    )
    assert row is not None
    return ApiToken(**row)


async def list_api_tokens(
    tx: Transaction, tenant_id: UUID, app_id: UUID, user_id: UUID
) -> list[ApiToken]:
    rows = await tx.fetch_all(
        f"""SELECT {_API_TOKEN} FROM tenantry.api_tokens
             WHERE tenant_id = %s AND app_id = %s AND app_user_id = %s AND revoked_at IS NULL
             ORDER BY created_at DESC""",
        [tenant_id, app_id, user_id],
    )
    return [ApiToken(**row) for row in rows]


async def revoke_api_token(
    tx: Transaction, tenant_id: UUID, app_id: UUID, user_id: UUID, token_id: UUID
) -> bool:
    cur = await tx.execute(
        """UPDATE tenantry.api_tokens SET revoked_at = now()
            WHERE tenant_id = %s AND app_id = %s AND app_user_id = %s AND id = %s
              AND revoked_at IS NULL""",
        [tenant_id, app_id, user_id, token_id],
    )
    return cur.rowcount == 1


async def revoke_user_api_tokens(tx: Transaction, user: AppUser) -> int:
    cur = await tx.execute(
        """UPDATE tenantry.api_tokens SET revoked_at = now()
            WHERE tenant_id = %s AND app_id = %s AND app_user_id = %s AND revoked_at IS NULL""",
        [user.tenant_id, user.app_id, user.id],
    )
    return cur.rowcount


async def find_api_token(
    tx: Transaction, tenant_id: UUID, app_id: UUID, token_hash: bytes
) -> ApiToken | None:
    """A usable token by hash; touches last_used_at at most once a minute."""
    row = await tx.fetch_one(
        f"""SELECT {_API_TOKEN} FROM tenantry.api_tokens
             WHERE tenant_id = %s AND app_id = %s AND token_hash = %s
               AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())""",
        [tenant_id, app_id, token_hash],
    )
    if row is None:
        return None
    token = ApiToken(**row)
    await tx.execute(
        """UPDATE tenantry.api_tokens SET last_used_at = now()
            WHERE tenant_id = %s AND id = %s
              AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')""",
        [tenant_id, token.id],
    )
    return token


# External identities --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ExternalIssuer:
    id: UUID
    issuer: str
    audience: str
    jwks_uri: str
    algorithms: list[str]


async def add_external_issuer(
    tx: Transaction, tenant_id: UUID, app_id: UUID, issuer: str, audience: str, jwks_uri: str
) -> ExternalIssuer:
    row = await tx.fetch_one(
        """INSERT INTO tenantry.external_issuers (tenant_id, app_id, id, issuer, audience, jwks_uri)
           VALUES (%s, %s, %s, %s, %s, %s)
           RETURNING id, issuer, audience, jwks_uri, algorithms""",
        [tenant_id, app_id, uuid7(), issuer, audience, jwks_uri],
    )
    assert row is not None
    return ExternalIssuer(**row)


async def get_external_issuer(
    tx: Transaction, tenant_id: UUID, app_id: UUID, issuer: str
) -> ExternalIssuer | None:
    row = await tx.fetch_one(
        """SELECT id, issuer, audience, jwks_uri, algorithms FROM tenantry.external_issuers
            WHERE tenant_id = %s AND app_id = %s AND issuer = %s""",
        [tenant_id, app_id, issuer],
    )
    return ExternalIssuer(**row) if row else None


async def linked_user(
    tx: Transaction, tenant_id: UUID, app_id: UUID, issuer: str, subject: str
) -> UUID | None:
    row = await tx.fetch_one(
        """SELECT app_user_id FROM tenantry.user_identity_links
            WHERE tenant_id = %s AND app_id = %s AND issuer = %s AND subject = %s""",
        [tenant_id, app_id, issuer, subject],
    )
    return row["app_user_id"] if row else None


async def link_identity(tx: Transaction, user: AppUser, issuer: str, subject: str) -> None:
    await tx.execute(
        """INSERT INTO tenantry.user_identity_links
               (tenant_id, app_id, id, app_user_id, issuer, subject)
           VALUES (%s, %s, %s, %s, %s, %s)""",
        [user.tenant_id, user.app_id, uuid7(), user.id, issuer, subject],
    )
