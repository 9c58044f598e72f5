"""The policy generator: the only code that writes row-level security SQL.

Every tenant- or app-scoped table is declared as a `ScopedTable` and created with
`scoped_table_sql()`, which emits the table with its tenant-leading keys, composite foreign keys
and indexes, ENABLE + FORCE row-level security, the runtime and platform policies (USING and
WITH CHECK) and the grants. `tenantry audit-db` checks the same invariants on the live catalog.

Policy shapes, chosen so that plans stay tight at scale:

- exactly one permissive policy per role and command (PostgreSQL ORs permissive policies, and
  an OR takes the app out of the index condition);
- the signed context is verified once per statement: every predicate reads one sub-select of
  the `tenantry.current_scope` view, whose outputs are index conditions, e.g.
  `(tenant_id, app_id) = (SELECT s.tenant_id, s.app_id FROM tenantry.current_scope s)`;
- where a context sees a set of scopes (cross-app readers, tenant-wide rows beside app rows),
  the table carries a stored `scope_key` (tenant, or tenant + app) compared with `= ANY` of the
  keys the context may read, again one sub-select; extended statistics tell the planner that
  the key follows from (tenant_id, app_id), so it does not count the filter as selective;
- writes only ever go to the context's own tenant and app.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tenantry.isolation.context_sql import SCOPE_KEY_EXPRESSION, scope_key_sql
from tenantry.isolation.residency import residency_guard_sql

if TYPE_CHECKING:
    from collections.abc import Sequence

    from tenantry.isolation.roles import Roles

SCHEMA = "tenantry"
IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_CONTEXT = "FROM tenantry.current_scope s"
_PARTITION_KEY = re.compile(r"^(?:RANGE|LIST) \((?P<column>[a-z_][a-z0-9_]{0,62})\)$")
TENANT = f"(SELECT s.tenant_id {_CONTEXT})"
PLATFORM = f"(SELECT s.platform {_CONTEXT})"
OWN_TENANT = f"tenant_id = {TENANT}"
OWN_APP = f"(tenant_id, app_id) = (SELECT s.tenant_id, s.app_id {_CONTEXT})"
OWN_SCOPE = (
    f"(tenant_id, scope_key) = (SELECT s.tenant_id, {scope_key_sql('s.tenant_id', 's.app_id')} "
    f"{_CONTEXT})"
)
# The cast makes the sub-select one array value (an init plan), not a set to search.
READABLE_SCOPES = f"scope_key = ANY ((SELECT s.readable_scope_keys {_CONTEXT})::bytea[])"


class Scope(enum.StrEnum):
    TENANT = "tenant"
    APP = "app"
    # An optional app_id: rows without an app are tenant-wide (every app of the tenant sees
    # them), rows with an app belong to that app (and to cross-app readers).
    TENANT_OR_APP = "tenant_or_app"


class RuntimeAccess(enum.StrEnum):
    READ_WRITE = "read_write"
    # Audit trails and security events: the runtime role may read and insert, never rewrite.
    APPEND_ONLY = "append_only"
    # Written only through the control plane (settings, flag overrides, domains).
    READ_ONLY = "read_only"
    # Control-plane data (e.g. cross-app correlation): no runtime grant and no runtime policy.
    NONE = "none"


@dataclass(frozen=True, slots=True)
class Reference:
    """A foreign key to another tenant table, always composite with `tenant_id` first.

    `table` is in the declaring table's schema, or schema-qualified (`tenantry.app_users`).
    """

    columns: tuple[str, ...]
    table: str
    target_columns: tuple[str, ...] = ("id",)
    on_delete: str = "RESTRICT"


@dataclass(frozen=True, slots=True)
class ScopedTable:
    name: str
    scope: Scope
    # Column definitions besides tenant_id, app_id and id, which the generator adds.
    columns: Sequence[str]
    # Extra unique keys: column lists or expressions; tenant_id (and app_id) are prepended.
    unique: Sequence[str] = ()
    references: Sequence[Reference] = ()
    # Extra indexes, given as the columns after tenant_id (and app_id).
    indexes: Sequence[str] = ()
    runtime_access: RuntimeAccess = RuntimeAccess.READ_WRITE
    # Purging a tenant deletes its rows in every declared table except these (the lifecycle
    # record that proves the purge happened).
    kept_after_purge: bool = False
    # Tables keyed by something other than a surrogate id give their own key columns (after
    # tenant_id), e.g. tenant_apps keyed by (tenant_id, app_id).
    primary_key: Sequence[str] = ("id",)
    schema: str = SCHEMA
    checks: Sequence[str] = field(default_factory=tuple)
    # Tenant administrators' cross-app contexts may read (never write) every app's rows.
    # Opt-in, and never for credentials or secrets.
    cross_app_read: bool = False
    # A partitioned parent, e.g. "RANGE (created_at)": its policies and grants guard every
    # query through it; partitions are created by a function that enables and forces
    # row-level security on each and revokes direct access (`tenantry audit-db` checks both).
    # PostgreSQL requires the partition key in the primary key and every unique key.
    partition_by: str | None = None

    def __post_init__(self) -> None:
        for identifier in (self.schema, self.name):
            if not IDENTIFIER.match(identifier):
                raise ValueError(f"not a plain SQL identifier: {identifier!r}")
        if self.cross_app_read and self.scope is not Scope.APP:
            raise ValueError("cross_app_read is for app-scoped tables (tenant_or_app has it)")
        if self.partition_by is not None:
            key = _PARTITION_KEY.match(self.partition_by)
            if key is None:
                raise ValueError(f"not a RANGE or LIST partition key: {self.partition_by!r}")
            for unique in (tuple(self.primary_key), *map(_columns, self.unique)):
                if key["column"] not in unique:
                    raise ValueError(f"the partition key {key['column']} must be in every key")

    @property
    def has_app(self) -> bool:
        return self.scope is not Scope.TENANT

    @property
    def keyed_by_scope(self) -> bool:
        """Reads see a set of scopes, matched through the stored `scope_key`."""
        return self.scope is Scope.TENANT_OR_APP or self.cross_app_read

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}"

    @property
    def scope_columns(self) -> tuple[str, ...]:
        return ("tenant_id", "app_id") if self.scope is Scope.APP else ("tenant_id",)


def scoped_table_sql(table: ScopedTable, roles: Roles) -> list[str]:
    statements = [
        _create_table(table),
        *_indexes(table),
        *scope_statistics_sql(table),
        *rls_sql(table, roles),
        residency_guard_sql(table.qualified),
        *_grants(table, roles),
        (
            f"INSERT INTO {SCHEMA}.scoped_tables "
            "(table_schema, table_name, scope, runtime_access, kept_after_purge) "
            f"VALUES ('{table.schema}', '{table.name}', '{table.scope}', "
            f"'{table.runtime_access}', {table.kept_after_purge})"
        ),
    ]
    if table.cross_app_read:
        statements.append(
            f"UPDATE {SCHEMA}.scoped_tables SET cross_app_read = true "
            f"WHERE table_schema = '{table.schema}' AND table_name = '{table.name}'"
        )
    return statements


def drop_scoped_table_sql(table: ScopedTable) -> list[str]:
    """The table (with its policies, indexes and statistics) and its registry row."""
    return [
        f"DROP TABLE {table.qualified}",
        (
            f"DELETE FROM {SCHEMA}.scoped_tables "
            f"WHERE table_schema = '{table.schema}' AND table_name = '{table.name}'"
        ),
    ]


def tenant_schema_sql(name: str, roles: Roles) -> list[str]:
    """A schema for tenant tables outside `tenantry`: owned by the owner role, usable (never
    creatable) by the runtime and platform roles."""
    if not IDENTIFIER.match(name):
        raise ValueError(f"not a plain SQL identifier: {name!r}")
    return [
        f'CREATE SCHEMA IF NOT EXISTS {name} AUTHORIZATION "{roles.owner}"',
        f"REVOKE ALL ON SCHEMA {name} FROM PUBLIC",
        f'GRANT USAGE ON SCHEMA {name} TO "{roles.runtime}", "{roles.platform}"',
    ]


def drop_tenant_schema_sql(name: str) -> str:
    """Without CASCADE: a table still in it (and its registry row) must be dropped first."""
    if not IDENTIFIER.match(name):
        raise ValueError(f"not a plain SQL identifier: {name!r}")
    return f"DROP SCHEMA {name}"


# What each declared runtime access lets the runtime role run: its grants, its policies, and
# what `tenantry audit-db` holds the live grants to.
RUNTIME_COMMANDS: dict[RuntimeAccess, tuple[str, ...]] = {
    RuntimeAccess.READ_WRITE: ("SELECT", "INSERT", "UPDATE", "DELETE"),
    RuntimeAccess.APPEND_ONLY: ("SELECT", "INSERT"),
    RuntimeAccess.READ_ONLY: ("SELECT",),
    RuntimeAccess.NONE: (),
}


def rls_sql(table: ScopedTable, roles: Roles) -> list[str]:
    """ENABLE + FORCE row-level security and the policies, for the runtime and platform roles."""
    statements = [
        f"ALTER TABLE {table.qualified} ENABLE ROW LEVEL SECURITY",
        f"ALTER TABLE {table.qualified} FORCE ROW LEVEL SECURITY",
        _policy(table, "platform_access", "ALL", roles.platform, PLATFORM, PLATFORM),
    ]
    if not table.keyed_by_scope:
        if table.runtime_access is not RuntimeAccess.NONE:
            # Grants narrow the commands; the one policy covers whichever remain.
            own = OWN_APP if table.scope is Scope.APP else OWN_TENANT
            statements.append(_policy(table, "runtime_access", "ALL", roles.runtime, own, own))
        return statements
    write = OWN_APP if table.scope is Scope.APP else OWN_SCOPE
    shapes = {
        "SELECT": ("runtime_read", READABLE_SCOPES, None),
        "INSERT": ("runtime_insert", None, write),
        "UPDATE": ("runtime_update", write, write),
        "DELETE": ("runtime_delete", write, None),
    }
    for command in RUNTIME_COMMANDS[table.runtime_access]:
        name, using, check = shapes[command]
        statements.append(_policy(table, name, command, roles.runtime, using, check))
    return statements


def _policy(
    table: ScopedTable,
    name: str,
    command: str,
    role: str,
    using: str | None,
    check: str | None,
) -> str:
    clauses = (f" USING ({using})" if using else "") + (f" WITH CHECK ({check})" if check else "")
    return (
        f'CREATE POLICY {name} ON {table.qualified} AS PERMISSIVE FOR {command} TO "{role}"'
        f"{clauses}"
    )


def _create_table(table: ScopedTable) -> str:
    lines = [f"tenant_id uuid NOT NULL REFERENCES {SCHEMA}.tenants (id)"]
    if table.scope is Scope.APP:
        lines.append(f"app_id uuid NOT NULL REFERENCES {SCHEMA}.apps (id)")
    elif table.scope is Scope.TENANT_OR_APP:
        lines.append(f"app_id uuid REFERENCES {SCHEMA}.apps (id)")
    if table.keyed_by_scope:
        lines.append(SCOPE_KEY_COLUMN)
    if "id" in table.primary_key:
        lines.append("id uuid NOT NULL")
    lines += list(table.columns)
    lines.append(f"PRIMARY KEY (tenant_id, {', '.join(table.primary_key)})")
    if table.has_app:
        # An app-scoped row can only exist for an app the tenant has enabled.
        lines.append(
            f"FOREIGN KEY (tenant_id, app_id) REFERENCES {SCHEMA}.tenant_apps (tenant_id, app_id)"
        )
    for ref in table.references:
        target = ref.table if "." in ref.table else f"{table.schema}.{ref.table}"
        lines.append(
            f"FOREIGN KEY (tenant_id, {', '.join(ref.columns)}) "
            f"REFERENCES {target} (tenant_id, {', '.join(ref.target_columns)}) "
            f"ON DELETE {ref.on_delete}"
        )
    lines += [f"CHECK ({check})" for check in table.checks]
    body = ",\n    ".join(lines)
    partitioned = f" PARTITION BY {table.partition_by}" if table.partition_by else ""
    return f"CREATE TABLE {table.qualified} (\n    {body}\n){partitioned}"


SCOPE_KEY_COLUMN = f"scope_key bytea NOT NULL GENERATED ALWAYS AS ({SCOPE_KEY_EXPRESSION}) STORED"


def _indexes(table: ScopedTable) -> list[str]:
    lead = ", ".join(table.scope_columns)
    statements: list[str] = []
    # (tenant_id, app_id) finds a scope's rows and covers the key to tenant_apps, unless another
    # index already leads with those columns: a second index would only cost every write.
    led_by_scope = bool(table.unique or table.indexes) or table.primary_key[0] == "app_id"
    if table.has_app and not led_by_scope:
        statements.append(f"CREATE INDEX ON {table.qualified} (tenant_id, app_id)")
    # No index on scope_key: every query names its tenant and app, whose indexes find the rows;
    # the key only filters them. An index on it made the planner AND it into keyset pages
    # (measured: a 50-row page 8x slower than without row-level security).
    statements += [f"CREATE UNIQUE INDEX ON {table.qualified} ({lead}, {u})" for u in table.unique]
    statements += [f"CREATE INDEX ON {table.qualified} ({lead}, {i})" for i in table.indexes]
    # Every foreign key gets an index that covers it (deletes of the referenced row, joins).
    covered = [
        ("tenant_id", *table.primary_key),
        *((*table.scope_columns, *_columns(extra)) for extra in (*table.unique, *table.indexes)),
    ]
    if table.has_app:
        covered.append(("tenant_id", "app_id"))
    for ref in table.references:
        columns = ("tenant_id", *ref.columns)
        if not any(set(index[: len(columns)]) == set(columns) for index in covered):
            statements.append(f"CREATE INDEX ON {table.qualified} ({', '.join(columns)})")
            covered.append(columns)
    return statements


def tenant_root_policies_sql(
    roles: Roles, tenant: str = TENANT, platform: str = PLATFORM
) -> list[str]:
    """`tenantry.tenants`, the tenant root: a tenant's context reads its own row; only the
    platform writes. `tenant` and `platform` are the claim expressions (migrations that restore
    older shapes pass theirs)."""
    table = f"{SCHEMA}.tenants"
    own = f'CREATE POLICY runtime_own_tenant ON {table} FOR SELECT TO "{roles.runtime}"'
    operators = f'CREATE POLICY platform_access ON {table} FOR ALL TO "{roles.platform}"'
    return [
        f"{own} USING (id = {tenant})",
        f"{operators} USING ({platform}) WITH CHECK ({platform})",
    ]


# The registry, read back by migrations that regenerate the policies of existing tables.
REGISTERED_TABLES = (
    "SELECT table_schema, table_name, scope, runtime_access, cross_app_read "
    f"FROM {SCHEMA}.scoped_tables ORDER BY 1, 2"
)


def registered_table(
    schema: str, name: str, scope: str, runtime_access: str, cross_app_read: bool
) -> ScopedTable:
    """A row of `REGISTERED_TABLES` as the declaration the policy generator needs."""
    return ScopedTable(
        name=name,
        schema=schema,
        scope=Scope(scope),
        columns=(),
        runtime_access=RuntimeAccess(runtime_access),
        cross_app_read=cross_app_read,
    )


def scope_statistics_sql(table: ScopedTable) -> list[str]:
    """Tell the planner that `scope_key` follows from (tenant_id, app_id).

    Without it the planner multiplies the selectivities and takes `scope_key = ANY (…)` for a
    filter that drops 99 % of a tenant's rows, so a 50-row keyset page sorts all of an app's
    rows instead of walking the (tenant_id, app_id, id) index (measured at 1M rows: 8x).
    """
    if not table.keyed_by_scope:
        return []
    statistics = f"{table.schema}.{table.name}_scope_key"
    columns = "tenant_id, app_id, scope_key"
    return [f"CREATE STATISTICS {statistics} (dependencies) ON {columns} FROM {table.qualified}"]


def _columns(spec: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in spec.split(","))


def _grants(table: ScopedTable, roles: Roles) -> list[str]:
    statements = [
        f"REVOKE ALL ON {table.qualified} FROM PUBLIC",
        f'GRANT SELECT, INSERT, UPDATE, DELETE ON {table.qualified} TO "{roles.platform}"',
    ]
    if commands := RUNTIME_COMMANDS[table.runtime_access]:
        grants = ", ".join(commands)
        statements.append(f'GRANT {grants} ON {table.qualified} TO "{roles.runtime}"')
    return statements


def catalog_grants_sql(qualified: str, roles: Roles) -> list[str]:
    """A global catalog: readable by everyone we serve, written only by the platform."""
    return [
        f"REVOKE ALL ON {qualified} FROM PUBLIC",
        f'GRANT SELECT ON {qualified} TO "{roles.runtime}"',
        f'GRANT SELECT, INSERT, UPDATE, DELETE ON {qualified} TO "{roles.platform}"',
    ]
