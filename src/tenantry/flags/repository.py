"""SQL for feature flags. Definitions are a global catalog; overrides are per tenant. Every
change is a new version with who, when and why."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from psycopg.types.json import Jsonb

from tenantry.kit import jsonvalue
from tenantry.kit.ids import uuid7

if TYPE_CHECKING:
    from datetime import datetime
    from uuid import UUID

    from tenantry.kit.actor import Actor
    from tenantry.kit.db import Transaction


@dataclass(frozen=True, slots=True)
class Flag:
    key: str
    type: str
    default_value: Any
    description: str
    owner: str
    status: str
    version: int
    updated_at: datetime

    def __post_init__(self) -> None:
        object.__setattr__(self, "default_value", jsonvalue.readable(self.default_value))


@dataclass(frozen=True, slots=True)
class Override:
    flag_key: str
    app_id: UUID | None
    value: Any
    rollout_percent: int | None
    version: int
    updated_at: datetime

    def __post_init__(self) -> None:
        object.__setattr__(self, "value", jsonvalue.readable(self.value))


@dataclass(frozen=True, slots=True)
class OverrideVersion:
    flag_key: str
    app_id: UUID | None
    version: int
    value: Any
    rollout_percent: int | None
    removed: bool
    actor: str
    reason: str
    created_at: datetime

    def __post_init__(self) -> None:
        object.__setattr__(self, "value", jsonvalue.readable(self.value))


_FLAG = "key, type, default_value, description, owner, status, version, updated_at"
_OVERRIDE = "flag_key, app_id, value, rollout_percent, version, updated_at"


async def list_flags(tx: Transaction) -> list[Flag]:
    return [
        Flag(**r)
        for r in await tx.fetch_all(f"SELECT {_FLAG} FROM tenantry.feature_flags ORDER BY key")
    ]


async def get_flag(tx: Transaction, key: str, *, lock: bool = False) -> Flag | None:
    row = await tx.fetch_one(
        f"SELECT {_FLAG} FROM tenantry.feature_flags WHERE key = %s"
        + (" FOR UPDATE" if lock else ""),
        [key],
    )
    return Flag(**row) if row else None


async def save_flag(tx: Transaction, flag: Flag, *, by: Actor, reason: str, created: bool) -> Flag:
    statement = (
        f"""INSERT INTO tenantry.feature_flags
                (key, type, default_value, description, owner, status, version)
            VALUES (%(key)s, %(type)s, %(default)s, %(description)s, %(owner)s, %(status)s, 1)
            RETURNING {_FLAG}"""
        if created
        else f"""UPDATE tenantry.feature_flags SET default_value = %(default)s,
                    description = %(description)s, owner = %(owner)s, status = %(status)s,
                    version = version + 1, updated_at = now()
                WHERE key = %(key)s RETURNING {_FLAG}"""
    )
    row = await tx.fetch_one(
        statement,
        {
            "key": flag.key,
            "type": flag.type,
            "default": Jsonb(flag.default_value),
            "description": flag.description,
            "owner": flag.owner,
            "status": flag.status,
        },
    )
    assert row is not None
    saved = Flag(**row)
    snapshot = {
        "default_value": saved.default_value,
        "description": saved.description,
        "owner": saved.owner,
        "status": saved.status,
    }
    await tx.execute(
        """INSERT INTO tenantry.feature_flag_versions (flag_key, version, snapshot, actor, reason)
           VALUES (%s, %s, %s, %s, %s)""",
        [saved.key, saved.version, Jsonb(snapshot), str(by), reason],
    )
    return saved


async def overrides_for_tenant(tx: Transaction, tenant_id: UUID) -> list[Override]:
    rows = await tx.fetch_all(
        f"""SELECT {_OVERRIDE} FROM tenantry.feature_flag_overrides WHERE tenant_id = %s
             ORDER BY flag_key, app_id NULLS FIRST""",
        [tenant_id],
    )
    return [Override(**r) for r in rows]


async def current_override(
    tx: Transaction, tenant_id: UUID, key: str, app_id: UUID | None
) -> Override | None:
    row = await tx.fetch_one(
        f"""SELECT {_OVERRIDE} FROM tenantry.feature_flag_overrides
             WHERE tenant_id = %s AND flag_key = %s AND app_id IS NOT DISTINCT FROM %s""",
        [tenant_id, key, app_id],
    )
    return Override(**row) if row else None


async def next_override_version(
    tx: Transaction, tenant_id: UUID, key: str, app_id: UUID | None
) -> int:
    # Serialise changes to one override so versions never collide.
    await tx.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
        [f"flag:{tenant_id}:{key}:{app_id}"],
    )
    row = await tx.fetch_one(
        """SELECT coalesce(max(version), 0) + 1 AS next FROM tenantry.feature_flag_override_versions
            WHERE tenant_id = %s AND flag_key = %s AND app_id IS NOT DISTINCT FROM %s""",
        [tenant_id, key, app_id],
    )
    assert row is not None
    return int(row["next"])


async def write_override(
    tx: Transaction,
    tenant_id: UUID,
    key: str,
    app_id: UUID | None,
    *,
    value: Any,  # noqa: ANN401 - JSON values
    rollout_percent: int | None,
    removed: bool,
    version: int,
    by: Actor,
    reason: str,
) -> None:
    await tx.execute(
        """DELETE FROM tenantry.feature_flag_overrides
            WHERE tenant_id = %s AND flag_key = %s AND app_id IS NOT DISTINCT FROM %s""",
        [tenant_id, key, app_id],
    )
    if not removed:
        await tx.execute(
            """INSERT INTO tenantry.feature_flag_overrides
                   (tenant_id, id, flag_key, app_id, value, rollout_percent, version)
               VALUES (%s, %s, %s, %s, %s, %s, %s)""",
            [tenant_id, uuid7(), key, app_id, Jsonb(value), rollout_percent, version],
        )
    await tx.execute(
        """INSERT INTO tenantry.feature_flag_override_versions
               (tenant_id, id, flag_key, app_id, version, value, rollout_percent, removed, actor,
                reason)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)""",
        [
            tenant_id,
            uuid7(),
            key,
            app_id,
            version,
            None if removed else Jsonb(value),
            rollout_percent,
            removed,
            str(by),
            reason,
        ],
    )


async def override_versions(
    tx: Transaction, tenant_id: UUID, key: str, app_id: UUID | None
) -> list[OverrideVersion]:
    rows = await tx.fetch_all(
        """SELECT flag_key, app_id, version, value, rollout_percent, removed, actor, reason,
                  created_at
             FROM tenantry.feature_flag_override_versions
            WHERE tenant_id = %s AND flag_key = %s AND app_id IS NOT DISTINCT FROM %s
            ORDER BY version DESC""",
        [tenant_id, key, app_id],
    )
    return [OverrideVersion(**r) for r in rows]


async def record_deprecated_use(
    tx: Transaction, tenant_id: UUID, kind: str, name: str, app_slug: str, uses: int
) -> None:
    await tx.execute(
        """INSERT INTO tenantry.deprecation_usage (tenant_id, id, kind, name, app_slug, uses)
           VALUES (%s, %s, %s, %s, %s, %s)
           ON CONFLICT (tenant_id, kind, name, app_slug) DO UPDATE
              SET uses = deprecation_usage.uses + excluded.uses,
                  last_used_at = excluded.last_used_at""",
        [tenant_id, uuid7(), kind, name, app_slug, uses],
    )


async def deprecation_report(tx: Transaction) -> list[dict[str, Any]]:
    return await tx.fetch_all(
        """SELECT t.slug AS tenant, d.kind, d.name, d.app_slug, d.uses, d.first_used_at,
                  d.last_used_at
             FROM tenantry.deprecation_usage d JOIN tenantry.tenants t ON t.id = d.tenant_id
            ORDER BY d.kind, d.name, d.uses DESC"""
    )
