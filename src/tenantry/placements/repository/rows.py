"""SQL for copying one tenant's rows out of a database and into another, as the platform.

Rows travel as `row_to_json` text of the table's own columns (generated ones are computed again
where they land) and go in through `jsonb_populate_recordset`, one statement per batch: COPY FROM
is refused on tables under row-level security, and the platform role's policies are what let it
write any tenant's rows.
"""

from __future__ import annotations

import json
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, LiteralString

from psycopg import sql

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from uuid import UUID

    from tenantry.kit.db import Transaction

TENANTS = ("tenantry", "tenants")


@dataclass(frozen=True, slots=True)
class Table:
    schema: str
    name: str
    columns: list[tuple[str, str]]  # (name, type), stored columns in table order
    key: list[str]  # the primary key's columns, for a stable order
    # Foreign keys to tables of the same set: (columns, the parent's (schema, name)).
    references: list[tuple[list[str], tuple[str, str]]] = field(default_factory=list)
    # Whether this role may change or delete rows (append-only catalogs: neither).
    mutable: bool = True
    required: frozenset[str] = frozenset()  # NOT NULL columns

    @property
    def qualified(self) -> tuple[str, str]:
        return (self.schema, self.name)

    @property
    def column_names(self) -> list[str]:
        return [name for name, _ in self.columns]


# Tables, parents before children (foreign keys between them hold at every insert), with their
# stored columns and primary key. `%(tables)s`: the set to order.
_ORDERED = """
WITH RECURSIVE tables AS (%(tables)s), edges AS (
    SELECT c.conrelid AS child, c.confrelid AS parent FROM pg_constraint c
     WHERE c.contype = 'f' AND c.conrelid IN (SELECT rel FROM tables)
       AND c.confrelid IN (SELECT rel FROM tables) AND c.conrelid <> c.confrelid
), depth AS (
    SELECT rel, 0 AS level FROM tables
    UNION ALL
    SELECT e.child, d.level + 1 FROM depth d JOIN edges e ON e.parent = d.rel
     WHERE d.level < 16  -- a cycle (apps and their versions) stops somewhere
), ordered AS (
    %(first)s
    SELECT rel, max(level) AS level FROM depth GROUP BY rel
)
SELECT n.nspname AS schema, c.relname AS name,
       (SELECT json_agg(json_build_array(a.attname, format_type(a.atttypid, a.atttypmod))
                        ORDER BY a.attnum)
          FROM pg_attribute a
         WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
           AND a.attgenerated = '') AS columns,
       (SELECT json_agg(a.attname ORDER BY k.n)
          FROM pg_index i
          CROSS JOIN unnest(i.indkey) WITH ORDINALITY AS k(attnum, n)
          JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
         WHERE i.indrelid = c.oid AND i.indisprimary) AS key,
       (SELECT json_agg(json_build_array(
                   (SELECT json_agg(a.attname ORDER BY k.n)
                      FROM unnest(f.conkey) WITH ORDINALITY AS k(attnum, n)
                      JOIN pg_attribute a ON a.attrelid = f.conrelid AND a.attnum = k.attnum),
                   json_build_array(pn.nspname, pc.relname)))
          FROM pg_constraint f
          JOIN pg_class pc ON pc.oid = f.confrelid
          JOIN pg_namespace pn ON pn.oid = pc.relnamespace
         WHERE f.contype = 'f' AND f.conrelid = c.oid
           AND f.confrelid IN (SELECT rel FROM tables)) AS refs,
       has_table_privilege(c.oid, 'UPDATE') AND has_table_privilege(c.oid, 'DELETE') AS mutable,
       (SELECT json_agg(a.attname) FROM pg_attribute a
         WHERE a.attrelid = c.oid AND a.attnum > 0 AND a.attnotnull) AS required
  FROM ordered o JOIN pg_class c ON c.oid = o.rel
  JOIN pg_namespace n ON n.oid = c.relnamespace
 ORDER BY o.level, 1, 2
"""
_TENANT_TABLES = _ORDERED % {
    "tables": "SELECT format('%%I.%%I', table_schema, table_name)::regclass AS rel"
    " FROM tenantry.scoped_tables",
    "first": "SELECT 'tenantry.tenants'::regclass AS rel, -1 AS level UNION ALL",
}
# The global catalogs every placement holds a copy of: `tenantry`'s tables that belong to no
# tenant (apps, flags, roles, event types, …), except the registries migrations own.
_CATALOG_TABLES = _ORDERED % {
    "tables": "SELECT c.oid AS rel FROM pg_class c"
    " WHERE c.relnamespace = 'tenantry'::regnamespace AND c.relkind IN ('r', 'p')"
    " AND NOT c.relispartition"
    " AND c.oid NOT IN ('tenantry.tenants'::regclass, 'tenantry.scoped_tables'::regclass)"
    " AND c.oid NOT IN (SELECT format('%%I.%%I', table_schema, table_name)::regclass"
    " FROM tenantry.scoped_tables)",
    "first": "",
}


