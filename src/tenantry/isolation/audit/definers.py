"""Views and functions that run with their owner's rights, where policies would not apply."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tenantry.isolation.audit.catalog import USER_SCHEMAS, Catalog, Finding

if TYPE_CHECKING:
    from collections.abc import Iterator


def views(catalog: Catalog) -> Iterator[Finding]:
    if not catalog.tables:
        return
    rows = catalog.rows(
        """
        SELECT DISTINCT format('%%I.%%I', n.nspname, v.relname) AS name, v.relkind,
               coalesce(v.reloptions, '{}') AS options
          FROM pg_rewrite r
          JOIN pg_class v ON v.oid = r.ev_class
          JOIN pg_namespace n ON n.oid = v.relnamespace
          JOIN pg_depend d ON d.objid = r.oid AND d.classid = 'pg_rewrite'::regclass
         WHERE d.refobjid = ANY(%s) AND v.relkind IN ('v', 'm') AND v.oid <> d.refobjid
        """,
        [catalog.table_oids],
    )
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


def definer_views(catalog: Catalog) -> Iterator[Finding]:
    """A view that runs with its owner's rights (the context verifier) and that a served role
    may read must be a security barrier, or a caller's function in a WHERE clause could run
    on the rows the view filters out."""
    rows = catalog.rows(
        f"""
        SELECT format('%%I.%%I', n.nspname, c.relname) AS name,
               coalesce(c.reloptions, '{{}}') AS options
          FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE c.relkind = 'v' AND {USER_SCHEMAS}
           AND NOT EXISTS (SELECT FROM pg_depend d  -- an extension's own (Citus's)
                            WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                              AND d.deptype = 'e')
           AND EXISTS (SELECT FROM unnest(%s::oid[]) r(oid)
                        WHERE has_table_privilege(r.oid, c.oid, 'SELECT'))
        """,
        [list(catalog.role_oids.values())],
    )
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


def security_definer_functions(catalog: Catalog) -> Iterator[Finding]:
    rows = catalog.rows(
        f"""
        SELECT p.oid::regprocedure::text AS name,
               coalesce(array_to_string(p.proconfig, ','), '') ~ 'search_path=' AS pinned,
               (p.proacl IS NULL OR EXISTS (
                   SELECT FROM aclexplode(p.proacl) a
                    WHERE a.grantee = 0 AND a.privilege_type = 'EXECUTE')) AS public_execute
          FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
         WHERE p.prosecdef AND {USER_SCHEMAS}
        """
    )
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
