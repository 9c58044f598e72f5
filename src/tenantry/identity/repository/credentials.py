"""Credentials besides the password: one-time codes (email verification, password reset,
invitations), MFA recovery codes and API tokens. Only hashes are stored."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tenantry.identity.models import ApiToken
from tenantry.kit.ids import uuid7

if TYPE_CHECKING:
    from uuid import UUID

    from tenantry.identity.models import AppUser
    from tenantry.kit.db import Transaction


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
    await tx.execute(
        # RETURNING: Citus then inserts through its intermediate results, where it would
        # otherwise COPY into the shard, which row-level security refuses.
        """INSERT INTO tenantry.mfa_recovery_codes (tenant_id, app_id, id, app_user_id, code_hash)
           SELECT %s, %s, c.id, %s, c.code_hash
             FROM unnest(%s::uuid[], %s::bytea[]) AS c(id, code_hash)
           RETURNING id""",
        [user.tenant_id, user.app_id, user.id, [uuid7() for _ in hashes], hashes],
    )


async def use_recovery_code(tx: Transaction, user: AppUser, code_hash: bytes) -> bool:
    cur = await tx.execute(
        """UPDATE tenantry.mfa_recovery_codes SET used_at = now()
            WHERE tenant_id = %s AND app_id = %s AND app_user_id = %s AND code_hash = %s
              AND used_at IS NULL""",
        [user.tenant_id, user.app_id, user.id, code_hash],
    )
    return cur.rowcount == 1


_API_TOKEN = "id, app_user_id, name, display_prefix, scopes, created_at, expires_at, last_used_at"
_API_TOKEN_OF_T = ", ".join(f"t.{column.strip()}" for column in _API_TOKEN.split(","))


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
    # The owner must be active too: a token minted while its owner was being deactivated
    # (after the deactivation's revocation ran) still stops at once.
    row = await tx.fetch_one(
        f"""SELECT {_API_TOKEN_OF_T} FROM tenantry.api_tokens t
             WHERE t.tenant_id = %s AND t.app_id = %s AND t.token_hash = %s
               AND t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > now())
               AND EXISTS (SELECT FROM tenantry.app_users u
                            WHERE u.tenant_id = t.tenant_id AND u.app_id = t.app_id
                              AND u.id = t.app_user_id AND u.status = 'active')""",
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
