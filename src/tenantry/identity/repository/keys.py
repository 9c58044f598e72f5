"""Per-app token signing keys, in `tenantry_private` (platform path only)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from psycopg.types.json import Jsonb

if TYPE_CHECKING:
    from uuid import UUID

    from psycopg.rows import DictRow

    from tenantry.kit.db import Transaction


async def insert_key(
    tx: Transaction, kid: str, app_id: UUID, algorithm: str, pem: str, public_jwk: dict[str, Any]
) -> None:
    await tx.execute(
        """INSERT INTO tenantry_private.app_signing_keys
               (kid, app_id, algorithm, private_key, public_jwk)
           VALUES (%s, %s, %s, %s, %s)""",
        [kid, app_id, algorithm, pem, Jsonb(public_jwk)],
    )


async def retire_key(tx: Transaction, kid: str) -> bool:
    cur = await tx.execute(
        """UPDATE tenantry_private.app_signing_keys SET retired_at = now()
            WHERE kid = %s AND retired_at IS NULL""",
        [kid],
    )
    return cur.rowcount == 1


async def lock_first_keys(tx: Transaction) -> None:
    """Serialise handing out first keys: worker processes start together."""
    await tx.execute("SELECT pg_advisory_xact_lock(hashtext('tenantry.ensure_keys'))")


async def apps_with_active_keys(tx: Transaction) -> set[UUID]:
    rows = await tx.fetch_all(
        """SELECT DISTINCT app_id FROM tenantry_private.app_signing_keys
            WHERE retired_at IS NULL"""
    )
    return {row["app_id"] for row in rows}


async def active_keys(tx: Transaction) -> list[DictRow]:
    """Every active key, oldest first."""
    return await tx.fetch_all(
        """SELECT kid, app_id, algorithm, private_key, created_at
             FROM tenantry_private.app_signing_keys
            WHERE retired_at IS NULL ORDER BY created_at"""
    )


async def active_kids_by_app(tx: Transaction) -> dict[UUID, list[str]]:
    """Each app's active key ids, oldest first."""
    rows = await tx.fetch_all(
        """SELECT app_id, array_agg(kid ORDER BY created_at) AS kids
             FROM tenantry_private.app_signing_keys WHERE retired_at IS NULL GROUP BY app_id"""
    )
    return {row["app_id"]: list(row["kids"]) for row in rows}


async def other_active_keys(tx: Transaction, kid: str) -> int | None:
    """How many other active keys the app of active key `kid` has; None if `kid` is not one."""
    row = await tx.fetch_one(
        """SELECT count(k2.kid) FILTER (WHERE k2.kid <> k.kid) AS others
             FROM tenantry_private.app_signing_keys k
             JOIN tenantry_private.app_signing_keys k2
               ON k2.app_id = k.app_id AND k2.retired_at IS NULL
            WHERE k.kid = %s AND k.retired_at IS NULL
            GROUP BY k.kid""",
        [kid],
    )
    return None if row is None else int(row["others"])
