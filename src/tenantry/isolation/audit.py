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
# The signed context reaches policies through the `tenantry.current_scope` view (or, in
# hand-written SQL, `tenantry.context_scope()` and the one-claim accessors); each reference
# verifies the context once and must sit in a sub-select, evaluated once per statement.
CONTEXT_CALL = re.compile(
    r"\bcurrent_scope\b"
    r"|\b(?:context_scope|current_(?:tenant_id|app_id|app_user_id|cross_app|is_platform))\(\)"
)
WRAPPED_CALL = re.compile(
    r"FROM\s+(?:tenantry\.)?(?:context_scope\(\)|current_scope\b)"
    r"|\(\s*SELECT\s+(?:tenantry\.)?current_(?:tenant_id|app_id|app_user_id|cross_app|is_platform)"
    r"\(\)\s+AS\s+\w+\s*\)",
    re.IGNORECASE,
)
TENANT_ACCESSOR = re.compile(
    r"\bs\.(?:tenant_id|platform|readable_scope_keys)\b|\bcurrent_(?:tenant_id|is_platform)\(\)"
)
APP_ACCESSOR = re.compile(r"\bs\.(?:app_id|readable_scope_keys)\b|\bcurrent_app_id\(\)")
# A scope key must be built from the row's own tenant and app for `readable_scope_keys` to mean
# anything.
SCOPE_KEY = re.compile(r"uuid_send\(tenant_id\).*uuid_send\(app_id\)", re.DOTALL)
COMMANDS = {"SELECT": "r", "INSERT": "a", "UPDATE": "w", "DELETE": "d"}
FUNCTION_CALL = re.compile(r"([a-z_][a-z0-9_]*)\(")


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
               a.attnum IS NOT NULL AND NOT a.attnotnull AS app_nullable,
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
    for table in tables:
        policies = _policies(conn, table["oid"])
        scope_key = _scope_key_expression(conn, table["oid"])
        for role in (roles.runtime, roles.platform):
            oid = oids.get(role)
            if oid is None:
                continue
            # The platform role spans tenants by design; only the runtime role is confined.
            confined = role == roles.runtime
            for command in _granted_commands(conn, oid, table["oid"]):
                yield from _command_findings(
                    table, role, oid, command, policies, confined=confined, scope_key=scope_key
                )
        for policy in policies:
            yield from _policy_findings(table["name"], policy)


def _granted_commands(conn: Conn, role: int, table_oid: int) -> list[str]:
    return [
        row["privilege"]
        for row in conn.execute(
            """
            SELECT p.privilege FROM unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE'])
                   WITH ORDINALITY AS p(privilege, n)
             WHERE has_table_privilege(%s, %s, p.privilege) ORDER BY n
            """,
            [role, table_oid],
        )
    ]


def _scope_key_expression(conn: Conn, table_oid: int) -> str | None:
    row = conn.execute(
        """
        SELECT pg_get_expr(d.adbin, d.adrelid) AS expr
          FROM pg_attribute a JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
         WHERE a.attrelid = %s AND a.attname = 'scope_key' AND a.attgenerated = 's'
        """,
        [table_oid],
    ).fetchone()
    return row["expr"] if row else None


def _command_findings(
    table: Row,
    role: str,
    oid: int,
    command: str,
    policies: list[Row],
    *,
    confined: bool,
    scope_key: str | None,
) -> Iterator[Finding]:
    """Exactly one permissive policy guards each command a role may run; a `confined` role's
    policy also keeps rows to the context's app where the table has one."""
    where = f"{table['name']} {command} for {role}"
    applicable = [
        p
        for p in policies
        if p["polpermissive"] and _applies_to(p, oid) and p["polcmd"] in ("*", COMMANDS[command])
    ]
    if not applicable:
        yield Finding("missing_policy", where, "no permissive policy: the role sees nothing")
        return
    if len(applicable) > 1:
        names = ", ".join(p["polname"] for p in applicable)
        yield Finding(
            "multiple_permissive_policies",
            where,
            f"permissive policies are OR'ed, which keeps their predicates out of index "
            f"conditions: {names}",
        )
    parts = {"SELECT": ("using_expr",), "DELETE": ("using_expr",), "INSERT": ("check_expr",)}
    for policy in applicable:
        for part in parts.get(command, ("using_expr", "check_expr")):
            expr = policy[part]
            if expr is None:
                yield Finding(
                    "missing_policy", where, f"policy {policy['polname']} has no {part[:-5]}"
                )
                continue
            if confined and table["app_attnum"] is not None:
                yield from _app_findings(table, where, policy, expr, scope_key)


