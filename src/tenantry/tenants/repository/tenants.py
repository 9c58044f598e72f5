"""SQL for tenants. Cross-tenant reads run in a platform transaction."""

from __future__ import annotations

from typing import TYPE_CHECKING

from psycopg import sql

from tenantry.kit.errors import Conflict, NotFound
from tenantry.kit.ids import uuid7
from tenantry.tenants.models import TenantInfo, TenantRecord

if TYPE_CHECKING:
    from uuid import UUID

    from psycopg.rows import DictRow

    from tenantry.kit.actor import Actor
    from tenantry.kit.db import Transaction


_RECORD = "id, slug, name, status, plan, created_at, updated_at, deprovisioned_at, purge_after"


async def create(tx: Transaction, *, slug: str, name: str, status: str, plan: str) -> TenantRecord:
    row = await tx.fetch_one(
        f"""INSERT INTO tenantry.tenants (id, slug, name, status, plan) VALUES (%s, %s, %s, %s, %s)
            RETURNING {_RECORD}""",
        [uuid7(), slug, name, status, plan],
    )
    assert row is not None
    return TenantRecord(**row)


async def enable_app(tx: Transaction, tenant_id: UUID, app_id: UUID) -> None:
    await tx.execute(
        """
        INSERT INTO tenantry.tenant_apps (tenant_id, app_id) VALUES (%s, %s)
        ON CONFLICT DO NOTHING
        """,
        [tenant_id, app_id],
    )


async def get_record(tx: Transaction, slug: str, *, lock: bool = False) -> TenantRecord | None:
    row = await tx.fetch_one(
        f"SELECT {_RECORD} FROM tenantry.tenants WHERE slug = %s" + (" FOR UPDATE" if lock else ""),
        [slug],
    )
    return TenantRecord(**row) if row else None


async def require_tenant(
    tx: Transaction, slug: str, *, writable: bool = False, lock: bool = False
) -> TenantRecord:
    """The tenant named `slug`, or NotFound; `writable` also refuses a tenant whose
    configuration is frozen (deprovisioned or purged)."""
    tenant = await get_record(tx, slug, lock=lock)
    if tenant is None:
        raise NotFound(f"no tenant {slug!r}")
    if writable and tenant.status in {"deprovisioned", "purged"}:
        raise Conflict(f"tenant {slug!r} is {tenant.status}; its configuration is frozen")
    return tenant


