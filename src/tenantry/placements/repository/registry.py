"""SQL of the placement registry, each database's residency of a tenant, the move journal, the
copies of the global catalogs, and the checks a move makes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from psycopg import sql

from tenantry.placements.repository.rows import TENANTS, Table, tenant_column

if TYPE_CHECKING:
    from datetime import datetime
    from uuid import UUID

    from tenantry.kit.db import Transaction


@dataclass(frozen=True, slots=True)
class Placement:
    name: str
    url: str
    tenants: int


@dataclass(frozen=True, slots=True)
class Move:
    tenant_id: UUID
    slug: str
    source: str
    target: str
    step: str
    started_at: datetime


@dataclass(frozen=True, slots=True)
class Tenant:
    id: UUID
    slug: str
    placement: str


# --- the registry (home database) ---


async def placements(tx: Transaction) -> list[Placement]:
    rows = await tx.fetch_all(
        """SELECT p.name, p.url, count(t.id) AS tenants
             FROM tenantry.placements p LEFT JOIN tenantry.tenants t ON t.placement = p.name
            GROUP BY p.name, p.url ORDER BY p.name = 'shared' DESC, p.name""",
        [],
    )
    return [Placement(r["name"], r["url"], r["tenants"]) for r in rows]


async def add_placement(tx: Transaction, name: str, url: str) -> None:
    await tx.execute("INSERT INTO tenantry.placements (name, url) VALUES (%s, %s)", [name, url])


async def remove_placement(tx: Transaction, name: str) -> bool:
    cursor = await tx.execute("DELETE FROM tenantry.placements WHERE name = %s", [name])
    return cursor.rowcount == 1


async def tenant(tx: Transaction, slug: str, *, lock: bool = False) -> Tenant | None:
    query = "SELECT id, slug, placement FROM tenantry.tenants WHERE slug = %s"
    row = await tx.fetch_one(query + " FOR UPDATE" if lock else query, [slug])
    return None if row is None else Tenant(row["id"], row["slug"], row["placement"])


async def switch(tx: Transaction, tenant_id: UUID, placement: str) -> None:
    """The home database's record of where the tenant lives."""
    await tx.execute(
        "UPDATE tenantry.tenants SET placement = %s WHERE id = %s", [placement, tenant_id]
    )


# --- each database's residency of a tenant ---


async def residency(tx: Transaction, tenant_id: UUID) -> str | None:
    """This database's view of the tenant: None if it lives here (or was never here)."""
    row = await tx.fetch_one(
        "SELECT state FROM tenantry_private.tenant_residency WHERE tenant_id = %s", [tenant_id]
    )
    return None if row is None else row["state"]


async def set_residency(tx: Transaction, tenant_id: UUID, state: str) -> None:
    """`resident`, or frozen, arriving, departed."""
    if state == "resident":
        await tx.execute(
            "DELETE FROM tenantry_private.tenant_residency WHERE tenant_id = %s", [tenant_id]
        )
        return
    await tx.execute(
        "INSERT INTO tenantry_private.tenant_residency (tenant_id, state) VALUES (%s, %s)"
        " ON CONFLICT (tenant_id) DO UPDATE SET state = excluded.state",
        [tenant_id, state],
    )


async def delete_tenant_row(tx: Transaction, tenant_id: UUID) -> None:
    await tx.execute("DELETE FROM tenantry.tenants WHERE id = %s", [tenant_id])


async def running_transactions(tx: Transaction) -> list[str]:
    """Every other session's open transaction (virtual ids, as CREATE INDEX CONCURRENTLY waits
    for): any statement that began before a freeze committed belongs to one of them."""
    rows = await tx.fetch_all(
        "SELECT l.virtualtransaction FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
        " WHERE l.locktype = 'virtualxid' AND l.granted AND l.pid <> pg_backend_pid()"
        " AND a.datname = current_database()",
        [],
    )
    return [r["virtualtransaction"] for r in rows]


async def still_running(tx: Transaction, transactions: list[str]) -> int:
    row = await tx.fetch_one(
        "SELECT count(*) AS n FROM pg_locks WHERE locktype = 'virtualxid'"
        " AND virtualtransaction = ANY(%s) AND granted",
        [transactions],
    )
    assert row is not None
    return int(row["n"])


# --- the move journal (home database) ---

_MOVES = """SELECT m.tenant_id, t.slug, m.source, m.target, m.step, m.started_at
              FROM tenantry_private.tenant_moves m JOIN tenantry.tenants t ON t.id = m.tenant_id"""


async def moves(tx: Transaction) -> list[Move]:
    rows = await tx.fetch_all(_MOVES + " ORDER BY m.started_at", [])
    return [_move(r) for r in rows]


async def move_of(tx: Transaction, tenant_id: UUID) -> Move | None:
    row = await tx.fetch_one(_MOVES + " WHERE m.tenant_id = %s", [tenant_id])
    return None if row is None else _move(row)


def _move(r: dict[str, object]) -> Move:
    return Move(**r)  # type: ignore[arg-type]  # the columns are the dataclass's fields


async def begin_move(tx: Transaction, tenant_id: UUID, source: str, target: str) -> None:
    await tx.execute(
        "INSERT INTO tenantry_private.tenant_moves (tenant_id, source, target, step)"
        " VALUES (%s, %s, %s, 'frozen')",
        [tenant_id, source, target],
    )


async def journal(tx: Transaction, tenant_id: UUID, step: str) -> None:
    await tx.execute(
        "UPDATE tenantry_private.tenant_moves SET step = %s, updated_at = now()"
        " WHERE tenant_id = %s",
        [step, tenant_id],
    )