def _app_findings(
    table: Row, where: str, policy: Row, expr: str, scope_key: str | None
) -> Iterator[Finding]:
    declared_tenant = table["declared_scope"] == "tenant"
    if declared_tenant and not table["app_nullable"]:
        return  # the app is a key here (e.g. which apps a tenant has), not a scope
    if not APP_ACCESSOR.search(expr):
        place = f"{where} policy {policy['polname']}"
        if table["app_nullable"]:
            yield Finding(
                "app_column_ignored",
                place,
                "rows may carry an app_id that the runtime policy ignores: declare the table "
                "tenant_or_app",
            )
        else:
            yield Finding(
                "missing_app_filter", place, "app-scoped rows, but the policy ignores the app"
            )
    elif "scope_key" in expr and not (scope_key and SCOPE_KEY.search(scope_key)):
        yield Finding(
            "missing_app_filter",
            f"{where} policy {policy['polname']}",
            "scope_key is not generated from the row's tenant_id and app_id",
        )


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
        calls = len(CONTEXT_CALL.findall(expr))
        if calls > len(WRAPPED_CALL.findall(expr)):
            yield Finding(
                "unwrapped_context_call",
                where,
                "context function called per row; call it in a sub-select: "
                "(SELECT s.tenant_id FROM tenantry.current_scope s)",
            )
        elif calls > 1:
            yield Finding(
                "repeated_verification",
                where,
                f"verifies the signed context {calls} times per statement; read every claim "
                "from one sub-select of tenantry.current_scope",
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
        granted = set(_granted_commands(conn, oids[roles.runtime], table["oid"]))
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
def _leaky_expression_indexes(
    conn: Conn, roles: Roles, oids: dict[str, int], tables: list[Row]
) -> Iterator[Finding]:
    """Under row-level security the planner evaluates no function that is not LEAKPROOF before
    the policy, so an index on such an expression (`lower(email)`) is never used for a lookup:
    the plan reads the whole tenant. Store the value in a generated column instead."""
    for table in (t for t in tables if t["rls"]):
        rows = conn.execute(
            """
            SELECT i.indexrelid::regclass::text AS name, pg_get_indexdef(i.indexrelid) AS def
              FROM pg_index i WHERE i.indrelid = %s AND i.indexprs IS NOT NULL
            """,
            [table["oid"]],
        ).fetchall()
        for index in rows:
            called = set(FUNCTION_CALL.findall(index["def"].split(" USING ", 1)[-1]))
            leaky = conn.execute(
                """
                SELECT proname FROM pg_proc WHERE proname = ANY(%s)
                 GROUP BY proname HAVING NOT bool_or(proleakproof) ORDER BY 1
                """,
                [sorted(called)],
            ).fetchall()
            if leaky:
                names = ", ".join(row["proname"] for row in leaky)
                yield Finding(
                    "leaky_expression_index",
                    f"{table['name']} index {index['name']}",
                    f"uses {names}, which is not leakproof: unusable under row-level security; "
                    "index a stored generated column instead",
                )


# Foreign keys that include tenant_id with no index leading with exactly their columns (in any
# order). Shared with the migration that added the missing ones, so both mean the same thing.
UNINDEXED_FOREIGN_KEYS = """
    SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname) AS table_name, f.conname,
           (SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY k.n)
              FROM unnest(f.conkey) WITH ORDINALITY AS k(attnum, n)
              JOIN pg_attribute a ON a.attrelid = f.conrelid AND a.attnum = k.attnum) AS columns
      FROM pg_constraint f
      JOIN pg_class c ON c.oid = f.conrelid
      JOIN pg_namespace n ON n.oid = c.relnamespace
      JOIN pg_attribute t ON t.attrelid = f.conrelid AND t.attname = 'tenant_id'
     WHERE f.contype = 'f' AND t.attnum = ANY (f.conkey)
       AND n.nspname NOT IN ('pg_catalog', 'information_schema')
       AND NOT EXISTS (
           SELECT FROM pg_index i
            WHERE i.indrelid = f.conrelid
              AND (i.indkey::int2[])[0:cardinality(f.conkey) - 1] @> f.conkey
              AND (i.indkey::int2[])[0:cardinality(f.conkey) - 1] <@ f.conkey)
     ORDER BY 1, 2
"""


@check
def _unindexed_foreign_keys(
    conn: Conn, roles: Roles, oids: dict[str, int], tables: list[Row]
) -> Iterator[Finding]:
    audited = {table["name"] for table in tables}
    for fk in conn.execute(UNINDEXED_FOREIGN_KEYS).fetchall():
        if fk["table_name"] in audited:
            yield Finding(
                "unindexed_foreign_key",
                f"{fk['table_name']} constraint {fk['conname']}",
                f"no index leads with ({fk['columns']}): deleting a referenced row scans",
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
        elif not _enabled(view["options"], "security_invoker"):
            yield Finding(
                "view_without_security_invoker",
                view["name"],
                "reads tenant tables with its owner's rights; set security_invoker = true",
            )


@check
def _definer_views(
    conn: Conn, roles: Roles, oids: dict[str, int], tables: list[Row]
) -> Iterator[Finding]:
    """A view that runs with its owner's rights (the context verifier) and that a served role
    may read must be a security barrier, or a caller's function in a WHERE clause could run
    on the rows the view filters out."""
    rows = conn.execute(
        f"""
        SELECT format('%%I.%%I', n.nspname, c.relname) AS name,
               coalesce(c.reloptions, '{{}}') AS options
          FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE c.relkind = 'v' AND {USER_SCHEMAS}
           AND EXISTS (SELECT FROM unnest(%s::oid[]) r(oid)
                        WHERE has_table_privilege(r.oid, c.oid, 'SELECT'))
        """,
        [list(oids.values())],
    ).fetchall()
    for view in rows:
        if _enabled(view["options"], "security_invoker", "security_barrier"):
            continue
        yield Finding(
            "definer_view_without_barrier",
            view["name"],
            "runs with its owner's rights without security_barrier",
        )


def _enabled(options: list[str], *names: str) -> bool:
    """Whether any of the boolean relation options `names` is on."""
    on = {f"{name}={value}" for name in names for value in ("true", "on", "1")}
    return any(option.lower() in on for option in options)


@check
def _scope_key_statistics(
    conn: Conn, roles: Roles, oids: dict[str, int], tables: list[Row]
) -> Iterator[Finding]:
    """`scope_key` follows from (tenant_id, app_id); without statistics that say so, the
    planner takes the policy's `scope_key = ANY (…)` for a 99 % cut and picks sorts over index
    walks for keyset pages."""
    rows = conn.execute(
        """
        SELECT a.attrelid::regclass::text AS name FROM pg_attribute a
         WHERE a.attrelid = ANY(%s) AND a.attname = 'scope_key' AND NOT a.attisdropped
           AND NOT EXISTS (
               SELECT FROM pg_statistic_ext s
                WHERE s.stxrelid = a.attrelid AND a.attnum = ANY(s.stxkeys)
                  AND 'f' = ANY(s.stxkind))
        """,
        [[t["oid"] for t in tables]],
    ).fetchall()
    for row in rows:
        yield Finding(
            "scope_key_without_statistics",
            row["name"],
            "no dependency statistics on (tenant_id, app_id, scope_key)",
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
