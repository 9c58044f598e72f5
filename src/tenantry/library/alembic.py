"""Tenant tables in your own Alembic migrations, with the guarantees of Tenantry's own.

In a migration:

    from tenantry.library.alembic import create_scoped_table, create_tenant_schema

    NOTES = ScopedTable(name="notes", schema="notes", scope=Scope.APP, columns=(...))

    def upgrade() -> None:
        create_tenant_schema("notes")
        create_scoped_table(NOTES)

and in the environment's `env.py`:

    from tenantry.library.alembic import run_migrations
    run_migrations("notes")   # version table tenantry_private.alembic_version_notes

The table gets what every Tenantry table gets from the policy generator: `(tenant_id, …)` keys,
composite foreign keys and covering indexes, ENABLE + FORCE row-level security, one policy per
role and command, the grants and its row in the `scoped_tables` registry, so `tenantry audit-db`,
tenant purges and the isolation suites cover it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from alembic import context, op
from alembic.operations import MigrateOperation, Operations

from tenantry.isolation.ddl import (
    ScopedTable,
    drop_scoped_table_sql,
    drop_tenant_schema_sql,
    scoped_table_sql,
    tenant_schema_sql,
)
from tenantry.isolation.roles import Roles
from tenantry.kit.config import get_settings
from tenantry.kit.dsn import admin_url
from tenantry.kit.migrate import owner_transaction
from tenantry.kit.modules import Module

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

__all__ = [
    "create_scoped_table",
    "create_tenant_schema",
    "drop_scoped_table",
    "drop_tenant_schema",
    "run_migrations",
]


@Operations.register_operation("create_scoped_table")
class CreateScopedTable(MigrateOperation):
    def __init__(self, table: ScopedTable) -> None:
        self.table = table

    @classmethod
    def create_scoped_table(cls, operations: Operations, table: ScopedTable) -> None:
        operations.invoke(cls(table))

    def reverse(self) -> DropScopedTable:
        return DropScopedTable(self.table)


@Operations.register_operation("drop_scoped_table")
class DropScopedTable(MigrateOperation):
    def __init__(self, table: ScopedTable) -> None:
        self.table = table

    @classmethod
    def drop_scoped_table(cls, operations: Operations, table: ScopedTable) -> None:
        operations.invoke(cls(table))

    def reverse(self) -> CreateScopedTable:
        return CreateScopedTable(self.table)


def _roles() -> Roles:
    """The roles `tenantry db upgrade` migrates for, else those of the configured prefix."""
    roles = context.config.attributes.get("roles")
    return roles if isinstance(roles, Roles) else Roles(get_settings().role_prefix)


@Operations.implementation_for(CreateScopedTable)
def _create(operations: Operations, operation: CreateScopedTable) -> None:
    for statement in scoped_table_sql(operation.table, _roles()):
        operations.execute(statement)


@Operations.implementation_for(DropScopedTable)
def _drop(operations: Operations, operation: DropScopedTable) -> None:
    for statement in drop_scoped_table_sql(operation.table):
        operations.execute(statement)


def create_scoped_table(table: ScopedTable) -> None:
    """Create `table` with its keys, indexes, row-level security, policies and grants."""
    op.invoke(CreateScopedTable(table))


def drop_scoped_table(table: ScopedTable) -> None:
    """Drop `table` and its registry row (for a migration's `downgrade`)."""
    op.invoke(DropScopedTable(table))


def create_tenant_schema(name: str) -> None:
    """A schema for tenant tables: owned by the owner role, usable (never creatable) by the
    runtime and platform roles."""
    for statement in tenant_schema_sql(name, _roles()):
        op.execute(statement)


def drop_tenant_schema(name: str) -> None:
    """Drop a schema made by `create_tenant_schema` (for a migration's `downgrade`, after its
    tables)."""
    op.execute(drop_tenant_schema_sql(name))


def run_migrations(name: str) -> None:
    """The body of a module's `env.py`: run its migrations as the owner role, versioned in
    `tenantry_private.alembic_version_<name>`.

    Under `tenantry db upgrade` (an installed `tenantry.modules` entry point) they run in the
    upgrade's own transaction; from the `alembic` command they connect to `sqlalchemy.url` of
    the Alembic configuration, else `TENANTRY_DATABASE_URL`, and act as the owner role of
    `TENANTRY_ROLE_PREFIX`, in one transaction."""
    config = context.config
    module = Module(name, Path(config.get_main_option("script_location") or "."))
    connection: Connection | None = config.attributes.get("connection")
    if connection is not None:
        _run(connection, module)
        return
    settings = get_settings()
    url = config.get_main_option("sqlalchemy.url") or admin_url(settings)
    roles = Roles(settings.role_prefix)
    config.attributes["roles"] = roles
    with owner_transaction(url, roles) as owned:
        _run(owned, module)


def _run(connection: Connection, module: Module) -> None:
    context.configure(
        connection=connection,
        version_table=module.version_table,
        version_table_schema="tenantry_private",
        transaction_per_migration=False,
    )
    with context.begin_transaction():
        context.run_migrations()