async def end_move(tx: Transaction, tenant_id: UUID) -> None:
    await tx.execute("DELETE FROM tenantry_private.tenant_moves WHERE tenant_id = %s", [tenant_id])


# --- copies and checks ---


async def digest(tx: Transaction, table: Table, tenant_id: UUID) -> tuple[int, str]:
    """The tenant's rows of `table`: how many, and the sum of a 64-bit hash of each row's
    JSON (the same rows give the same sum in any order, on any server)."""
    query = sql.SQL(
        "SELECT count(*) AS n, coalesce(sum(('x' || left(md5(row_to_json(r)::text), 16))"
        "::bit(64)::bigint::numeric), 0)::text AS sum"
        " FROM (SELECT {columns} FROM {table} WHERE {tenant} = %s) r"
    ).format(
        columns=sql.SQL(", ").join(map(sql.Identifier, table.column_names)),
        table=sql.Identifier(*table.qualified),
        tenant=tenant_column(table),
    )
    row = await tx.fetch_one(query, [tenant_id])
    assert row is not None
    return int(row["n"]), str(row["sum"])


async def as_replica(tx: Transaction) -> None:
    """Write rows as they were: triggers that derive data from them rest (the rows copied
    carry those results already), foreign keys too (the copy is verified against its
    source); the guards, ENABLE ALWAYS, keep firing (revision 0024)."""
    await tx.execute("SET LOCAL session_replication_role = replica")


async def cleaning_up(tx: Transaction, tenant_id: UUID) -> None:
    """Let this transaction delete the tenant's append-only logs here (revision 0024: only
    where the tenant has departed or is still arriving)."""
    await tx.execute("SELECT set_config('tenantry.move_cleanup', %s, true)", [str(tenant_id)])


async def delete_rows(tx: Transaction, table: Table, tenant_id: UUID) -> int:
    if table.qualified == TENANTS:
        raise ValueError("the tenant's own row is removed with delete_tenant_row")
    query = sql.SQL("DELETE FROM {} WHERE tenant_id = %s").format(sql.Identifier(*table.qualified))
    return (await tx.execute(query, [tenant_id])).rowcount


async def audit_chain_left(tx: Transaction, tenant_id: UUID) -> None:
    """The tenant's audit chain bookkeeping, once its entries are gone from this database."""
    await tx.execute("SELECT tenantry_private.forget_audit_chain(%s)", [tenant_id])


async def catalog_lines(tx: Transaction, table: Table) -> list[str]:
    query = sql.SQL("SELECT row_to_json(r)::text AS line FROM (SELECT {columns} FROM {table}) r")
    rows = await tx.fetch_all(
        query.format(
            columns=sql.SQL(", ").join(map(sql.Identifier, table.column_names)),
            table=sql.Identifier(*table.qualified),
        ),
        [],
    )
    return [r["line"] for r in rows]


async def lock_catalogs(tx: Transaction) -> None:
    await tx.execute("SELECT pg_advisory_xact_lock(hashtext('tenantry.catalog_sync'))")


async def upsert_catalog(
    tx: Transaction, table: Table, lines: list[str], deferred: frozenset[str] = frozenset()
) -> int:
    """The rows as they are at home: missing ones inserted, different ones updated (rows of
    append-only catalogs never differ, so they are never updated). `deferred` columns point at
    rows not there yet (a cycle of foreign keys): inserted as NULL and left alone, for a
    second call without them to fill in."""
    others = [c for c in table.column_names if c not in table.key and c not in deferred]
    update: sql.Composable = sql.SQL("DO NOTHING")
    if others and table.mutable:
        update = sql.SQL(
            "DO UPDATE SET ({others}) = ROW({new}) WHERE ({old}) IS DISTINCT FROM ({new})"
        ).format(
            others=sql.SQL(", ").join(map(sql.Identifier, others)),
            new=sql.SQL(", ").join(
                sql.SQL("excluded.{}").format(sql.Identifier(c)) for c in others
            ),
            old=sql.SQL(", ").join(sql.SQL("t.{}").format(sql.Identifier(c)) for c in others),
        )
    values = sql.SQL(", ").join(
        sql.SQL("NULL") if c in deferred else sql.Identifier(c) for c in table.column_names
    )
    query = sql.SQL(
        "INSERT INTO {table} AS t ({columns}) OVERRIDING SYSTEM VALUE"
        " SELECT {values} FROM jsonb_populate_recordset(NULL::{table}, %s::jsonb)"
        " ON CONFLICT ({key}) {update}"
    ).format(
        table=sql.Identifier(*table.qualified),
        columns=sql.SQL(", ").join(map(sql.Identifier, table.column_names)),
        values=values,
        key=sql.SQL(", ").join(map(sql.Identifier, table.key)),
        update=update,
    )
    return (await tx.execute(query, ["[" + ",".join(lines) + "]"])).rowcount


async def delete_missing(tx: Transaction, table: Table, lines: list[str]) -> int:
    """Rows the home database no longer has (append-only catalogs never lose any)."""
    if not table.mutable:
        return 0
    key = sql.SQL(", ").join(map(sql.Identifier, table.key))
    query = sql.SQL(
        "DELETE FROM {table} WHERE ({key}) NOT IN"
        " (SELECT {key} FROM jsonb_populate_recordset(NULL::{table}, %s::jsonb))"
    ).format(table=sql.Identifier(*table.qualified), key=key)
    return (await tx.execute(query, ["[" + ",".join(lines) + "]"])).rowcount
