"""Isolation at scale: one verification and one permissive policy per role and command.

- `tenantry.context_scope()` verifies the signed context once per statement; every policy is
  regenerated from the `scoped_tables` registry with the generator's current shapes.
- `security_events` and `feature_flag_overrides` become tenant-or-app scoped: a row with an app
  is that app's (and cross-app readers'), a row without one is tenant-wide.
- Cross-app reads are opt-in per table: `app_users` and `app_user_preferences` only, never the
  credential tables.
- `app_users.email_normalized` (stored, plain index) replaces the `lower(email)` expression
  index, which row-level security kept the planner from using.
- Every foreign key that includes tenant_id gets an index that covers it.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from alembic import op

from tenantry.isolation.audit import UNINDEXED_FOREIGN_KEYS
from tenantry.isolation.context_sql import context_scope_sql
from tenantry.isolation.ddl import (
    PLATFORM,
    REGISTERED_TABLES,
    SCOPE_KEY_COLUMN,
    TENANT,
    RuntimeAccess,
    Scope,
    ScopedTable,
    registered_table,
    rls_sql,
    tenant_root_policies_sql,
)

if TYPE_CHECKING:
    from tenantry.isolation.roles import Roles

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TENANT_OR_APP = ("security_events", "feature_flag_overrides")
CROSS_APP_READ = ("app_users", "app_user_preferences")


def _rows(sql: str) -> list[Any]:
    return list(op.get_bind().exec_driver_sql(sql).fetchall())


def _drop_policies(qualified: str) -> None:
    for (name,) in _rows(f"SELECT polname FROM pg_policy WHERE polrelid = '{qualified}'::regclass"):
        op.execute(f'DROP POLICY "{name}" ON {qualified}')


def _registered() -> list[ScopedTable]:
    return [registered_table(*row) for row in _rows(REGISTERED_TABLES)]


def _tenants_policies(roles: Roles, tenant: str, is_platform: str) -> None:
    _drop_policies("tenantry.tenants")
    for statement in tenant_root_policies_sql(roles, tenant, is_platform):
        op.execute(statement)


def upgrade() -> None:
    config = op.get_context().config
    assert config is not None
    roles = config.attributes["roles"]
    for statement in context_scope_sql(roles):
        op.execute(statement)
    op.execute("ALTER TABLE tenantry.scoped_tables DROP CONSTRAINT scoped_tables_scope_check")
    op.execute(
        "ALTER TABLE tenantry.scoped_tables ADD CONSTRAINT scoped_tables_scope_check "
        "CHECK (scope IN ('tenant', 'app', 'tenant_or_app'))"
    )
    op.execute(
        "ALTER TABLE tenantry.scoped_tables "
        "ADD COLUMN cross_app_read boolean NOT NULL DEFAULT false"
    )
    # Login looks users up by their normalised email: a stored column and a plain index.
    op.execute(
        "ALTER TABLE tenantry.app_users ADD COLUMN email_normalized text NOT NULL "
        "GENERATED ALWAYS AS (lower(email)) STORED"
    )
    for (index,) in _rows(
        "SELECT indexrelid::regclass::text FROM pg_index "
        "WHERE indrelid = 'tenantry.app_users'::regclass AND indexprs IS NOT NULL"
    ):
        op.execute(f"DROP INDEX {index}")
    op.execute("CREATE UNIQUE INDEX ON tenantry.app_users (tenant_id, app_id, email_normalized)")
    for name in (*TENANT_OR_APP, *CROSS_APP_READ):
        op.execute(f"ALTER TABLE tenantry.{name} ADD COLUMN {SCOPE_KEY_COLUMN}")
    for name in TENANT_OR_APP:
        op.execute(f"CREATE INDEX ON tenantry.{name} (tenant_id, app_id)")
        op.execute(
            f"UPDATE tenantry.scoped_tables SET scope = 'tenant_or_app' WHERE table_name = '{name}'"
        )
    for name in CROSS_APP_READ:
        op.execute(
            f"UPDATE tenantry.scoped_tables SET cross_app_read = true WHERE table_name = '{name}'"
        )
    for table in _registered():
        _drop_policies(table.qualified)
        for statement in rls_sql(table, roles):
            op.execute(statement)
    _tenants_policies(roles, TENANT, PLATFORM)
    for table, _, columns in _rows(UNINDEXED_FOREIGN_KEYS):
        op.execute(f"CREATE INDEX ON {table} ({columns})")


# The shapes before this revision, for downgrade: one FOR ALL policy per role, a second
# permissive SELECT policy for cross-app readers on app tables, three verifications at most.
_OLD_TENANT = "(SELECT tenantry.current_tenant_id())"
_OLD_APP = "(SELECT tenantry.current_app_id())"
_OLD_CROSS_APP = "(SELECT tenantry.current_cross_app())"
_OLD_PLATFORM = "(SELECT tenantry.current_is_platform())"


def downgrade() -> None:
    config = op.get_context().config
    assert config is not None
    roles = config.attributes["roles"]
    tables = _registered()
    for table in tables:
        _drop_policies(table.qualified)
        op.execute(
            f'CREATE POLICY platform_access ON {table.qualified} FOR ALL TO "{roles.platform}" '
            f"USING ({_OLD_PLATFORM}) WITH CHECK ({_OLD_PLATFORM})"
        )
        if table.runtime_access is RuntimeAccess.NONE:
            continue
        own = f"tenant_id = {_OLD_TENANT}"
        if table.scope is Scope.APP:
            own += f" AND app_id = {_OLD_APP}"
        op.execute(
            f'CREATE POLICY runtime_access ON {table.qualified} FOR ALL TO "{roles.runtime}" '
            f"USING ({own}) WITH CHECK ({own})"
        )
        if table.scope is Scope.APP:
            op.execute(
                f"CREATE POLICY runtime_cross_app_read ON {table.qualified} FOR SELECT "
                f'TO "{roles.runtime}" USING (tenant_id = {_OLD_TENANT} AND {_OLD_CROSS_APP})'
            )
    _tenants_policies(roles, _OLD_TENANT, _OLD_PLATFORM)
    for name in (*TENANT_OR_APP, *CROSS_APP_READ):
        op.execute(f"ALTER TABLE tenantry.{name} DROP COLUMN scope_key")
    op.execute("UPDATE tenantry.scoped_tables SET scope = 'tenant' WHERE scope = 'tenant_or_app'")
    op.execute("ALTER TABLE tenantry.scoped_tables DROP COLUMN cross_app_read")
    op.execute("ALTER TABLE tenantry.scoped_tables DROP CONSTRAINT scoped_tables_scope_check")
    op.execute(
        "ALTER TABLE tenantry.scoped_tables ADD CONSTRAINT scoped_tables_scope_check "
        "CHECK (scope IN ('tenant', 'app'))"
    )
    op.execute("ALTER TABLE tenantry.app_users DROP COLUMN email_normalized")
    op.execute("CREATE UNIQUE INDEX ON tenantry.app_users (tenant_id, app_id, lower(email))")
