"""`tenantry audit-db`: checks ARCHITECTURE §1's invariants against the live catalog.

Every check reads the catalog directly (never Tenantry's own idea of what it created), so a
table made by hand, an edited policy or a stray grant shows up here.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from typing import Any

import psycopg
from psycopg.rows import dict_row

from tenantry.isolation.roles import Roles

USER_SCHEMAS = """
    n.nspname NOT IN ('pg_catalog', 'information_schema')
    AND n.nspname !~ '^pg_(toast|temp)'
"""
CONTEXT_CALL = re.compile(r"\bcurrent_(tenant_id|app_id|app_user_id|cross_app|is_platform)\(\)")
WRAPPED_CALL = re.compile(
    r"\(\s*SELECT\s+(?:tenantry\.)?current_(?:tenant_id|app_id|app_user_id|cross_app|is_platform)"
    r"\(\)\s+AS\s+\w+\s*\)",
    re.IGNORECASE,
)
TENANT_ACCESSOR = re.compile(r"\bcurrent_(tenant_id|is_platform)\(\)")
APP_ACCESSOR = re.compile(r"\bcurrent_app_id\(\)")


@dataclass(frozen=True, slots=True)
class Finding:
    check: str
    object: str
    message: str

    def line(self) -> str:
        return f"{self.check}: {self.object}: {self.message}"

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


Row = dict[str, Any]
Conn = psycopg.Connection[Row]


def audit(url: str, roles: Roles) -> list[Finding]:
    with psycopg.connect(url, row_factory=dict_row) as conn:
        conn.read_only = True
        return run_checks(conn, roles)


def run_checks(conn: Conn, roles: Roles) -> list[Finding]:
    role_oids = {
        row["rolname"]: row["oid"]
        for row in conn.execute(
            "SELECT oid, rolname FROM pg_roles WHERE rolname = ANY(%s)",
            [[roles.runtime, roles.platform]],
        )
    }
    findings: list[Finding] = []
    findings += [
        Finding("role_missing", name, "role does not exist")
        for name in (roles.runtime, roles.platform)
        if name not in role_oids
    ]
    tables = _tenant_tables(conn)
    for check in CHECKS:
        findings.extend(check(conn, roles, role_oids, tables))
    return sorted(findings, key=lambda f: (f.check, f.object))


def _tenant_tables(conn: Conn) -> list[Row]:
    declared = conn.execute(
        "SELECT to_regclass('tenantry.scoped_tables') IS NOT NULL AS present"
    ).fetchone()
    present = bool(declared and declared["present"])
    lookup = (
        "(SELECT s.{} FROM tenantry.scoped_tables s "
        "WHERE s.table_schema = n.nspname AND s.table_name = c.relname)"
    )
    scope_sql = lookup.format("scope") if present else "NULL::text"
    access_sql = lookup.format("runtime_access") if present else "NULL::text"
    return conn.execute(
        f"""
        SELECT c.oid, format('%%I.%%I', n.nspname, c.relname) AS name,
               c.relrowsecurity AS rls, c.relforcerowsecurity AS forced,
               t.attnum AS tenant_attnum, a.attnum AS app_attnum,
               {scope_sql} AS declared_scope, {access_sql} AS declared_access
          FROM pg_class c
          JOIN pg_namespace n ON n.oid = c.relnamespace
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


Check = Callable[[Conn, Roles, dict[str, int], list[Row]], Iterator[Finding]]
CHECKS: list[Check] = []


def check(fn: Check) -> Check:
    CHECKS.append(fn)
    return fn


@check
def _row_level_security(
    conn: Conn, roles: Roles, oids: dict[str, int], tables: list[Row]
) -> Iterator[Finding]:
    for table in tables:
        if not table["rls"]:
            yield Finding("rls_disabled", table["name"], "row-level security is not enabled")
        if not table["forced"]:
            yield Finding("rls_not_forced", table["name"], "row-level security is not forced")
        if table["declared_scope"] is None:
            yield Finding(
                "undeclared_table",
                table["name"],
                "has a tenant/app column but was not created through the isolation helper",
            )


def _policies(conn: Conn, table_oid: int) -> list[Row]:
    return conn.execute(
        """
        SELECT polname, polcmd, polpermissive, polroles,
               pg_get_expr(polqual, polrelid) AS using_expr,
               pg_get_expr(polwithcheck, polrelid) AS check_expr
          FROM pg_policy WHERE polrelid = %s ORDER BY polname
        """,
        [table_oid],
    ).fetchall()


def _applies_to(policy: Row, role_oid: int | None) -> bool:
    return 0 in policy["polroles"] or (role_oid is not None and role_oid in policy["polroles"])


