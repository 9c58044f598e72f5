"""Preparing a database to become a placement, with the server's admin connection.

A database migrated from scratch seeds its own catalogs (its apps get ids of their own); a
placement holds the home database's instead, so before the first copy its seeded rows go. Only
a database no tenant lives in yet is cleared; the append-only catalogs' triggers and the
foreign keys are set aside for that one transaction (`session_replication_role = replica`).
"""

from __future__ import annotations

import psycopg
from psycopg import conninfo, sql

from tenantry.kit.errors import Conflict
from tenantry.kit.placements import relocated

CATALOGS = """
SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = 'tenantry' AND c.relkind IN ('r', 'p') AND NOT c.relispartition
   AND c.oid NOT IN ('tenantry.tenants'::regclass, 'tenantry.scoped_tables'::regclass)
   AND c.oid NOT IN (SELECT format('%I.%I', table_schema, table_name)::regclass
                       FROM tenantry.scoped_tables)
"""


def clear_catalogs(admin_url: str) -> int:
    """Delete the seeded catalog rows of a database no tenant lives in: rows deleted."""
    with psycopg.connect(admin_url) as conn:
        tenants = conn.execute("SELECT count(*) FROM tenantry.tenants").fetchone()
        if tenants and tenants[0]:
            raise Conflict("tenants live in this database: it cannot become a placement")
        conn.execute("SET LOCAL session_replication_role = replica")
        deleted = 0
        for schema, name in conn.execute(CATALOGS).fetchall():
            if (schema, name) == ("tenantry", "placements"):
                continue  # the sync brings the home database's list
            query = sql.SQL("DELETE FROM {}").format(sql.Identifier(schema, name))
            deleted += conn.execute(query).rowcount
        return deleted


def placement_admin_urls(home_admin_url: str) -> list[tuple[str, str]]:
    """Each silo placement's name and admin URL: the home database's admin login at the
    placement's address (for migrations, audits and checks run across all of them)."""
    with psycopg.connect(home_admin_url) as conn:
        if conn.execute("SELECT to_regclass('tenantry.placements')").fetchone() == (None,):
            return []  # before revision 0024
        rows = conn.execute(
            "SELECT name, url FROM tenantry.placements WHERE name <> 'shared' ORDER BY name"
        ).fetchall()
    return [(str(name), relocated(home_admin_url, str(url))) for name, url in rows]


def server_of(admin_url: str) -> str:
    """The same login on the same server, in its maintenance database (to create another)."""
    return conninfo.make_conninfo(admin_url, dbname="postgres")