async def tenant_tables(tx: Transaction) -> list[Table]:
    """The tenant's root row's table, then every declared tenant table, parents first."""
    return _tables(await tx.fetch_all(_TENANT_TABLES, []))


async def catalog_tables(tx: Transaction) -> list[Table]:
    """The global catalogs, parents first."""
    return _tables(await tx.fetch_all(_CATALOG_TABLES, []))


def _tables(rows: list[Any]) -> list[Table]:
    return [
        Table(
            r["schema"],
            r["name"],
            [(str(name), str(kind)) for name, kind in r["columns"]],
            list(r["key"] or []),
            [(list(cols), (parent[0], parent[1])) for cols, parent in r["refs"] or []],
            r["mutable"],
            frozenset(r["required"] or []),
        )
        for r in rows
    ]


def tenant_column(table: Table) -> sql.Identifier:
    return sql.Identifier("id" if table.qualified == TENANTS else "tenant_id")


# A row is newer than a snapshot when the transaction that wrote it (its xmin) had not begun
# by then (at or past the snapshot's xmax) or was still running (in its xip list). Row headers
# carry 32-bit ids: compared by age, which holds across wraparound; frozen rows are oldest.
# The xip list names top-level transactions only: a row written in a savepoint of one of them
# has an id of its own and is not found here (the move then copies that table whole again).
_WRITTEN_AFTER = sql.SQL(
    " AND (age(xmin) <= age((pg_snapshot_xmax(%s::pg_snapshot)::text::bigint"
    " %% 4294967296)::text::xid) OR xmin = ANY (ARRAY(SELECT (x::text::bigint"
    " %% 4294967296)::text::xid FROM pg_snapshot_xip(%s::pg_snapshot) x)))"
)


def _rows(table: Table, *, changed: bool = False) -> sql.Composed:
    """The tenant's rows of `table`, its own columns only, in key order; `changed`: only
    those written after a snapshot (two more parameters, the snapshot each time)."""
    return sql.SQL(
        "SELECT {columns} FROM {table} WHERE {tenant} = %s{changed} ORDER BY {key}"
    ).format(
        columns=sql.SQL(", ").join(map(sql.Identifier, table.column_names)),
        table=sql.Identifier(*table.qualified),
        tenant=tenant_column(table),
        changed=_WRITTEN_AFTER if changed else sql.SQL(""),
        key=sql.SQL(", ").join(map(sql.Identifier, table.key or table.column_names)),
    )


async def stream_rows(
    tx: Transaction, table: Table, tenant_id: UUID, *, changed_since: str | None = None
) -> AsyncIterator[str]:
    """Each of the tenant's rows as one line of JSON, in key order; `changed_since`: only the
    rows written by transactions a snapshot (`snapshot`) did not see."""
    query = sql.SQL("SELECT row_to_json(r)::text AS line FROM ({rows}) r").format(
        rows=_rows(table, changed=changed_since is not None)
    )
    params: list[Any] = [tenant_id] if changed_since is None else [tenant_id, *[changed_since] * 2]
    conn = await tx.connection()
    # A server-side cursor fetched in batches: single-row mode costs a result per row.
    async with conn.cursor(name="tenantry_rows") as cursor:
        cursor.itersize = 2_000
        await cursor.execute(query, params)
        async for row in cursor:
            yield row["line"]