@check
def _policies_check(
    conn: Conn, roles: Roles, oids: dict[str, int], tables: list[Row]
) -> Iterator[Finding]:
    runtime = oids.get(roles.runtime)
    for table in tables:
        policies = _policies(conn, table["oid"])
        guarding = [
            p
            for p in policies
            if p["polcmd"] == "*"
            and p["polpermissive"]
            and _applies_to(p, runtime)
            and p["using_expr"]
            and p["check_expr"]
        ]
        runtime_has_access = runtime is not None and _runtime_may_touch(conn, runtime, table["oid"])
        # A table the runtime role cannot touch at all needs no runtime policy.
        if not guarding and runtime_has_access:
            yield Finding(
                "missing_policy",
                table["name"],
                "no permissive FOR ALL policy with USING and WITH CHECK for the runtime role",
            )
        needs_app = table["app_attnum"] is not None and table["declared_scope"] != "tenant"
        if (
            needs_app
            and runtime_has_access
            and not any(
                APP_ACCESSOR.search(p["using_expr"]) and APP_ACCESSOR.search(p["check_expr"])
                for p in guarding
            )
        ):
            yield Finding(
                "missing_app_filter",
                table["name"],
                "app-scoped table whose runtime policy does not filter on current_app_id()",
            )
        for policy in policies:
            yield from _policy_findings(table["name"], policy)


def _runtime_may_touch(conn: Conn, runtime: int, table_oid: int) -> bool:
    row = conn.execute(
        "SELECT has_table_privilege(%s, %s, 'SELECT, INSERT, UPDATE, DELETE') AS granted",
        [runtime, table_oid],
    ).fetchone()
    return bool(row and row["granted"])


def _policy_findings(table: str, policy: Row) -> Iterator[Finding]:
    where = f"{table} policy {policy['polname']}"
    for expr in (policy["using_expr"], policy["check_expr"]):
        if expr is None:
            continue
        if expr.strip("() ").lower() == "true":
            yield Finding("always_true_policy", where, f"expression is always true: {expr}")
        elif policy["polpermissive"] and not TENANT_ACCESSOR.search(expr):
            yield Finding(
                "policy_without_context",
                where,
                f"does not depend on the signed context: {expr}",
            )
        if len(CONTEXT_CALL.findall(expr)) > len(WRAPPED_CALL.findall(expr)):
            yield Finding(
                "unwrapped_context_call",
                where,
                "context function called per row; wrap it as (SELECT tenantry.current_…())",
            )


@check
def _declared_access(
    conn: Conn, roles: Roles, oids: dict[str, int], tables: list[Row]
) -> Iterator[Finding]:
    allowed = {
        "append_only": {"SELECT", "INSERT"},
        "read_only": {"SELECT"},
        "none": set(),
    }
    for table in tables:
        permitted = allowed.get(table["declared_access"])
        if permitted is None or roles.runtime not in oids:
            continue
        granted = {
            row["privilege"]
            for row in conn.execute(
                """
                SELECT p.privilege FROM unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE'])
                       AS p(privilege)
                 WHERE has_table_privilege(%s, %s, p.privilege)
                """,
                [roles.runtime, table["oid"]],
            )
        }
        for privilege in sorted(granted - permitted):
            yield Finding(
                "runtime_access_exceeds_declaration",
                table["name"],
                f"declared {table['declared_access']} but the runtime role has {privilege}",
            )


@check
def _keys_and_indexes(
    conn: Conn, roles: Roles, oids: dict[str, int], tables: list[Row]
) -> Iterator[Finding]:
    for table in tables:
        tenant = table["tenant_attnum"]
        if tenant is None:
            yield Finding("missing_tenant_column", table["name"], "has app_id but no tenant_id")
            continue
        indexes = conn.execute(
            """
            SELECT i.indexrelid::regclass::text AS name, i.indisunique AS is_unique,
                   i.indkey::int2[] AS keys
              FROM pg_index i WHERE i.indrelid = %s
            """,
            [table["oid"]],
        ).fetchall()
        for index in indexes:
            if index["is_unique"] and tenant not in index["keys"]:
                yield Finding(
                    "key_without_tenant",
                    f"{table['name']} index {index['name']}",
                    "unique key does not include tenant_id",
                )
        lead: list[int] = [tenant]
        if table["app_attnum"] is not None and table["declared_scope"] != "tenant":
            lead.append(table["app_attnum"])
        if not any(list(index["keys"][: len(lead)]) == lead for index in indexes):
            columns = ", ".join(["tenant_id", "app_id"][: len(lead)])
            yield Finding(
                "missing_tenant_index",
                table["name"],
                f"no index leading with ({columns})",
            )


