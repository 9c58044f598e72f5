"""SQL of the Citus feature, run as the coordinator's superuser (`tenantry citus …`)."""

from __future__ import annotations

from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from psycopg import sql

if TYPE_CHECKING:
    from collections.abc import Iterator
    from uuid import UUID

    import psycopg

    from tenantry.isolation.roles import Roles


# Migration bookkeeping and the key table stay each node's own.
NODE_LOCAL = frozenset(
    {
        "tenantry_private.alembic_version",
        "tenantry_private.alembic_version_workloads",
        "tenantry_private.migration_log",
        "tenantry_private.context_keys",
    }
)

# Every table Tenantry's owner owns: a tenant table (a `tenant_id` leading its primary key) is
# distributed by tenant; every other one is a reference table, copied to every node. The
# Citus kind, where the table already is one.
_TABLES = """
SELECT format('%%I.%%I', n.nspname, c.relname) AS name,
       coalesce((SELECT a.attname = 'tenant_id'
                   FROM pg_index i JOIN pg_attribute a
                     ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
                  WHERE i.indrelid = c.oid AND i.indisprimary), false) AS by_tenant,
       (SELECT p.partmethod FROM pg_dist_partition p WHERE p.logicalrelid = c.oid) AS citus
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relowner = (SELECT oid FROM pg_roles WHERE rolname = %s)
   AND c.relkind IN ('r', 'p') AND NOT c.relispartition
 ORDER BY 1
"""


def run(conn: psycopg.Connection[Any], statements: list[str]) -> None:
    """Statements the isolation engine generated (`tenantry.isolation.citus_sql`)."""
    for statement in statements:
        conn.execute(statement)


@contextmanager
def as_owner(conn: psycopg.Connection[Any], roles: Roles) -> Iterator[None]:
    """What is created in the block belongs to the schema owner, as the migrations' objects."""
    conn.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(roles.owner)))
    yield
    conn.execute("RESET ROLE")


def converting(conn: psycopg.Connection[Any]) -> None:
    """Settings of the transaction that changes tables into Citus ones."""
    conn.execute("SET LOCAL citus.multi_shard_modify_mode = 'sequential'")
    conn.execute("SET LOCAL citus.enable_unsafe_triggers = on")


def copy_keys(conn: psycopg.Connection[Any]) -> None:
    """Fire the key table's copy to the workers now."""
    conn.execute("UPDATE tenantry_private.context_keys SET kid = kid")


def citus_version(conn: psycopg.Connection[Any]) -> str | None:
    row = conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'citus'").fetchone()
    return None if row is None else str(row[0])


def workers(conn: psycopg.Connection[Any]) -> list[tuple[str, int]]:
    rows = conn.execute("SELECT * FROM citus_get_active_worker_nodes() ORDER BY 1, 2")
    return [(str(host), int(port)) for host, port in rows.fetchall()]


def tables(conn: psycopg.Connection[Any], roles: Roles) -> list[tuple[str, bool, str | None]]:
    rows = conn.execute(_TABLES, [roles.owner]).fetchall()
    return [(str(name), bool(by_tenant), kind) for name, by_tenant, kind in rows]


def on_workers(conn: psycopg.Connection[Any], statements: list[str]) -> None:
    """The same, on the workers only."""
    _run(conn, "run_command_on_workers", statements)


def on_every_node(conn: psycopg.Connection[Any], statements: list[str]) -> None:
    """The statements in one transaction per node, the coordinator's too, outside the
    caller's; the first failure raises with the node's error."""
    _run(conn, "run_command_on_all_nodes", statements)


def _run(conn: psycopg.Connection[Any], runner: str, statements: list[str]) -> None:
    # One DO block: Citus reports only the first statement's result of a longer command, so
    # an error after it would pass unseen.
    body = ";\n".join(statements)
    command = f"DO $tenantry_citus$ BEGIN\n{body};\nEND $tenantry_citus$"
    query = sql.SQL("SELECT success, result FROM {}(%s)").format(sql.Identifier(runner))
    for ok, result in conn.execute(query, [command]).fetchall():
        if not ok:
            raise RuntimeError(f"a Citus node refused: {result}")


