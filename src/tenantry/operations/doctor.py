"""`tenantry doctor`: is the live database what the migrations say, and is its data coherent?

Schema drift is found by migrating a scratch database on the same server and comparing the two
catalogs (tables, columns, indexes, row-level security and policies), so the reference is the
migrations themselves, never a hand-kept list.
"""

from __future__ import annotations

import secrets
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from tenantry.citus import service as citus
from tenantry.kit import migrate, silos
from tenantry.kit.dsn import database_name, with_database
from tenantry.settings import registry

if TYPE_CHECKING:
    from collections.abc import Iterator

    from tenantry.isolation.roles import Roles


@dataclass(frozen=True)
class Problem:
    check: str
    subject: str
    detail: str
    severity: str = "error"

    def line(self) -> str:
        return f"{self.severity}: {self.check}: {self.subject}: {self.detail}"

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


CATALOG = {
    "column": """
        SELECT format('%%I.%%I.%%I', c.table_schema, c.table_name, c.column_name) AS key,
               concat_ws(' ', c.data_type, CASE WHEN c.is_nullable = 'NO' THEN 'not null' END,
                         c.column_default) AS value
          FROM information_schema.columns c
         WHERE c.table_schema IN ('tenantry', 'tenantry_private')""",
    "index": """
        SELECT format('%%I.%%I', schemaname, tablename) || ' ' ||
               regexp_replace(indexdef, '^.* USING ', 'USING ') AS key, '' AS value
          FROM pg_indexes WHERE schemaname IN ('tenantry', 'tenantry_private')""",
    "row security": """
        SELECT format('%%I.%%I', n.nspname, c.relname) AS key,
               concat_ws(',', CASE WHEN c.relrowsecurity THEN 'enabled' END,
                         CASE WHEN c.relforcerowsecurity THEN 'forced' END) AS value
          FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname IN ('tenantry', 'tenantry_private') AND c.relkind IN ('r', 'p')""",
    "policy": """
        SELECT format('%%I.%%I %%s', schemaname, tablename, policyname) AS key,
               concat_ws(' | ', cmd, roles::text, qual, with_check) AS value
          FROM pg_policies WHERE schemaname IN ('tenantry', 'tenantry_private')""",
}


def _catalog(url: str) -> dict[str, dict[str, str]]:
    with psycopg.connect(url, row_factory=dict_row) as conn:
        return {
            kind: {r["key"]: r["value"] or "" for r in conn.execute(query, [])}
            for kind, query in CATALOG.items()
        }


def schema_drift(admin_url: str, server_url: str, roles: Roles) -> list[Problem]:
    reference = f"{database_name(admin_url)}_doctor_{secrets.token_hex(4)}"
    distributed = citus.rewritten_tables(admin_url, roles)
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(reference)))
    try:
        migrate.upgrade(with_database(server_url, reference), roles)
        if distributed:  # policies as `tenantry citus distribute` writes them
            citus.write_citus_policies(with_database(server_url, reference), distributed)
        expected = _catalog(with_database(server_url, reference))
    finally:
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(reference))
            )
    actual = _catalog(admin_url)
    problems = []
    for kind, wanted in expected.items():
        live = actual[kind]
        problems += [
            Problem("schema_drift", f"{kind} {k}", "missing") for k in wanted.keys() - live.keys()
        ]
        problems += [
            Problem("schema_drift", f"{kind} {k}", "not created by any migration", "warning")
            for k in live.keys() - wanted.keys()
        ]
        problems += [
            Problem("schema_drift", f"{kind} {k}", f"is {live[k]!r}, migrations say {wanted[k]!r}")
            for k in wanted.keys() & live.keys()
            if wanted[k] != live[k]
        ]
    return problems


CONSISTENCY = {
    "tenant_without_admin": (
        # Set differences, not correlated sub-queries: Citus plans these across its tables.
        """SELECT t.slug AS subject, 'active tenant with no user in the admin app' AS detail
             FROM tenantry.tenants t
            WHERE t.id IN (SELECT id FROM tenantry.tenants WHERE status = 'active'
                           EXCEPT
                           SELECT u.tenant_id FROM tenantry.app_users u
                             JOIN tenantry.apps a ON a.id = u.app_id WHERE a.slug = 'admin')""",
        "warning",
    ),
    "app_enabled_but_unavailable": (
        """SELECT t.slug || '/' || a.slug AS subject, 'enabled app is ' || a.status AS detail
             FROM tenantry.tenant_apps ta JOIN tenantry.tenants t ON t.id = ta.tenant_id
             JOIN tenantry.apps a ON a.id = ta.app_id WHERE a.status <> 'active'""",
        "error",
    ),
    "orphan_domain_claim": (
        """SELECT c.domain AS subject, 'claimed but not a verified domain of its tenant' AS detail
             FROM tenantry_private.domain_claims c
            WHERE (c.tenant_id, c.domain) IN (
                  SELECT tenant_id, domain FROM tenantry_private.domain_claims
                  EXCEPT
                  SELECT d.tenant_id, d.domain FROM tenantry.tenant_domains d
                   WHERE d.verified_at IS NOT NULL)""",
        "error",
    ),
    "unclaimed_verified_domain": (
        """SELECT d.domain AS subject, 'verified but holds no claim' AS detail
             FROM tenantry.tenant_domains d WHERE d.verified_at IS NOT NULL
              AND NOT EXISTS (SELECT 1 FROM tenantry_private.domain_claims c
                               WHERE c.domain = d.domain AND c.tenant_id = d.tenant_id)""",
        "error",
    ),
    "purge_overdue": (
        """SELECT slug AS subject, 'deprovisioned; purge was due ' || purge_after::date AS detail
             FROM tenantry.tenants WHERE status = 'deprovisioned' AND purge_after < now()""",
        "warning",
    ),
    "session_outlives_user": (
        """SELECT s.id::text AS subject, 'active session of an inactive user' AS detail
             FROM tenantry.sessions s JOIN tenantry.app_users u
               ON u.tenant_id = s.tenant_id AND u.app_id = s.app_id AND u.id = s.app_user_id
            WHERE s.revoked_at IS NULL AND s.expires_at > now() AND u.status <> 'active'""",
        "warning",
    ),
}


