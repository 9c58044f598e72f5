"""What the served roles are, own and may do beyond their tenant tables' policies."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tenantry.isolation.audit.catalog import USER_SCHEMAS, Catalog, Finding, granted_commands
from tenantry.isolation.ddl import RUNTIME_COMMANDS

if TYPE_CHECKING:
    from collections.abc import Iterator


def declared_access(catalog: Catalog) -> Iterator[Finding]:
    runtime = catalog.runtime_oid
    if runtime is None:
        return
    for table in catalog.tables:
        # NULL for a table made by hand, which `undeclared_table` reports.
        permitted = RUNTIME_COMMANDS.get(table["declared_access"])
        if permitted is None:
            continue
        granted = set(granted_commands(catalog, runtime, table["oid"]))
        for privilege in sorted(granted - set(permitted)):
            yield Finding(
                "runtime_access_exceeds_declaration",
                table["name"],
                f"declared {table['declared_access']} but the runtime role has {privilege}",
            )


def role_attributes(catalog: Catalog) -> Iterator[Finding]:
    for name, oid in catalog.role_oids.items():
        role = catalog.rows(
            """
            SELECT rolsuper, rolbypassrls, rolcreaterole, rolcreatedb, rolreplication
              FROM pg_roles WHERE oid = %s
            """,
            [oid],
        )[0]
        for attribute, on in role.items():
            if on:
                yield Finding("role_attribute", name, f"has {attribute.removeprefix('rol')}")
        for membership in catalog.rows(
            "SELECT roleid::regrole::text AS granted FROM pg_auth_members WHERE member = %s",
            [oid],
        ):
            yield Finding("role_membership", name, f"is a member of {membership['granted']}")
        owned = catalog.rows(
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
        )
        for row in owned:
            yield Finding("role_owns_objects", name, f"owns {row['obj']}")


def excess_privileges(catalog: Catalog) -> Iterator[Finding]:
    for name in catalog.role_oids:
        rows = catalog.rows(
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
        )
        for row in rows:
            yield Finding("excess_privilege", name, f"has {row['privilege']} on {row['obj']}")


def runtime_reach(catalog: Catalog) -> Iterator[Finding]:
    """Outside the tenant tables, the runtime role writes nothing unprotected and never reaches
    the signing keys."""
    runtime = catalog.roles.runtime
    if catalog.runtime_oid is None:
        return
    writable = catalog.rows(
        f"""
        SELECT format('%%I.%%I', n.nspname, c.relname) AS obj
          FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE c.relkind IN ('r', 'p', 'v', 'f') AND {USER_SCHEMAS} AND NOT c.relrowsecurity
           AND (has_table_privilege(%(role)s, c.oid, 'INSERT')
                OR has_table_privilege(%(role)s, c.oid, 'UPDATE')
                OR has_table_privilege(%(role)s, c.oid, 'DELETE'))
        """,
        {"role": runtime},
    )
    for row in writable:
        yield Finding(
            "runtime_writes_unprotected_table",
            runtime,
            f"may write {row['obj']}, which has no row-level security",
        )
    private = catalog.rows(
        """
        SELECT n.nspname FROM pg_namespace n
         WHERE n.nspname = 'tenantry_private' AND has_schema_privilege(%s, n.oid, 'USAGE')
        """,
        [runtime],
    )
    for row in private:
        yield Finding("runtime_reads_keys", runtime, f"has USAGE on schema {row['nspname']}")


def activity_visibility(catalog: Catalog) -> Iterator[Finding]:
    oid = catalog.runtime_oid
    if oid is None:
        return
    hidden = catalog.rows(
        """
        SELECT 1 FROM pg_db_role_setting s
         WHERE s.setrole = %s
           AND s.setdatabase IN
               (0, (SELECT oid FROM pg_database WHERE datname = current_database()))
           AND 'track_activities=off' = ANY(s.setconfig)
        """,
        [oid],
    )
    if not hidden:
        yield Finding(
            "runtime_sees_activity",
            catalog.roles.runtime,
            "track_activities is not off: runtime sessions can read each other's SQL text",
        )