@check
def _foreign_keys(
    conn: Conn, roles: Roles, oids: dict[str, int], tables: list[Row]
) -> Iterator[Finding]:
    by_oid = {t["oid"]: t for t in tables}
    for table in tables:
        rows = conn.execute(
            """
            SELECT conname, confrelid, conkey::int2[] AS keys, confkey::int2[] AS target_keys
              FROM pg_constraint WHERE contype = 'f' AND conrelid = %s
            """,
            [table["oid"]],
        ).fetchall()
        for fk in rows:
            target = by_oid.get(fk["confrelid"])
            if target is None or target["tenant_attnum"] is None:
                continue  # global catalog or the tenants root
            pairs = list(zip(fk["keys"], fk["target_keys"], strict=True))
            if (table["tenant_attnum"], target["tenant_attnum"]) not in pairs:
                yield Finding(
                    "single_column_foreign_key",
                    f"{table['name']} constraint {fk['conname']}",
                    f"references {target['name']} without matching tenant_id",
                )


@check
def _sequences(
    conn: Conn, roles: Roles, oids: dict[str, int], tables: list[Row]
) -> Iterator[Finding]:
    for table in tables:
        rows = conn.execute(
            """
            SELECT a.attname FROM pg_attribute a
             WHERE a.attrelid = %(t)s AND NOT a.attisdropped
               AND (a.attidentity <> ''
                    OR EXISTS (SELECT FROM pg_attrdef d
                                WHERE d.adrelid = a.attrelid AND d.adnum = a.attnum
                                  AND pg_get_expr(d.adbin, d.adrelid) ILIKE '%%nextval(%%'))
            UNION
            SELECT s.relname FROM pg_depend dep JOIN pg_class s ON s.oid = dep.objid
             WHERE dep.refobjid = %(t)s AND dep.classid = 'pg_class'::regclass
               AND s.relkind = 'S'
            """,
            {"t": table["oid"]},
        ).fetchall()
        for row in rows:
            yield Finding(
                "sequence_on_tenant_table",
                f"{table['name']}.{row['attname']}",
                "sequences leak row counts across tenants; use application-generated UUIDv7",
            )


@check
def _views(conn: Conn, roles: Roles, oids: dict[str, int], tables: list[Row]) -> Iterator[Finding]:
    if not tables:
        return
    rows = conn.execute(
        """
        SELECT DISTINCT format('%%I.%%I', n.nspname, v.relname) AS name, v.relkind,
               coalesce(v.reloptions, '{}') AS options
          FROM pg_rewrite r
          JOIN pg_class v ON v.oid = r.ev_class
          JOIN pg_namespace n ON n.oid = v.relnamespace
          JOIN pg_depend d ON d.objid = r.oid AND d.classid = 'pg_rewrite'::regclass
         WHERE d.refobjid = ANY(%s) AND v.relkind IN ('v', 'm') AND v.oid <> d.refobjid
        """,
        [[t["oid"] for t in tables]],
    ).fetchall()
    for view in rows:
        if view["relkind"] == "m":
            yield Finding(
                "materialized_view_over_tenant_table",
                view["name"],
                "materialized views do not apply row-level security",
            )
        elif not any(
            opt.lower() in {"security_invoker=true", "security_invoker=on", "security_invoker=1"}
            for opt in view["options"]
        ):
            yield Finding(
                "view_without_security_invoker",
                view["name"],
                "reads tenant tables with its owner's rights; set security_invoker = true",
            )


@check
def _role_attributes(
    conn: Conn, roles: Roles, oids: dict[str, int], tables: list[Row]
) -> Iterator[Finding]:
    for name, oid in oids.items():
        role = conn.execute(
            """
            SELECT rolsuper, rolbypassrls, rolcreaterole, rolcreatedb, rolreplication
              FROM pg_roles WHERE oid = %s
            """,
            [oid],
        ).fetchone()
        assert role is not None
        for attribute, on in role.items():
            if on:
                yield Finding("role_attribute", name, f"has {attribute.removeprefix('rol')}")
        for membership in conn.execute(
            "SELECT roleid::regrole::text AS granted FROM pg_auth_members WHERE member = %s",
            [oid],
        ):
            yield Finding("role_membership", name, f"is a member of {membership['granted']}")
        owned = conn.execute(
            f"""
            SELECT format('%%I.%%I', n.nspname, c.relname) AS obj FROM pg_class c
              JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE c.relowner = %(r)s AND {USER_SCHEMAS}
            UNION ALL SELECT p.oid::regprocedure::text FROM pg_proc p
              JOIN pg_namespace n ON n.oid = p.pronamespace
             WHERE p.proowner = %(r)s AND {USER_SCHEMAS}
            UNION ALL SELECT nspname FROM pg_namespace WHERE nspowner = %(r)s
            """,
            {"r": oid},
        ).fetchall()
        for row in owned:
            yield Finding("role_owns_objects", name, f"owns {row['obj']}")