async def snapshot(tx: Transaction) -> str:
    """The transaction's snapshot, to find later what was written after it."""
    row = await tx.fetch_one("SELECT pg_current_snapshot()::text AS snapshot")
    assert row is not None
    return str(row["snapshot"])


async def insert_rows(tx: Transaction, table: Table, lines: list[str], tenant_id: UUID) -> int:
    """The rows (JSON objects of the table's columns) inserted as they are, ids included, and
    only those of `tenant_id`: how many went in (fewer than given: some named another tenant).
    `RETURNING` keeps Citus from sending the rows to the shard as a COPY, which row-level
    security refuses."""
    columns = sql.SQL(", ").join(map(sql.Identifier, table.column_names))
    query = sql.SQL(
        "INSERT INTO {table} ({columns}) OVERRIDING SYSTEM VALUE"
        " SELECT {columns} FROM jsonb_populate_recordset(NULL::{table}, %s::jsonb) r"
        " WHERE r.{tenant} = %s RETURNING 1"
    ).format(table=sql.Identifier(*table.qualified), columns=columns, tenant=tenant_column(table))
    cursor = await tx.execute(query, ["[" + ",".join(lines) + "]", tenant_id])
    return cursor.rowcount


async def upsert_rows(tx: Transaction, table: Table, lines: list[str], tenant_id: UUID) -> int:
    """As `insert_rows`, a row already there (by primary key) taking the new values."""
    columns = sql.SQL(", ").join(map(sql.Identifier, table.column_names))
    others = [name for name in table.column_names if name not in table.key]
    conflict = (
        sql.SQL("DO UPDATE SET ")
        + sql.SQL(", ").join(
            sql.SQL("{0} = excluded.{0}").format(sql.Identifier(name)) for name in others
        )
        if others
        else sql.SQL("DO NOTHING")
    )
    query = sql.SQL(
        "INSERT INTO {table} ({columns}) OVERRIDING SYSTEM VALUE"
        " SELECT {columns} FROM jsonb_populate_recordset(NULL::{table}, %s::jsonb) r"
        " WHERE r.{tenant} = %s ON CONFLICT ({key}) {conflict} RETURNING 1"
    ).format(
        table=sql.Identifier(*table.qualified),
        columns=columns,
        tenant=tenant_column(table),
        key=sql.SQL(", ").join(map(sql.Identifier, table.key)),
        conflict=conflict,
    )
    cursor = await tx.execute(query, ["[" + ",".join(lines) + "]", tenant_id])
    return cursor.rowcount


async def keys(tx: Transaction, table: Table, tenant_id: UUID) -> str:
    """The primary keys of the tenant's rows of `table`, as one JSON array of objects."""
    query = sql.SQL(
        "SELECT coalesce(json_agg(k), '[]')::text AS keys"
        " FROM (SELECT {key} FROM {table} WHERE {tenant} = %s) k"
    ).format(
        key=sql.SQL(", ").join(map(sql.Identifier, table.key)),
        table=sql.Identifier(*table.qualified),
        tenant=tenant_column(table),
    )
    row = await tx.fetch_one(query, [tenant_id])
    assert row is not None
    return str(row["keys"])


async def delete_missing(tx: Transaction, table: Table, tenant_id: UUID, present: str) -> int:
    """Delete the tenant's rows whose key is not among `present` (a `keys` array)."""
    key = sql.SQL(", ").join(map(sql.Identifier, table.key))
    query = sql.SQL(
        "DELETE FROM {table} WHERE {tenant} = %s AND ({key}) NOT IN"
        " (SELECT {key} FROM jsonb_populate_recordset(NULL::{table}, %s::jsonb))"
    ).format(table=sql.Identifier(*table.qualified), tenant=tenant_column(table), key=key)
    return (await tx.execute(query, [tenant_id, present])).rowcount