def policies(
    conn: psycopg.Connection[Any], names: list[str]
) -> list[tuple[str, str, str | None, str | None]]:
    """(table, policy, USING, WITH CHECK) of each policy on the named tables."""
    return [
        (str(table), str(name), using, check)
        for table, name, using, check in conn.execute(
            "SELECT format('%%I.%%I', n.nspname, c.relname), p.polname,"
            " pg_get_expr(p.polqual, p.polrelid), pg_get_expr(p.polwithcheck, p.polrelid)"
            " FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid"
            " JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE format('%%I.%%I', n.nspname, c.relname) = ANY(%s) ORDER BY 1, 2",
            [names],
        ).fetchall()
    ]


def alter_policy(
    conn: psycopg.Connection[Any], table: str, name: str, using: str | None, check: str | None
) -> None:
    clauses = [sql.SQL(f"USING ({using})")] if using else []  # printed by the server
    if check:
        clauses.append(sql.SQL(f"WITH CHECK ({check})"))
    conn.execute(
        sql.SQL("ALTER POLICY {} ON {} {}").format(
            sql.Identifier(name), _table(table), sql.SQL(" ").join(clauses)
        )
    )


def residency_triggers(conn: psycopg.Connection[Any], names: list[str]) -> list[tuple[str, str]]:
    rows = conn.execute(
        "SELECT format('%%I.%%I', n.nspname, c.relname), t.tgname FROM pg_trigger t"
        " JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE t.tgfoid = 'tenantry_private.require_residency()'::regprocedure"
        " AND NOT t.tgisinternal AND format('%%I.%%I', n.nspname, c.relname) = ANY(%s)",
        [names],
    )
    return [(str(table), str(name)) for table, name in rows.fetchall()]


def drop_trigger(conn: psycopg.Connection[Any], table: str, name: str) -> None:
    conn.execute(sql.SQL("DROP TRIGGER {} ON {}").format(sql.Identifier(name), _table(table)))


def foreign_keys(conn: psycopg.Connection[Any], names: list[str]) -> list[tuple[str, str, str]]:
    """(table, constraint, definition) of the foreign keys from the named tables, parents of
    partitions only (a partition's copy goes and comes back with its parent's)."""
    rows = conn.execute(
        "SELECT format('%%I.%%I', n.nspname, c.relname), k.conname, pg_get_constraintdef(k.oid)"
        " FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid"
        " JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE k.contype = 'f' AND k.conparentid = 0"
        " AND format('%%I.%%I', n.nspname, c.relname) = ANY(%s) ORDER BY 1, 2",
        [names],
    )
    return [(str(table), str(name), str(definition)) for table, name, definition in rows]


def drop_constraint(conn: psycopg.Connection[Any], table: str, name: str) -> None:
    conn.execute(
        sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(_table(table), sql.Identifier(name))
    )


def add_constraint(conn: psycopg.Connection[Any], table: str, name: str, definition: str) -> None:
    conn.execute(
        sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} {}").format(
            _table(table),
            sql.Identifier(name),
            sql.SQL(definition),  # printed by the server (pg_get_constraintdef)
        )
    )


def make_reference(conn: psycopg.Connection[Any], table: str) -> None:
    conn.execute("SELECT create_reference_table(%s)", [table])


def distribute(conn: psycopg.Connection[Any], table: str, colocate_with: str) -> None:
    conn.execute(
        "SELECT create_distributed_table(%s, 'tenant_id', colocate_with => %s)",
        [table, colocate_with],
    )


