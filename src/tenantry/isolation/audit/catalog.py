"""What every check reads: the served roles, the tenant tables, and the shape of a finding."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import psycopg

if TYPE_CHECKING:
    from psycopg.abc import Params

    from tenantry.isolation.roles import Roles

Row = dict[str, Any]
Conn = psycopg.Connection[Row]

USER_SCHEMAS = """
    n.nspname NOT IN ('pg_catalog', 'information_schema')
    AND n.nspname !~ '^pg_(toast|temp)'
"""


@dataclass(frozen=True, slots=True)
class Finding:
    check: str
    object: str
    message: str

    def line(self) -> str:
        return f"{self.check}: {self.object}: {self.message}"

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Catalog:
    """The live catalog as the checks see it."""

    conn: Conn
    roles: Roles
    # The served roles (runtime, platform) that exist, by name.
    role_oids: dict[str, int]
    tables: list[Row]
    # Tables a Citus coordinator distributes or replicates: their policies take the Citus
    # form and they carry no residency guard (`tenantry.citus`).
    citus_tables: frozenset[int] = frozenset()

    @property
    def runtime_oid(self) -> int | None:
        return self.role_oids.get(self.roles.runtime)

    @property
    def table_oids(self) -> list[int]:
        return [table["oid"] for table in self.tables]

    def rows(self, query: str, params: Params | None = None) -> list[Row]:
        return self.conn.execute(query, params).fetchall()


Check = Callable[[Catalog], Iterator[Finding]]


def read_catalog(conn: Conn, roles: Roles) -> Catalog:
    role_oids = {
        row["rolname"]: row["oid"]
        for row in conn.execute(
            "SELECT oid, rolname FROM pg_roles WHERE rolname = ANY(%s)",
            [[roles.runtime, roles.platform]],
        )
    }
    citus = conn.execute("SELECT to_regclass('pg_catalog.pg_dist_partition') AS present").fetchone()
    citus_tables = frozenset(
        row["logicalrelid"]
        for row in (
            conn.execute("SELECT logicalrelid::oid FROM pg_dist_partition").fetchall()
            if citus and citus["present"]
            else []
        )
    )
    return Catalog(conn, roles, role_oids, _tenant_tables(conn), citus_tables)


def _tenant_tables(conn: Conn) -> list[Row]:
    declared = conn.execute(
        "SELECT to_regclass('tenantry.scoped_tables') IS NOT NULL AS present"
    ).fetchone()
    present = bool(declared and declared["present"])
    # A partition is declared through its parent (the generator declares the parent; the
    # partition function makes the partitions).
    lookup = (
        "(SELECT s.{} FROM tenantry.scoped_tables s "
        "WHERE s.table_schema = coalesce(pn.nspname, n.nspname) "
        "AND s.table_name = coalesce(p.relname, c.relname))"
    )
    scope_sql = lookup.format("scope") if present else "NULL::text"
    access_sql = lookup.format("runtime_access") if present else "NULL::text"
    return conn.execute(
        f"""
        SELECT c.oid, format('%%I.%%I', n.nspname, c.relname) AS name,
               c.relrowsecurity AS rls, c.relforcerowsecurity AS forced,
               t.attnum AS tenant_attnum, a.attnum AS app_attnum,
               a.attnum IS NOT NULL AND NOT a.attnotnull AS app_nullable,
               {scope_sql} AS declared_scope, {access_sql} AS declared_access,
               CASE WHEN p.oid IS NOT NULL THEN format('%%I.%%I', pn.nspname, p.relname)
               END AS partition_of
          FROM pg_class c
          JOIN pg_namespace n ON n.oid = c.relnamespace
          LEFT JOIN pg_inherits i ON i.inhrelid = c.oid AND c.relispartition
          LEFT JOIN pg_class p ON p.oid = i.inhparent
          LEFT JOIN pg_namespace pn ON pn.oid = p.relnamespace
          LEFT JOIN pg_attribute t
                 ON t.attrelid = c.oid AND t.attname = 'tenant_id' AND NOT t.attisdropped
          LEFT JOIN pg_attribute a
                 ON a.attrelid = c.oid AND a.attname = 'app_id' AND NOT a.attisdropped
         WHERE c.relkind IN ('r', 'p') AND {USER_SCHEMAS}
           -- Platform-level secrets (per-app signing keys); the runtime role cannot even
           -- reach this schema, which `runtime_reads_keys` checks.
           AND n.nspname <> 'tenantry_private'
           AND (t.attnum IS NOT NULL OR a.attnum IS NOT NULL)
         ORDER BY 2
        """,
        [],
    ).fetchall()


def granted_commands(catalog: Catalog, role: int, table_oid: int) -> list[str]:
    """Which of SELECT, INSERT, UPDATE and DELETE `role` may run on the table, in that order."""
    return [
        row["privilege"]
        for row in catalog.rows(
            """
            SELECT p.privilege FROM unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE'])
                   WITH ORDINALITY AS p(privilege, n)
             WHERE has_table_privilege(%s, %s, p.privilege) ORDER BY n
            """,
            [role, table_oid],
        )
    ]
