"""Foundation: signed context, apps catalog, tenants, tenant apps, app users and preferences.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from alembic import op

from tenantry.isolation.context_sql import context_functions_sql, context_scope_sql
from tenantry.isolation.ddl import (
    Reference,
    RuntimeAccess,
    Scope,
    ScopedTable,
    catalog_grants_sql,
    scoped_table_sql,
    tenant_root_policies_sql,
)
from tenantry.kit.ids import uuid7

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

SEED_APPS = (
    ("thinktank", "Think Tank", "Collaborative AI workspace"),
    ("launchboard", "Launch Board", "Project management with AI"),
    ("alwaysme", "Always Me", "Personal AI assistant"),
    ("mechanicalmaker", "Mechanical Maker", "Engineering AI tools"),
    ("admin", "Admin Dashboard", "Platform administration"),
)

TENANT_APPS = ScopedTable(
    name="tenant_apps",
    scope=Scope.TENANT,
    # Which apps a tenant may use is the control plane's decision (licensing), not the app's.
    runtime_access=RuntimeAccess.READ_ONLY,
    primary_key=("app_id",),
    columns=(
        "app_id uuid NOT NULL REFERENCES tenantry.apps (id)",
        "enabled_at timestamptz NOT NULL DEFAULT now()",
    ),
)

APP_USERS = ScopedTable(
    name="app_users",
    scope=Scope.APP,
    columns=(
        "email text NOT NULL CHECK (length(email) BETWEEN 3 AND 320 AND email LIKE '%_@_%')",
        "email_verified boolean NOT NULL DEFAULT false",
        "display_name text CHECK (length(display_name) <= 200)",
        (
            "status text NOT NULL DEFAULT 'active'"
            " CHECK (status IN ('active', 'inactive', 'suspended'))"
        ),
        "created_at timestamptz NOT NULL DEFAULT now()",
        "updated_at timestamptz NOT NULL DEFAULT now()",
    ),
    # The same email in two apps (or two tenants) is two identities.
    unique=("lower(email)", "id"),
)

APP_USER_PREFERENCES = ScopedTable(
    name="app_user_preferences",
    scope=Scope.APP,
    columns=(
        "app_user_id uuid NOT NULL",
        "key text NOT NULL CHECK (key ~ '^[a-z][a-z0-9_.-]{0,99}$')",
        "value jsonb NOT NULL",
        "updated_at timestamptz NOT NULL DEFAULT now()",
    ),
    # (tenant_id, app_id, app_user_id): a preference can only point at a user of its own app.
    references=(Reference(("app_id", "app_user_id"), "app_users", ("app_id", "id"), "CASCADE"),),
    unique=("app_user_id, key",),
)


def upgrade() -> None:
    config = op.get_context().config
    assert config is not None
    roles = config.attributes["roles"]
    runtime, platform = roles.runtime, roles.platform
    statements = [
        f'GRANT USAGE ON SCHEMA tenantry TO "{runtime}", "{platform}"',
        """
        CREATE TABLE tenantry.scoped_tables (
            table_schema text NOT NULL,
            table_name text NOT NULL,
            scope text NOT NULL CHECK (scope IN ('tenant', 'app')),
            runtime_access text NOT NULL
                CHECK (runtime_access IN ('read_write', 'append_only', 'read_only', 'none')),
            kept_after_purge boolean NOT NULL DEFAULT false,
            PRIMARY KEY (table_schema, table_name)
        )
        """,
        *catalog_grants_sql("tenantry.scoped_tables", roles),
        *context_functions_sql(roles),
        """
        CREATE TABLE tenantry.apps (
            id uuid PRIMARY KEY,
            slug text NOT NULL UNIQUE CHECK (slug ~ '^[a-z][a-z0-9-]{1,39}$'),
            name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
            description text NOT NULL DEFAULT '',
            status text NOT NULL DEFAULT 'active'
                CHECK (status IN ('active', 'inactive', 'deprecated')),
            created_at timestamptz NOT NULL DEFAULT now()
        )
        """,
        *catalog_grants_sql("tenantry.apps", roles),
        *context_scope_sql(roles),
        """
        CREATE TABLE tenantry.tenants (
            id uuid PRIMARY KEY,
            slug text NOT NULL UNIQUE CHECK (slug ~ '^[a-z][a-z0-9-]{1,62}$'),
            name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
            status text NOT NULL DEFAULT 'pending'
                CHECK (status IN ('pending', 'active', 'suspended', 'deprovisioned')),
            plan text NOT NULL DEFAULT 'free' CHECK (plan ~ '^[a-z][a-z0-9_-]{0,39}$'),
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now()
        )
        """,
        # The tenant root: a tenant's context reads its own row; only the platform writes.
        "ALTER TABLE tenantry.tenants ENABLE ROW LEVEL SECURITY",
        "ALTER TABLE tenantry.tenants FORCE ROW LEVEL SECURITY",
        *tenant_root_policies_sql(roles),
        "REVOKE ALL ON tenantry.tenants FROM PUBLIC",
        f'GRANT SELECT ON tenantry.tenants TO "{runtime}"',
        f'GRANT SELECT, INSERT, UPDATE, DELETE ON tenantry.tenants TO "{platform}"',
        *scoped_table_sql(TENANT_APPS, roles),
        *scoped_table_sql(APP_USERS, roles),
        *scoped_table_sql(APP_USER_PREFERENCES, roles),
    ]
    for statement in statements:
        op.execute(statement)
    for slug, name, description in SEED_APPS:
        op.get_bind().exec_driver_sql(
            "INSERT INTO tenantry.apps (id, slug, name, description) VALUES (%s, %s, %s, %s)",
            (uuid7(), slug, name, description),
        )