def forward_context(conn: psycopg.Connection[Any], roles: Roles, database: str) -> None:
    """The runtime and platform roles' `SET LOCAL`s reach the workers (the signed context)."""
    for role in (roles.runtime, roles.platform):
        conn.execute(
            sql.SQL(
                "ALTER ROLE {} IN DATABASE {} SET citus.propagate_set_commands = 'local'"
            ).format(sql.Identifier(role), sql.Identifier(database))
        )
    # Revisions after the distribution create triggers on distributed tables.
    conn.execute(
        sql.SQL("ALTER DATABASE {} SET citus.enable_unsafe_triggers = on").format(
            sql.Identifier(database)
        )
    )


# Citus's own views readable by everyone and run with their superuser owner's rights: they
# show the cluster's tables, sizes and owners, nothing a tenant's connection needs.
CITUS_VIEWS = ("public.citus_tables", "public.citus_schemas")


def hide_citus_views(conn: psycopg.Connection[Any]) -> None:
    for view in CITUS_VIEWS:
        if conn.execute("SELECT to_regclass(%s)", [view]).fetchone() != (None,):
            conn.execute(sql.SQL("REVOKE SELECT ON {} FROM PUBLIC").format(_table(view)))


def tenant_id(conn: psycopg.Connection[Any], slug: str) -> UUID | None:
    row = conn.execute("SELECT id FROM tenantry.tenants WHERE slug = %s", [slug]).fetchone()
    return None if row is None else row[0]


def isolate(conn: psycopg.Connection[Any], anchor: str, tenant: UUID) -> None:
    """The tenant's rows of every co-located table moved to shards of their own."""
    conn.execute(
        "SELECT isolate_tenant_to_new_shard(%s, %s, 'CASCADE', shard_transfer_mode => "
        "'block_writes')",
        [anchor, tenant],
    )


def shard_of(conn: psycopg.Connection[Any], anchor: str, tenant: UUID) -> tuple[int, str, int]:
    """The shard holding the tenant's rows of `anchor`, and where it is."""
    row = conn.execute(
        "SELECT s.shardid, s.nodename, s.nodeport FROM citus_shards s"
        " WHERE s.shardid = get_shard_id_for_distribution_column(%s, %s)",
        [anchor, tenant],
    ).fetchone()
    assert row is not None
    return int(row[0]), str(row[1]), int(row[2])


def shard_tenants(conn: psycopg.Connection[Any], shard: int) -> tuple[str, str]:
    row = conn.execute(
        "SELECT shardminvalue, shardmaxvalue FROM pg_dist_shard WHERE shardid = %s", [shard]
    ).fetchone()
    assert row is not None
    return str(row[0]), str(row[1])


def move_shard(
    conn: psycopg.Connection[Any], shard: int, source: tuple[str, int], target: tuple[str, int]
) -> None:
    conn.execute(
        "SELECT citus_move_shard_placement(%s, %s, %s, %s, %s, shard_transfer_mode => "
        "'block_writes')",
        [shard, *source, *target],
    )


def _table(name: str) -> sql.Identifier:
    schema, _, table = name.partition(".")
    return sql.Identifier(schema, table)


# Tenantry's functions (the verifier's, and those reading a node's own tables, aside), with
# the functions each one's SQL-standard body depends on, and who may execute it.
_FUNCTIONS = """
SELECT p.oid, pg_get_functiondef(p.oid) AS definition,
       format('REVOKE ALL ON FUNCTION %%s FROM PUBLIC', p.oid::regprocedure) AS revoke,
       coalesce((SELECT array_agg(d.refobjid) FROM pg_depend d
                  WHERE d.objid = p.oid AND d.classid = 'pg_proc'::regclass
                    AND d.refclassid = 'pg_proc'::regclass AND d.refobjid <> p.oid), '{}')
           AS needs,
       coalesce((SELECT array_agg(format('GRANT EXECUTE ON FUNCTION %%s TO %%I',
                                         p.oid::regprocedure, g.grantee::regrole))
                   FROM aclexplode(p.proacl) g
                  WHERE g.privilege_type = 'EXECUTE' AND g.grantee <> 0
                    AND g.grantee <> p.proowner), '{}') AS grants
  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
 WHERE p.proowner = (SELECT oid FROM pg_roles WHERE rolname = %s) AND p.prokind = 'f'
   AND NOT (n.nspname = 'tenantry' AND p.proname = ANY(%s))
   AND NOT EXISTS (SELECT FROM pg_depend d
                    WHERE d.objid = p.oid AND d.refclassid = 'pg_class'::regclass
                      AND d.refobjid::regclass::text = ANY(%s))
"""