@check
def _grants(conn: Conn, roles: Roles, oids: dict[str, int], tables: list[Row]) -> Iterator[Finding]:
    for name in oids:
        rows = conn.execute(
            f"""
            SELECT format('%%I.%%I', n.nspname, c.relname) AS obj, p.privilege
              FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             CROSS JOIN unnest(ARRAY['TRUNCATE', 'REFERENCES', 'TRIGGER']) AS p(privilege)
             WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND {USER_SCHEMAS}
               AND has_table_privilege(%(role)s, c.oid, p.privilege)
            UNION ALL
            SELECT n.nspname, 'CREATE' FROM pg_namespace n
             WHERE {USER_SCHEMAS} AND has_schema_privilege(%(role)s, n.oid, 'CREATE')
            UNION ALL
            SELECT 'database ' || current_database(), p.privilege
              FROM unnest(ARRAY['CREATE', 'TEMPORARY']) AS p(privilege)
             WHERE has_database_privilege(%(role)s, current_database(), p.privilege)
            """,
            {"role": name},
        ).fetchall()
        for row in rows:
            yield Finding("excess_privilege", name, f"has {row['privilege']} on {row['obj']}")
    runtime = roles.runtime
    if runtime not in oids:
        return
    writable = conn.execute(
        f"""
        SELECT format('%%I.%%I', n.nspname, c.relname) AS obj
          FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE c.relkind IN ('r', 'p', 'v', 'f') AND {USER_SCHEMAS} AND NOT c.relrowsecurity
           AND (has_table_privilege(%(role)s, c.oid, 'INSERT')
                OR has_table_privilege(%(role)s, c.oid, 'UPDATE')
                OR has_table_privilege(%(role)s, c.oid, 'DELETE'))
        """,
        {"role": runtime},
    ).fetchall()
    for row in writable:
        yield Finding(
            "runtime_writes_unprotected_table",
            runtime,
            f"may write {row['obj']}, which has no row-level security",
        )
    private = conn.execute(
        """
        SELECT n.nspname FROM pg_namespace n
         WHERE n.nspname = 'tenantry_private' AND has_schema_privilege(%s, n.oid, 'USAGE')
        """,
        [runtime],
    ).fetchall()
    for row in private:
        yield Finding("runtime_reads_keys", runtime, f"has USAGE on schema {row['nspname']}")


@check
def _activity_visibility(
    conn: Conn, roles: Roles, oids: dict[str, int], tables: list[Row]
) -> Iterator[Finding]:
    oid = oids.get(roles.runtime)
    if oid is None:
        return
    hidden = conn.execute(
        """
        SELECT 1 FROM pg_db_role_setting s
         WHERE s.setrole = %s
           AND s.setdatabase IN
               (0, (SELECT oid FROM pg_database WHERE datname = current_database()))
           AND 'track_activities=off' = ANY(s.setconfig)
        """,
        [oid],
    ).fetchone()
    if not hidden:
        yield Finding(
            "runtime_sees_activity",
            roles.runtime,
            "track_activities is not off: runtime sessions can read each other's SQL text",
        )


@check
def _security_definer_functions(
    conn: Conn, roles: Roles, oids: dict[str, int], tables: list[Row]
) -> Iterator[Finding]:
    rows = conn.execute(
        f"""
        SELECT p.oid::regprocedure::text AS name,
               coalesce(array_to_string(p.proconfig, ','), '') ~ 'search_path=' AS pinned,
               (p.proacl IS NULL OR EXISTS (
                   SELECT FROM aclexplode(p.proacl) a
                    WHERE a.grantee = 0 AND a.privilege_type = 'EXECUTE')) AS public_execute
          FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
         WHERE p.prosecdef AND {USER_SCHEMAS}
        """
    ).fetchall()
    for fn in rows:
        if not fn["pinned"]:
            yield Finding(
                "security_definer_search_path",
                fn["name"],
                "SECURITY DEFINER without search_path",
            )
        if fn["public_execute"]:
            yield Finding(
                "security_definer_public", fn["name"], "SECURITY DEFINER executable by PUBLIC"
            )
