"""SQL for tenants. Cross-tenant reads run in a platform transaction."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from tenantry.kit.errors import Conflict, NotFound
from tenantry.kit.ids import uuid7

if TYPE_CHECKING:
    from datetime import datetime
    from uuid import UUID

    from tenantry.kit.db import Transaction


@dataclass(frozen=True, slots=True)
class Tenant:
    id: UUID
    slug: str
    name: str
    status: str
    plan: str


async def get_by_slug(tx: Transaction, slug: str) -> Tenant | None:
    row = await tx.fetch_one(
        "SELECT id, slug, name, status, plan FROM tenantry.tenants WHERE slug = %s", [slug]
    )
    return Tenant(**row) if row else None


async def create(tx: Transaction, *, slug: str, name: str, status: str, plan: str) -> Tenant:
    row = await tx.fetch_one(
        """
        INSERT INTO tenantry.tenants (id, slug, name, status, plan) VALUES (%s, %s, %s, %s, %s)
        RETURNING id, slug, name, status, plan
        """,
        [uuid7(), slug, name, status, plan],
    )
    assert row is not None
    return Tenant(**row)


async def enable_app(tx: Transaction, tenant_id: UUID, app_id: UUID) -> None:
    await tx.execute(
        """
        INSERT INTO tenantry.tenant_apps (tenant_id, app_id) VALUES (%s, %s)
        ON CONFLICT DO NOTHING
        """,
        [tenant_id, app_id],
    )


@dataclass(frozen=True, slots=True)
class TenantRecord:
    id: UUID
    slug: str
    name: str
    status: str
    plan: str
    created_at: datetime
    updated_at: datetime
    deprovisioned_at: datetime | None
    purge_after: datetime | None


_RECORD = "id, slug, name, status, plan, created_at, updated_at, deprovisioned_at, purge_after"


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
    where = """(%(q)s::text IS NULL OR lower(slug) LIKE %(q)s ESCAPE '\\'
                                     OR lower(name) LIKE %(q)s ESCAPE '\\')
               AND (%(status)s::text IS NULL OR status = %(status)s)
               AND (%(plan)s::text IS NULL OR plan = %(plan)s)"""
    rows = await tx.fetch_all(
        f"""SELECT {_RECORD}, count(*) OVER () AS total FROM tenantry.tenants WHERE {where}
             ORDER BY slug LIMIT %(limit)s OFFSET %(offset)s""",
        params,
    )
    total = rows[0]["total"] if rows else 0
    return [TenantRecord(**{k: v for k, v in r.items() if k != "total"}) for r in rows], total


async def set_status(tx: Transaction, tenant_id: UUID, status: str, *, grace_days: int = 0) -> None:
    await tx.execute(
        """UPDATE tenantry.tenants SET status = %(status)s, updated_at = now(),
                  deprovisioned_at = CASE WHEN %(status)s = 'deprovisioned' THEN now()
                                          ELSE deprovisioned_at END,
                  purge_after = CASE WHEN %(status)s = 'deprovisioned'
                                     THEN now() + make_interval(days => %(grace)s)
                                     WHEN %(status)s = 'purged' THEN purge_after
                                     ELSE NULL END
            WHERE id = %(id)s""",
        {"status": status, "grace": grace_days, "id": tenant_id},
    )


async def add_lifecycle_event(
    tx: Transaction,
    tenant_id: UUID,
    from_status: str | None,
    to_status: str,
    reason: str,
    actor: str,
) -> None:
    await tx.execute(
        """INSERT INTO tenantry.tenant_lifecycle_events
               (tenant_id, id, from_status, to_status, reason, actor)
           VALUES (%s, %s, %s, %s, %s, %s)""",
        [tenant_id, uuid7(), from_status, to_status, reason, actor],
    )


async def lifecycle_events(tx: Transaction, tenant_id: UUID) -> list[dict[str, object]]:
    return await tx.fetch_all(
        """SELECT from_status, to_status, reason, actor, created_at
             FROM tenantry.tenant_lifecycle_events WHERE tenant_id = %s ORDER BY id""",
        [tenant_id],
    )


async def enabled_apps(tx: Transaction, tenant_id: UUID) -> list[dict[str, object]]:
    return await tx.fetch_all(
        """SELECT a.slug, ta.enabled_at FROM tenantry.tenant_apps ta
             JOIN tenantry.apps a ON a.id = ta.app_id WHERE ta.tenant_id = %s ORDER BY a.slug""",
        [tenant_id],
    )


async def domains(tx: Transaction, tenant_id: UUID) -> list[dict[str, object]]:
    return await tx.fetch_all(
        """SELECT domain, verified_at, is_primary, verification_token
             FROM tenantry.tenant_domains WHERE tenant_id = %s ORDER BY domain""",
        [tenant_id],
    )


async def purgeable_tables(tx: Transaction) -> list[str]:
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
           SELECT format('%%I.%%I', n.nspname, c.relname) AS name
             FROM depth d JOIN pg_class c ON c.oid = d.rel
             JOIN pg_namespace n ON n.oid = c.relnamespace
            GROUP BY n.nspname, c.relname ORDER BY max(d.level) DESC, 1""",
        [],
    )
    return [r["name"] for r in rows]