def functions(conn: psycopg.Connection[Any], roles: Roles, per_node: list[str]) -> list[str]:
    """Statements creating (or replacing) Tenantry's functions as on the coordinator, with
    their grants, callees first."""
    rows = conn.execute(_FUNCTIONS, [roles.owner, per_node, sorted(NODE_LOCAL)]).fetchall()
    by_oid = {oid: (definition, revoke, needs, grants)
              for oid, definition, revoke, needs, grants in rows}  # fmt: skip
    done: set[int] = set()
    statements: list[str] = []

    def emit(oid: int) -> None:
        if oid in done or oid not in by_oid:
            return
        done.add(oid)
        definition, revoke, needs, grants = by_oid[oid]
        for callee in needs:
            emit(callee)
        statements.extend([definition, revoke, *grants])

    for oid in by_oid:
        emit(oid)
    return statements


def function_definition(conn: psycopg.Connection[Any], signature: str) -> str:
    row = conn.execute("SELECT pg_get_functiondef(%s::regprocedure)", [signature]).fetchone()
    assert row is not None
    return str(row[0])


def transition_triggers(
    conn: psycopg.Connection[Any], names: list[str]
) -> list[tuple[str, str, str, str, str | None, str | None, bool]]:
    """(table, trigger, trigger definition, function definition, new table, old table,
    fires always) of each trigger reading transition tables on the named tables."""
    rows = conn.execute(
        "SELECT format('%%I.%%I', n.nspname, c.relname), t.tgname, pg_get_triggerdef(t.oid),"
        " pg_get_functiondef(t.tgfoid), t.tgnewtable, t.tgoldtable, t.tgenabled = 'A'"
        " FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid"
        " JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE (t.tgnewtable IS NOT NULL OR t.tgoldtable IS NOT NULL) AND t.tgparentid = 0"
        " AND format('%%I.%%I', n.nspname, c.relname) = ANY(%s) ORDER BY 1, 2",
        [names],
    )
    return [
        (str(a), str(b), str(c), str(d), e, f, bool(g)) for a, b, c, d, e, f, g in rows.fetchall()
    ]


def always(conn: psycopg.Connection[Any], table: str, trigger: str) -> None:
    conn.execute(
        sql.SQL("ALTER TABLE {} ENABLE ALWAYS TRIGGER {}").format(
            _table(table), sql.Identifier(trigger)
        )
    )


def delegate(conn: psycopg.Connection[Any], signature: str, argument: str, anchor: str) -> None:
    """Calls run on the worker holding the tenant the argument names, even in a transaction."""
    conn.execute(
        "SELECT create_distributed_function(%s, %s, colocate_with => %s, force_delegation => true)",
        [signature, argument, anchor],
    )


def propagate_function(conn: psycopg.Connection[Any], signature: str) -> None:
    """Citus creates the function on every worker (and keeps it there)."""
    conn.execute("SELECT create_distributed_function(%s)", [signature])


def force_tenant_root(conn: psycopg.Connection[Any], *, force: bool) -> None:
    conn.execute(
        "ALTER TABLE tenantry.tenants FORCE ROW LEVEL SECURITY"
        if force
        else "ALTER TABLE tenantry.tenants NO FORCE ROW LEVEL SECURITY"
    )