def consistency(admin_url: str) -> list[Problem]:
    problems: list[Problem] = []
    with psycopg.connect(admin_url, row_factory=dict_row) as conn:
        for check, (query, severity) in CONSISTENCY.items():
            problems += [
                Problem(check, r["subject"], r["detail"], severity) for r in conn.execute(query, [])
            ]
        problems += list(_invalid_settings(conn))
    return problems


def _invalid_settings(conn: psycopg.Connection[dict[str, Any]]) -> Iterator[Problem]:
    rows = conn.execute(
        """SELECT t.slug, s.key, s.value FROM tenantry.tenant_settings s
             JOIN tenantry.tenants t ON t.id = s.tenant_id""",
        [],
    )
    for row in rows:
        subject = f"{row['slug']} {row['key']}"
        if row["key"] not in registry.DEFINITIONS:
            yield Problem("unknown_setting", subject, "not a defined setting", "warning")
            continue
        try:
            registry.DEFINITIONS[row["key"]].validate(row["value"])
        except Exception as exc:  # noqa: BLE001 - report, do not crash
            yield Problem("invalid_setting", subject, str(exc))


def slow_queries(admin_url: str, limit: int = 10) -> list[dict[str, Any]] | None:
    """Top statements by total time from pg_stat_statements, or None without the extension.

    Statements are normalised (parameters, tenant ids included, become $n), so the report is
    per statement and role; per-tenant attribution would need tenant-tagged statements.
    """
    with psycopg.connect(admin_url, row_factory=dict_row) as conn:
        present = conn.execute(
            "SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements'"
        ).fetchone()
        if not present:
            return None
        return conn.execute(
            """SELECT r.rolname AS role, s.calls, round(s.total_exec_time::numeric, 1) AS total_ms,
                      round(s.mean_exec_time::numeric, 3) AS mean_ms, left(s.query, 200) AS query
                 FROM pg_stat_statements s JOIN pg_roles r ON r.oid = s.userid
                WHERE s.dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
                ORDER BY s.total_exec_time DESC LIMIT %s""",
            [limit],
        ).fetchall()


# The placements seen from the home database: moves a crash left unfinished.
UNFINISHED_MOVES = """
    SELECT t.slug AS subject,
           format('its move %%s → %%s stopped at %%s (%%s): run `tenantry placements recover`',
                  m.source, m.target, m.step, m.updated_at) AS detail
      FROM tenantry_private.tenant_moves m JOIN tenantry.tenants t ON t.id = m.tenant_id
     WHERE to_regclass('tenantry_private.tenant_moves') IS NOT NULL
"""
LIVES_IN = "SELECT id, slug FROM tenantry.tenants WHERE placement = %s"
RESIDENT = """
    SELECT t.id FROM tenantry.tenants t
     WHERE NOT EXISTS (SELECT FROM tenantry_private.tenant_residency r WHERE r.tenant_id = t.id)
"""


def placements(admin_url: str, silo_urls: list[tuple[str, str]]) -> list[Problem]:
    """Unfinished moves; per silo: reachable, every tenant the registry places there resident
    there, and catalogs equal to the home database's."""
    with psycopg.connect(admin_url, row_factory=dict_row) as conn:
        problems = [
            Problem("unfinished_move", r["subject"], r["detail"])
            for r in conn.execute(UNFINISHED_MOVES, [])
        ]
        home = _catalog_digests(conn)
        placed = {name: conn.execute(LIVES_IN, [name]).fetchall() for name, _ in silo_urls}
    for name, url in silo_urls:
        try:
            with psycopg.connect(url, row_factory=dict_row, connect_timeout=5) as conn:
                resident = {r["id"] for r in conn.execute(RESIDENT, [])}
                there = _catalog_digests(conn)
        except psycopg.OperationalError as exc:
            problems.append(Problem("placement_unreachable", name, str(exc).strip()))
            continue
        problems += [
            Problem("tenant_not_resident", t["slug"], f"placed in {name} but not resident there")
            for t in placed[name]
            if t["id"] not in resident
        ]
        problems += [
            Problem(
                "catalog_drift", f"{name}: {table}", "differs from the home database's:"
                " run `tenantry placements sync`", "warning",
            )
            for table, digest in home.items()
            if there.get(table) != digest
        ]  # fmt: skip
    return problems


def _catalog_digests(conn: psycopg.Connection[dict[str, Any]]) -> dict[str, str]:
    """Every global catalog's rows as one digest, in a stable order (the copies in silos
    must match the home database's)."""
    digests = {}
    for row in conn.execute(silos.CATALOGS).fetchall():
        query = sql.SQL(
            "SELECT md5(coalesce(string_agg(r::text, ',' ORDER BY r::text), '')) AS d FROM {} r"
        ).format(sql.Identifier(row["nspname"], row["relname"]))
        found = conn.execute(query, []).fetchone()
        digests[f"{row['nspname']}.{row['relname']}"] = found["d"] if found else ""
    return digests
