"""SQL for secrets: data keys, secrets, their versions and the access log."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tenantry.kit.ids import uuid7
from tenantry.secrets.models import AccessEntry, DataKeyInfo, SecretInfo

if TYPE_CHECKING:
    from uuid import UUID

    from psycopg.rows import DictRow

    from tenantry.kit.db import Transaction

# --- data keys ----------------------------------------------------------------------------


async def current_data_key(tx: Transaction, tenant_id: UUID) -> DictRow | None:
    return await tx.fetch_one(
        """SELECT version, wrapped_key, master_key_id FROM tenantry.secret_data_keys
            WHERE tenant_id = %s AND retired_at IS NULL ORDER BY version DESC LIMIT 1""",
        [tenant_id],
    )


async def data_key(tx: Transaction, tenant_id: UUID, version: int) -> DictRow | None:
    return await tx.fetch_one(
        """SELECT version, wrapped_key, master_key_id FROM tenantry.secret_data_keys
            WHERE tenant_id = %s AND version = %s""",
        [tenant_id, version],
    )


async def insert_data_key(
    tx: Transaction, tenant_id: UUID, version: int, wrapped: bytes, master_key_id: str
) -> None:
    """A parallel first use of the same version keeps the first writer's key."""
    await tx.execute(
        """INSERT INTO tenantry.secret_data_keys (tenant_id, version, wrapped_key, master_key_id)
           VALUES (%s, %s, %s, %s) ON CONFLICT (tenant_id, version) DO NOTHING""",
        [tenant_id, version, wrapped, master_key_id],
    )


async def newest_data_key_version(tx: Transaction, tenant_id: UUID) -> int:
    row = await tx.fetch_one(
        """SELECT coalesce(max(version), 0) AS v FROM tenantry.secret_data_keys
            WHERE tenant_id = %s""",
        [tenant_id],
    )
    return int(row["v"]) if row else 0


async def retire_data_keys(tx: Transaction, tenant_id: UUID) -> None:
    await tx.execute(
        """UPDATE tenantry.secret_data_keys SET retired_at = now()
            WHERE tenant_id = %s AND retired_at IS NULL""",
        [tenant_id],
    )


async def lock_tenant_keys(tx: Transaction, tenant_id: UUID) -> None:
    await tx.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended('tenantry.data-keys:' || %s::text, 0))",
        [tenant_id],
    )


async def wrapped_keys_for_rewrap(tx: Transaction, master_key_id: str) -> list[DictRow]:
    """Every data key not yet under `master_key_id` (platform path), locked."""
    return await tx.fetch_all(
        """SELECT tenant_id, version, wrapped_key, master_key_id FROM tenantry.secret_data_keys
            WHERE master_key_id <> %s ORDER BY tenant_id, version FOR UPDATE""",
        [master_key_id],
    )


async def rewrap(
    tx: Transaction, tenant_id: UUID, version: int, wrapped: bytes, master_key_id: str
) -> None:
    await tx.execute(
        """UPDATE tenantry.secret_data_keys
              SET wrapped_key = %s, master_key_id = %s, rewrapped_at = now()
            WHERE tenant_id = %s AND version = %s""",
        [wrapped, master_key_id, tenant_id, version],
    )


async def data_keys(tx: Transaction, tenant_id: UUID | None) -> list[DataKeyInfo]:
    rows = await tx.fetch_all(
        """SELECT tenant_id, version, master_key_id, created_at, rewrapped_at, retired_at
             FROM tenantry.secret_data_keys
            WHERE %(t)s::uuid IS NULL OR tenant_id = %(t)s::uuid
            ORDER BY tenant_id, version""",
        {"t": tenant_id},
    )
    return [DataKeyInfo(**r) for r in rows]


# --- secrets and versions -----------------------------------------------------------------

# The versions are counted by the tenant parameter, not through `s`: Citus then runs the
# statement on the tenant's shard alone (and so can lock its row).
_SECRET = """s.id, s.app_id, s.name, s.current_version, s.status, s.created_at, s.rotated_at,
             (SELECT count(*) FROM tenantry.secret_versions v
               WHERE v.tenant_id = %(t)s AND v.secret_id = s.id)::int AS versions"""

_ONE = f"""SELECT {_SECRET} FROM tenantry.secrets s
            WHERE s.tenant_id = %(t)s AND s.app_id = %(a)s AND s.name = %(n)s"""
_LOCKED = f"{_ONE} FOR UPDATE OF s"


async def secret(
    tx: Transaction, tenant_id: UUID, app_id: UUID, name: str, *, lock: bool = False
) -> SecretInfo | None:
    query = _LOCKED if lock else _ONE
    row = await tx.fetch_one(query, {"t": tenant_id, "a": app_id, "n": name})
    return SecretInfo(**row) if row else None


