"""Row-level security on every tenant table, and the shape of its policies."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from tenantry.isolation.audit.catalog import Catalog, Finding, Row, granted_commands
from tenantry.isolation.context_sql import ACCESSORS

if TYPE_CHECKING:
    from collections.abc import Iterator

_ACCESSOR_CALL = "|".join(ACCESSORS)
# The signed context reaches policies through the `tenantry.current_scope` view (or, in
# hand-written SQL, `tenantry.context_scope()` and the one-claim accessors); each reference
# verifies the context once and must sit in a sub-select, evaluated once per statement.
CONTEXT_CALL = re.compile(rf"\bcurrent_scope\b|\b(?:context_scope|{_ACCESSOR_CALL})\(\)")
WRAPPED_CALL = re.compile(
    r"FROM\s+(?:tenantry\.)?(?:context_scope\(\)|current_scope\b)"
    rf"|\(\s*SELECT\s+(?:tenantry\.)?(?:{_ACCESSOR_CALL})\(\)\s+AS\s+\w+\s*\)",
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
# Which policy expressions guard a command: USING filters the rows it reads, WITH CHECK the rows
# it writes; UPDATE needs both.
_GUARDS = {"SELECT": ("using_expr",), "DELETE": ("using_expr",), "INSERT": ("check_expr",)}
_BOTH_GUARDS = ("using_expr", "check_expr")


def row_level_security(catalog: Catalog) -> Iterator[Finding]:
    for table in catalog.tables:
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


def residency_guards(catalog: Catalog) -> Iterator[Finding]:
    """Every declared tenant table carries the residency guard (revision 0024), so a tenant's
    rows are never written in a database it has left or not yet reached."""
    # Statement triggers for INSERT (4), DELETE (8) and UPDATE (16), all enabled ALWAYS.
    guarded = {
        row["oid"]
        for row in catalog.rows(
            "SELECT t.tgrelid AS oid FROM pg_trigger t"
            " WHERE t.tgfoid = to_regprocedure('tenantry_private.require_residency()')"
            " AND t.tgenabled = 'A' GROUP BY t.tgrelid HAVING bit_or(t.tgtype) & 28 = 28"
        )
    }
    if not guarded and not catalog.rows(
        "SELECT 1 FROM pg_proc WHERE oid = to_regprocedure('tenantry_private.require_residency()')"
    ):
        return  # a database before revision 0024
    for table in catalog.tables:
        if table["oid"] in catalog.citus_tables:
            continue  # no residency guard on Citus: tenants move there as Citus shards
        if table["declared_scope"] and not table["partition_of"] and table["oid"] not in guarded:
            yield Finding(
                "residency_unguarded",
                table["name"],
                "no residency guard enabled ALWAYS: a moved tenant's rows could be written here",
            )


def partitions(catalog: Catalog) -> Iterator[Finding]:
    """A partition is reached only through its parent, whose policies guard it: a served role
    with a grant on the partition itself would read or write around them."""
    for table in catalog.tables:
        if table["partition_of"] is None:
            continue
        for role, oid in catalog.role_oids.items():
            for command in granted_commands(catalog, oid, table["oid"]):
                yield Finding(
                    "partition_reachable",
                    table["name"],
                    f"{role} has {command} on a partition of {table['partition_of']}; "
                    "query the parent",
                )


def policies(catalog: Catalog) -> Iterator[Finding]:
    roles = catalog.roles
    for table in catalog.tables:
        table_policies = _table_policies(catalog, table["oid"])
        scope_key = _scope_key_expression(catalog, table["oid"])
        for role in (roles.runtime, roles.platform):
            oid = catalog.role_oids.get(role)
            if oid is None:
                continue
            # The platform role spans tenants by design; only the runtime role is confined.
            confined = role == roles.runtime
            for command in granted_commands(catalog, oid, table["oid"]):
                yield from _command_findings(
                    table,
                    role,
                    oid,
                    command,
                    table_policies,
                    confined=confined,
                    scope_key=scope_key,
                )
        for policy in table_policies:
            yield from _policy_findings(
                table["name"], policy, citus=table["oid"] in catalog.citus_tables
            )


def _table_policies(catalog: Catalog, table_oid: int) -> list[Row]:
    return catalog.rows(
        """
        SELECT polname, polcmd, polpermissive, polroles,
               pg_get_expr(polqual, polrelid) AS using_expr,
               pg_get_expr(polwithcheck, polrelid) AS check_expr
          FROM pg_policy WHERE polrelid = %s ORDER BY polname
        """,
        [table_oid],
    )


def _scope_key_expression(catalog: Catalog, table_oid: int) -> str | None:
    rows = catalog.rows(
        """
        SELECT pg_get_expr(d.adbin, d.adrelid) AS expr
          FROM pg_attribute a JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
         WHERE a.attrelid = %s AND a.attname = 'scope_key' AND a.attgenerated = 's'
        """,
        [table_oid],
    )
    return rows[0]["expr"] if rows else None


def _applies_to(policy: Row, role_oid: int) -> bool:
    return 0 in policy["polroles"] or role_oid in policy["polroles"]


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
    for policy in applicable:
        for part in _GUARDS.get(command, _BOTH_GUARDS):
            expr = policy[part]
            if expr is None:
                yield Finding(
                    "missing_policy", where, f"policy {policy['polname']} has no {part[:-5]}"
                )
                continue
            if confined and table["app_attnum"] is not None:
                yield from _app_findings(
                    table, f"{where} policy {policy['polname']}", expr, scope_key
                )


def _app_findings(table: Row, place: str, expr: str, scope_key: str | None) -> Iterator[Finding]:
    declared_tenant = table["declared_scope"] == "tenant"
    if declared_tenant and not table["app_nullable"]:
        return  # the app is a key here (e.g. which apps a tenant has), not a scope
    if not APP_ACCESSOR.search(expr):
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
            place,
            "scope_key is not generated from the row's tenant_id and app_id",
        )


def _policy_findings(table: str, policy: Row, *, citus: bool = False) -> Iterator[Finding]:
    """`citus`: the Citus form calls the claim functions directly (Citus refuses sub-queries
    in policies), so calls are not counted there."""
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
        calls = 0 if citus else len(CONTEXT_CALL.findall(expr))
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