def _like_escape(text: str) -> str:
    """Match `text` literally inside a LIKE pattern (with ESCAPE '\\')."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def search(
    tx: Transaction,
    *,
    query: str | None,
    status: str | None,
    plan: str | None,
    limit: int,
    offset: int,
) -> tuple[list[TenantRecord], int]:
    params = {
        "q": f"%{_like_escape(query.lower())}%" if query else None,
        "status": status,
        "plan": plan,
        "limit": limit,
        "offset": offset,
    }
    rows = await tx.fetch_all(
        f"""SELECT {_RECORD}, count(*) OVER () AS total FROM tenantry.tenants
             WHERE (%(q)s::text IS NULL OR lower(slug) LIKE %(q)s ESCAPE '\\'
                                        OR lower(name) LIKE %(q)s ESCAPE '\\')
               AND (%(status)s::text IS NULL OR status = %(status)s)
               AND (%(plan)s::text IS NULL OR plan = %(plan)s)
             ORDER BY slug LIMIT %(limit)s OFFSET %(offset)s""",
        params,
    )
    total = rows[0]["total"] if rows else 0
    return [TenantRecord(**{k: v for k, v in r.items() if k != "total"}) for r in rows], total


async def set_status(tx: Transaction, tenant_id: UUID, status: str, *, grace_days: int = 0) -> None:
    # One statement per case: Citus takes no `now()` inside a CASE of an UPDATE.
    if status == "deprovisioned":
        await tx.execute(
            """UPDATE tenantry.tenants SET status = %s, updated_at = now(),
                      deprovisioned_at = now(), purge_after = now() + make_interval(days => %s)
                WHERE id = %s""",
            [status, grace_days, tenant_id],
        )
    elif status == "purged":
        await tx.execute(
            "UPDATE tenantry.tenants SET status = %s, updated_at = now() WHERE id = %s",
            [status, tenant_id],
        )
    else:
        await tx.execute(
            """UPDATE tenantry.tenants SET status = %s, updated_at = now(), purge_after = NULL
                WHERE id = %s""",
            [status, tenant_id],
        )


async def add_lifecycle_event(
    tx: Transaction,
    tenant_id: UUID,
    from_status: str | None,
    to_status: str,
    reason: str,
    by: Actor,
) -> None:
    await tx.execute(
        """INSERT INTO tenantry.tenant_lifecycle_events
               (tenant_id, id, from_status, to_status, reason, actor)
           VALUES (%s, %s, %s, %s, %s, %s)""",
        [tenant_id, uuid7(), from_status, to_status, reason, str(by)],
    )


async def lifecycle_events(tx: Transaction, tenant_id: UUID) -> list[dict[str, object]]:
    return await tx.fetch_all(
        """SELECT from_status, to_status, reason, actor, created_at
             FROM tenantry.tenant_lifecycle_events WHERE tenant_id = %s ORDER BY id""",
        [tenant_id],
    )


async def enabled_apps(tx: Transaction, tenant_id: UUID) -> list[dict[str, object]]:
    return await tx.fetch_all(
        """SELECT a.slug, ta.enabled_at, ta.status FROM tenantry.tenant_apps ta
             JOIN tenantry.apps a ON a.id = ta.app_id WHERE ta.tenant_id = %s ORDER BY a.slug""",
        [tenant_id],
    )


# Tenant rows outside the declared tables (never visible to the runtime role) that a purge
# deletes too.
PRIVATE_TENANT_TABLES = (
    ("tenantry_private", "domain_claims"),
    ("tenantry_private", "provisioning_requests"),
    # The service's statement timings (`operations.query_stats`).
    ("tenantry_private", "query_stats"),
)


async def purgeable_tables(tx: Transaction) -> list[tuple[str, str]]:
    """Every declared tenant table whose rows a purge deletes, children before parents (so no
    foreign key between them is ever violated), from the live catalog."""
    rows = await tx.fetch_all(
        """WITH RECURSIVE tables AS (
               SELECT format('%%I.%%I', table_schema, table_name)::regclass AS rel
                 FROM tenantry.scoped_tables WHERE NOT kept_after_purge
           ), edges AS (
               SELECT c.conrelid AS child, c.confrelid AS parent FROM pg_constraint c
                WHERE c.contype = 'f' AND c.conrelid IN (SELECT rel FROM tables)
                  AND c.confrelid IN (SELECT rel FROM tables) AND c.conrelid <> c.confrelid
           ), depth AS (
               SELECT rel, 0 AS level FROM tables
               UNION ALL
               SELECT e.child, d.level + 1 FROM depth d JOIN edges e ON e.parent = d.rel
           )
           SELECT n.nspname AS schema, c.relname AS name
             FROM depth d JOIN pg_class c ON c.oid = d.rel
             JOIN pg_namespace n ON n.oid = c.relnamespace
            GROUP BY n.nspname, c.relname ORDER BY max(d.level) DESC, 1, 2""",
        [],
    )
    return [(r["schema"], r["name"]) for r in rows]


async def delete_rows(tx: Transaction, table: tuple[str, str], tenant_id: UUID) -> int:
    query = sql.SQL("DELETE FROM {} WHERE tenant_id = %s").format(sql.Identifier(*table))
    return (await tx.execute(query, [tenant_id])).rowcount


async def count_rows(tx: Transaction, table: tuple[str, str], tenant_id: UUID) -> int:
    query = sql.SQL("SELECT count(*) AS n FROM {} WHERE tenant_id = %s").format(
        sql.Identifier(*table)
    )
    row = await tx.fetch_one(query, [tenant_id])
    assert row is not None
    return int(row["n"])


async def purge_due(tx: Transaction, tenant_id: UUID) -> bool:
    """Whether the tenant's grace period is over (by the database's clock)."""
    row = await tx.fetch_one(
        "SELECT coalesce(purge_after <= now(), true) AS due FROM tenantry.tenants WHERE id = %s",
        [tenant_id],
    )
    return bool(row and row["due"])


async def add_provisioning_request(
    tx: Transaction, idempotency_key: str, fingerprint: bytes, tenant_id: UUID
) -> None:
    try:
        await tx.execute(
            """INSERT INTO tenantry_private.provisioning_requests
                   (idempotency_key, request_hash, tenant_id) VALUES (%s, %s, %s)""",
            [idempotency_key, fingerprint, tenant_id],
        )
    except Conflict as exc:
        raise Conflict("idempotency key in use") from exc


async def provisioning_request(
    tx: Transaction, idempotency_key: str
) -> tuple[bytes, TenantRecord] | None:
    """The request fingerprint an idempotency key was first used with, and its tenant."""
    row = await tx.fetch_one(
        f"""SELECT r.request_hash, t.* FROM tenantry_private.provisioning_requests r,
                   LATERAL (SELECT {_RECORD} FROM tenantry.tenants WHERE id = r.tenant_id) t
             WHERE r.idempotency_key = %s""",
        [idempotency_key],
    )
    if row is None:
        return None
    fingerprint = bytes(row.pop("request_hash"))
    return fingerprint, TenantRecord(**row)


_SERVING = """
    SELECT t.id, t.slug, t.status, t.plan, t.placement,
           coalesce(array_agg(ta.app_id) FILTER (WHERE ta.status = 'enabled'), '{}') AS app_ids,
           coalesce(array_agg(ta.app_id) FILTER (WHERE ta.status = 'disabled'), '{}')
               AS disabled_app_ids
      FROM tenantry.tenants t
      LEFT JOIN tenantry.tenant_apps ta ON ta.tenant_id = t.id
"""


def _serving(row: DictRow | None) -> TenantInfo | None:
    if row is None:
        return None
    return TenantInfo(
        row["id"],
        row["slug"],
        row["status"],
        frozenset(row["app_ids"]),
        frozenset(row["disabled_app_ids"]),
        row["plan"],
        row["placement"],
    )


async def serving_by_id(tx: Transaction, tenant_id: UUID) -> TenantInfo | None:
    return _serving(await tx.fetch_one(_SERVING + " WHERE t.id = %s GROUP BY t.id", [tenant_id]))


async def serving_by_slug(tx: Transaction, slug: str) -> TenantInfo | None:
    return _serving(await tx.fetch_one(_SERVING + " WHERE t.slug = %s GROUP BY t.id", [slug]))