async def secrets(tx: Transaction, tenant_id: UUID, app_id: UUID | None) -> list[SecretInfo]:
    rows = await tx.fetch_all(
        f"""SELECT {_SECRET} FROM tenantry.secrets s
             WHERE s.tenant_id = %(t)s AND (%(a)s::uuid IS NULL OR s.app_id = %(a)s::uuid)
             ORDER BY s.app_id, s.name""",
        {"t": tenant_id, "a": app_id},
    )
    return [SecretInfo(**r) for r in rows]


async def insert_secret(tx: Transaction, tenant_id: UUID, app_id: UUID, name: str) -> UUID:
    """A new secret whose first version is about to be written."""
    secret_id = uuid7()
    await tx.execute(
        """INSERT INTO tenantry.secrets (tenant_id, app_id, id, name, current_version)
           VALUES (%s, %s, %s, %s, 1)""",
        [tenant_id, app_id, secret_id, name],
    )
    return secret_id


async def next_version(tx: Transaction, tenant_id: UUID, secret_id: UUID) -> int:
    row = await tx.fetch_one(
        """SELECT coalesce(max(version), 0) + 1 AS v FROM tenantry.secret_versions
            WHERE tenant_id = %s AND secret_id = %s""",
        [tenant_id, secret_id],
    )
    assert row is not None
    return int(row["v"])


async def insert_version(
    tx: Transaction,
    tenant_id: UUID,
    app_id: UUID,
    secret_id: UUID,
    version: int,
    ciphertext: bytes,
    data_key_version: int,
    created_by: str,
) -> None:
    await tx.execute(
        """INSERT INTO tenantry.secret_versions (tenant_id, app_id, id, secret_id, version,
                  ciphertext, data_key_version, created_by)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s)""",
        [tenant_id, app_id, uuid7(), secret_id, version, ciphertext, data_key_version, created_by],
    )
    await tx.execute(
        """UPDATE tenantry.secrets SET current_version = %s, rotated_at = now(), status = 'active'
            WHERE tenant_id = %s AND id = %s""",
        [version, tenant_id, secret_id],
    )


async def version(
    tx: Transaction, tenant_id: UUID, app_id: UUID, secret_id: UUID, number: int
) -> DictRow | None:
    return await tx.fetch_one(
        """SELECT version, ciphertext, data_key_version, disabled_at
             FROM tenantry.secret_versions
            WHERE tenant_id = %s AND app_id = %s AND secret_id = %s AND version = %s""",
        [tenant_id, app_id, secret_id, number],
    )


async def disable(tx: Transaction, tenant_id: UUID, secret_id: UUID) -> None:
    await tx.execute(
        "UPDATE tenantry.secrets SET status = 'disabled' WHERE tenant_id = %s AND id = %s",
        [tenant_id, secret_id],
    )
    await tx.execute(
        """UPDATE tenantry.secret_versions SET disabled_at = now()
            WHERE tenant_id = %s AND secret_id = %s AND disabled_at IS NULL""",
        [tenant_id, secret_id],
    )


# --- the access log -----------------------------------------------------------------------


async def log_access(
    tx: Transaction,
    tenant_id: UUID,
    app_id: UUID,
    secret: SecretInfo,
    version: int | None,
    action: str,
    actor: str,
    principal: str,
    reason: str,
    request_id: str | None,
) -> None:
    await tx.execute(
        """INSERT INTO tenantry.secret_access_log (tenant_id, app_id, id, secret_id, secret_name,
                  version, action, actor, principal, reason, request_id)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)""",
        [
            tenant_id,
            app_id,
            uuid7(),
            secret.id,
            secret.name,
            version,
            action,
            actor,
            principal,
            reason,
            request_id,
        ],
    )


async def access_page(
    tx: Transaction, tenant_id: UUID, app_id: UUID | None, before: UUID | None, limit: int
) -> list[AccessEntry]:
    """Newest first; `before` is the id of the last entry of the previous page (ids are
    time-ordered)."""
    rows = await tx.fetch_all(
        """SELECT id, app_id, secret_name, version, action, actor, principal, reason, created_at
             FROM tenantry.secret_access_log
            WHERE tenant_id = %(t)s AND (%(a)s::uuid IS NULL OR app_id = %(a)s::uuid)
              AND (%(b)s::uuid IS NULL OR id < %(b)s::uuid)
            ORDER BY id DESC LIMIT %(n)s""",
        {"t": tenant_id, "a": app_id, "b": before, "n": limit},
    )
    return [AccessEntry(**r) for r in rows]
