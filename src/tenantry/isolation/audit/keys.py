"""Keys, indexes, sequences and statistics of tenant tables."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from tenantry.isolation.audit.catalog import Catalog, Finding

if TYPE_CHECKING:
    from collections.abc import Iterator

FUNCTION_CALL = re.compile(r"([a-z_][a-z0-9_]*)\(")

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


def keys_and_indexes(catalog: Catalog) -> Iterator[Finding]:
    for table in catalog.tables:
        tenant = table["tenant_attnum"]
        if tenant is None:
            yield Finding("missing_tenant_column", table["name"], "has app_id but no tenant_id")
            continue
        indexes = catalog.rows(
            """
            SELECT i.indexrelid::regclass::text AS name, i.indisunique AS is_unique,
                   i.indkey::int2[] AS keys
              FROM pg_index i WHERE i.indrelid = %s
            """,
            [table["oid"]],
        )
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


def foreign_keys(catalog: Catalog) -> Iterator[Finding]:
    by_oid = {t["oid"]: t for t in catalog.tables}
    for table in catalog.tables:
        rows = catalog.rows(
            """
            SELECT conname, confrelid, conkey::int2[] AS keys, confkey::int2[] AS target_keys
              FROM pg_constraint WHERE contype = 'f' AND conrelid = %s
            """,
            [table["oid"]],
        )
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


def leaky_expression_indexes(catalog: Catalog) -> Iterator[Finding]:
    """Under row-level security the planner evaluates no function that is not LEAKPROOF before
    the policy, so an index on such an expression (`lower(email)`) is never used for a lookup:
    the plan reads the whole tenant. Store the value in a generated column instead."""
    for table in (t for t in catalog.tables if t["rls"]):
        rows = catalog.rows(
            """
            SELECT i.indexrelid::regclass::text AS name, pg_get_indexdef(i.indexrelid) AS def
              FROM pg_index i WHERE i.indrelid = %s AND i.indexprs IS NOT NULL
            """,
            [table["oid"]],
        )
        for index in rows:
            called = set(FUNCTION_CALL.findall(index["def"].split(" USING ", 1)[-1]))
            leaky = catalog.rows(
                """
                SELECT proname FROM pg_proc WHERE proname = ANY(%s)
                 GROUP BY proname HAVING NOT bool_or(proleakproof) ORDER BY 1
                """,
                [sorted(called)],
            )
            if leaky:
                names = ", ".join(row["proname"] for row in leaky)
                yield Finding(
                    "leaky_expression_index",
                    f"{table['name']} index {index['name']}",
                    f"uses {names}, which is not leakproof: unusable under row-level security; "
                    "index a stored generated column instead",
                )


def unindexed_foreign_keys(catalog: Catalog) -> Iterator[Finding]:
    audited = {table["name"] for table in catalog.tables}
    for fk in catalog.rows(UNINDEXED_FOREIGN_KEYS):
        if fk["table_name"] in audited:
            yield Finding(
                "unindexed_foreign_key",
                f"{fk['table_name']} constraint {fk['conname']}",
                f"no index leads with ({fk['columns']}): deleting a referenced row scans",
            )


def sequences(catalog: Catalog) -> Iterator[Finding]:
    for table in catalog.tables:
        rows = catalog.rows(
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
        )
        for row in rows:
            yield Finding(
                "sequence_on_tenant_table",
                f"{table['name']}.{row['attname']}",
                "sequences leak row counts across tenants; use application-generated UUIDv7",
            )


def scope_key_statistics(catalog: Catalog) -> Iterator[Finding]:
    """`scope_key` follows from (tenant_id, app_id); without statistics that say so, the
    planner takes the policy's `scope_key = ANY (…)` for a 99 % cut and picks sorts over index
    walks for keyset pages."""
    rows = catalog.rows(
        """
        SELECT a.attrelid::regclass::text AS name FROM pg_attribute a
         WHERE a.attrelid = ANY(%s) AND a.attname = 'scope_key' AND NOT a.attisdropped
           AND NOT EXISTS (
               SELECT FROM pg_statistic_ext s
                WHERE s.stxrelid = a.attrelid AND a.attnum = ANY(s.stxkeys)
                  AND 'f' = ANY(s.stxkind))
        """,
        [catalog.table_oids],
    )
    for row in rows:
        yield Finding(
            "scope_key_without_statistics",
            row["name"],
            "no dependency statistics on (tenant_id, app_id, scope_key)",
        )
