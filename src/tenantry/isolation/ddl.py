"""The policy generator: the only code that writes row-level security SQL.

Every tenant- or app-scoped table is declared as a `ScopedTable` and created with
`scoped_table_sql()`, which emits the table with its tenant-leading keys, composite foreign keys
and indexes, ENABLE + FORCE row-level security, the runtime and platform policies (USING and
WITH CHECK) and the grants. `tenantry audit-db` checks the same invariants on the live catalog.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

    from tenantry.isolation.roles import Roles

SCHEMA = "tenantry"
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
TENANT = "(SELECT tenantry.current_tenant_id())"
APP = "(SELECT tenantry.current_app_id())"
CROSS_APP = "(SELECT tenantry.current_cross_app())"
PLATFORM = "(SELECT tenantry.current_is_platform())"


class Scope(enum.StrEnum):
    TENANT = "tenant"
    APP = "app"


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
    """A foreign key to another tenant table, always composite with `tenant_id` first."""

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

    def __post_init__(self) -> None:
        for identifier in (self.schema, self.name):
            if not _IDENTIFIER.match(identifier):
                raise ValueError(f"not a plain SQL identifier: {identifier!r}")

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}"

    @property
    def scope_columns(self) -> tuple[str, ...]:
        return ("tenant_id", "app_id") if self.scope is Scope.APP else ("tenant_id",)


def scoped_table_sql(table: ScopedTable, roles: Roles) -> list[str]:
    return [
        _create_table(table),
        *_indexes(table),
        *rls_sql(table, roles),
        *_grants(table, roles),
        (
            f"INSERT INTO {SCHEMA}.scoped_tables "
            "(table_schema, table_name, scope, runtime_access, kept_after_purge) "
            f"VALUES ('{table.schema}', '{table.name}', '{table.scope}', "
            f"'{table.runtime_access}', {table.kept_after_purge})"
        ),
    ]


def rls_sql(table: ScopedTable, roles: Roles) -> list[str]:
    """ENABLE + FORCE row-level security and the policies, for the runtime and platform roles."""
    own_rows = f"tenant_id = {TENANT}"
    if table.scope is Scope.APP:
        own_rows += f" AND app_id = {APP}"
    statements = [
        f"ALTER TABLE {table.qualified} ENABLE ROW LEVEL SECURITY",
        f"ALTER TABLE {table.qualified} FORCE ROW LEVEL SECURITY",
        _policy(table, "platform_access", "ALL", roles.platform, PLATFORM),
    ]
    if table.runtime_access is RuntimeAccess.NONE:
        return statements
    statements.append(_policy(table, "runtime_access", "ALL", roles.runtime, own_rows))
    if table.scope is Scope.APP:
        # A tenant administrator's signed context may read, never write, every app of its tenant.
        statements.append(
            _policy(
                table,
                "runtime_cross_app_read",
                "SELECT",
                roles.runtime,
                f"tenant_id = {TENANT} AND {CROSS_APP}",
            )
        )
    return statements


def _policy(table: ScopedTable, name: str, command: str, role: str, predicate: str) -> str:
    check = "" if command == "SELECT" else f" WITH CHECK ({predicate})"
    return (
        f'CREATE POLICY {name} ON {table.qualified} AS PERMISSIVE FOR {command} TO "{role}" '
        f"USING ({predicate}){check}"
    )


def _create_table(table: ScopedTable) -> str:
    lines = [f"tenant_id uuid NOT NULL REFERENCES {SCHEMA}.tenants (id)"]
    if table.scope is Scope.APP:
        lines.append(f"app_id uuid NOT NULL REFERENCES {SCHEMA}.apps (id)")
    if "id" in table.primary_key:
        lines.append("id uuid NOT NULL")
    lines += list(table.columns)
    lines.append(f"PRIMARY KEY (tenant_id, {', '.join(table.primary_key)})")
    if table.scope is Scope.APP:
        # An app-scoped row can only exist for an app the tenant has enabled.
        lines.append(
            f"FOREIGN KEY (tenant_id, app_id) REFERENCES {SCHEMA}.tenant_apps (tenant_id, app_id)"
        )
    for ref in table.references:
        lines.append(
            f"FOREIGN KEY (tenant_id, {', '.join(ref.columns)}) "
            f"REFERENCES {table.schema}.{ref.table} (tenant_id, {', '.join(ref.target_columns)}) "
            f"ON DELETE {ref.on_delete}"
        )
    lines += [f"CHECK ({check})" for check in table.checks]
    body = ",\n    ".join(lines)
    return f"CREATE TABLE {table.qualified} (\n    {body}\n)"


def _indexes(table: ScopedTable) -> list[str]:
    lead = ", ".join(table.scope_columns)
    statements: list[str] = []
    if table.scope is Scope.APP:
        statements.append(f"CREATE INDEX ON {table.qualified} ({lead})")
    statements += [f"CREATE UNIQUE INDEX ON {table.qualified} ({lead}, {u})" for u in table.unique]
    statements += [f"CREATE INDEX ON {table.qualified} ({lead}, {i})" for i in table.indexes]
    return statements


_RUNTIME_GRANTS = {
    RuntimeAccess.READ_WRITE: "SELECT, INSERT, UPDATE, DELETE",
    RuntimeAccess.APPEND_ONLY: "SELECT, INSERT",
    RuntimeAccess.READ_ONLY: "SELECT",
}


def _grants(table: ScopedTable, roles: Roles) -> list[str]:
    statements = [
        f"REVOKE ALL ON {table.qualified} FROM PUBLIC",
        f'GRANT SELECT, INSERT, UPDATE, DELETE ON {table.qualified} TO "{roles.platform}"',
    ]
    if table.runtime_access is not RuntimeAccess.NONE:
        grants = _RUNTIME_GRANTS[table.runtime_access]
        statements.append(f'GRANT {grants} ON {table.qualified} TO "{roles.runtime}"')
    return statements


def catalog_grants_sql(qualified: str, roles: Roles) -> list[str]:
    """A global catalog: readable by everyone we serve, written only by the platform."""
    return [
        f"REVOKE ALL ON {qualified} FROM PUBLIC",
        f'GRANT SELECT ON {qualified} TO "{roles.runtime}"',
        f'GRANT SELECT, INSERT, UPDATE, DELETE ON {qualified} TO "{roles.platform}"',
    ]