async def continue_audit_trail(tx: Transaction, tenant_id: UUID) -> None:
    """Audit entries restored next follow the newest one already restored here (in an
    earlier transaction: `restoring_audit_trail` keeps that only within its own)."""
    row = await tx.fetch_one(
        "SELECT encode(hash, 'hex') AS hash FROM tenantry.audit_log WHERE tenant_id = %s"
        " ORDER BY seq DESC LIMIT 1",
        [tenant_id],
    )
    await _set_local(tx, "tenantry.audit_restore_prev", row["hash"] if row else "")


@asynccontextmanager
async def restoring_audit_trail(
    tx: Transaction, archived_apps: dict[str, str]
) -> AsyncIterator[None]:
    """Audit entries inserted in the block keep their seq and time once their archived chain
    checks out (revision 0023); `archived_apps` maps this installation's app ids to the
    archive's, under which the archived hashes were computed. Entries after the block are
    appended as usual."""
    await _set_local(tx, "tenantry.audit_restore", "on")
    await _set_local(tx, "tenantry.audit_restore_apps", json.dumps(archived_apps))
    yield
    await _set_local(tx, "tenantry.audit_restore", "off")


async def _set_local(tx: Transaction, name: LiteralString, value: str) -> None:
    """A transaction-local setting the audit trigger reads: a `SET LOCAL`, which Citus sends
    on to the workers where the trigger runs (it does not forward `set_config`)."""
    await tx.execute(sql.SQL("SET LOCAL {} = {}").format(sql.SQL(name), sql.Literal(value)))


async def tenant_by_slug(tx: Transaction, slug: str) -> UUID | None:
    row = await tx.fetch_one("SELECT id FROM tenantry.tenants WHERE slug = %s", [slug])
    return None if row is None else row["id"]


async def tenant_exists(tx: Transaction, tenant_id: UUID, slug: str) -> bool:
    row = await tx.fetch_one(
        "SELECT 1 AS found FROM tenantry.tenants WHERE id = %s OR slug = %s", [tenant_id, slug]
    )
    return row is not None


async def apps(tx: Transaction) -> dict[str, str]:
    """Every app's id (text) -> slug."""
    rows = await tx.fetch_all("SELECT id::text AS id, slug FROM tenantry.apps", [])
    return {r["id"]: r["slug"] for r in rows}


async def app_columns(tx: Transaction) -> dict[tuple[str, str], list[str]]:
    """Per tenant table, the columns holding an app's id: `app_id`, and every column whose
    foreign key points at an app id (tenantry.apps, or another table's `app_id`, such as a
    role assignment's `subject_app_id`). What an import maps between installations."""
    rows = await tx.fetch_all(
        """WITH tables AS (
               SELECT table_schema AS schema, table_name AS name,
                      format('%%I.%%I', table_schema, table_name)::regclass AS rel
                 FROM tenantry.scoped_tables
           ), pointing AS (
               SELECT c.conrelid AS rel, k.local
                 FROM pg_constraint c
                 CROSS JOIN unnest(c.conkey, c.confkey) AS k(local, remote)
                 JOIN pg_attribute r ON r.attrelid = c.confrelid AND r.attnum = k.remote
                WHERE c.contype = 'f' AND c.conrelid IN (SELECT rel FROM tables)
                  AND (c.confrelid = 'tenantry.apps'::regclass OR r.attname = 'app_id')
           )
           SELECT DISTINCT t.schema, t.name, a.attname AS column
             FROM tables t
             JOIN pg_attribute a ON a.attrelid = t.rel AND a.attnum > 0
              AND NOT a.attisdropped AND a.attgenerated = ''
            WHERE a.attname = 'app_id'
               OR (t.rel, a.attnum) IN (SELECT rel, local FROM pointing)""",
        [],
    )
    found: dict[tuple[str, str], list[str]] = {}
    for r in rows:
        found.setdefault((r["schema"], r["name"]), []).append(r["column"])
    return found
