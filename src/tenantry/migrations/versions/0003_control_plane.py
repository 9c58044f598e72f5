"""Control plane: tenant lifecycle and its audit trail, provisioning idempotency, domains,
settings with history, feature flags with versions and overrides, deprecation usage, and the
migration log.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from alembic import op

from tenantry.isolation.ddl import (
    RuntimeAccess,
    Scope,
    ScopedTable,
    catalog_grants_sql,
    scoped_table_sql,
)

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

LIFECYCLE = ScopedTable(
    name="tenant_lifecycle_events",
    scope=Scope.TENANT,
    runtime_access=RuntimeAccess.NONE,
    kept_after_purge=True,
    columns=(
        "from_status text",
        "to_status text NOT NULL",
        "reason text NOT NULL CHECK (length(reason) BETWEEN 1 AND 1000)",
        "actor text NOT NULL",
        "created_at timestamptz NOT NULL DEFAULT now()",
    ),
    indexes=("created_at",),
)

DOMAINS = ScopedTable(
    name="tenant_domains",
    scope=Scope.TENANT,
    runtime_access=RuntimeAccess.READ_ONLY,
    columns=(
        (
            "domain text NOT NULL CHECK "
            "(domain ~ '^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z]{2,63}$')"
        ),
        "verification_token text NOT NULL",
        "verified_at timestamptz",
        "is_primary boolean NOT NULL DEFAULT false",
        "created_at timestamptz NOT NULL DEFAULT now()",
    ),
    unique=("domain",),
)

SETTINGS = ScopedTable(
    name="tenant_settings",
    scope=Scope.TENANT,
    runtime_access=RuntimeAccess.READ_ONLY,
    columns=(
        "key text NOT NULL",
        "value jsonb NOT NULL",
        "updated_at timestamptz NOT NULL DEFAULT now()",
        "updated_by text NOT NULL",
    ),
    unique=("key",),
)

SETTINGS_HISTORY = ScopedTable(
    name="tenant_setting_history",
    scope=Scope.TENANT,
    runtime_access=RuntimeAccess.NONE,
    columns=(
        "key text NOT NULL",
        "old_value jsonb",
        "new_value jsonb",
        "actor text NOT NULL",
        "reason text",
        "created_at timestamptz NOT NULL DEFAULT now()",
    ),
    indexes=("key, created_at",),
)

FLAG_OVERRIDES = ScopedTable(
    name="feature_flag_overrides",
    scope=Scope.TENANT,
    runtime_access=RuntimeAccess.READ_ONLY,
    columns=(
        "flag_key text NOT NULL REFERENCES tenantry.feature_flags (key)",
        # NULL: every app of the tenant; otherwise one app.
        "app_id uuid REFERENCES tenantry.apps (id)",
        "value jsonb NOT NULL",
        # NULL: everyone; otherwise the share of tenants (by a stable hash of the tenant id)
        # that get `value`, the others the flag's default.
        "rollout_percent integer CHECK (rollout_percent BETWEEN 0 AND 100)",
        "version integer NOT NULL",
        "updated_at timestamptz NOT NULL DEFAULT now()",
    ),
    # One override per flag for the whole tenant (app_id NULL) and one per app.
    unique=("flag_key, coalesce(app_id, '00000000-0000-0000-0000-000000000000'::uuid)",),
)

FLAG_OVERRIDE_VERSIONS = ScopedTable(
    name="feature_flag_override_versions",
    scope=Scope.TENANT,
    runtime_access=RuntimeAccess.NONE,
    columns=(
        "flag_key text NOT NULL",
        "app_id uuid",
        "version integer NOT NULL",
        # The override as it stood after this change; NULL when the change removed it.
        "value jsonb",
        "rollout_percent integer",
        "removed boolean NOT NULL DEFAULT false",
        "actor text NOT NULL",
        "reason text NOT NULL",
        "created_at timestamptz NOT NULL DEFAULT now()",
    ),
    indexes=("flag_key, version",),
)

DEPRECATION_USAGE = ScopedTable(
    name="deprecation_usage",
    scope=Scope.TENANT,
    runtime_access=RuntimeAccess.NONE,
    columns=(
        "kind text NOT NULL CHECK (kind IN ('flag', 'endpoint'))",
        "name text NOT NULL",
        "app_slug text NOT NULL DEFAULT ''",
        "uses bigint NOT NULL DEFAULT 0",
        "first_used_at timestamptz NOT NULL DEFAULT now()",
        "last_used_at timestamptz NOT NULL DEFAULT now()",
    ),
    unique=("kind, name, app_slug",),
)


def upgrade() -> None:
    config = op.get_context().config
    assert config is not None
    roles = config.attributes["roles"]
    platform = roles.platform
    statements = [
        # Lifecycle: `purged` is a tombstone that keeps the slug reserved and the audit trail.
        "ALTER TABLE tenantry.tenants DROP CONSTRAINT tenants_status_check",
        (
            "ALTER TABLE tenantry.tenants ADD CONSTRAINT tenants_status_check CHECK "
            "(status IN ('pending', 'active', 'suspended', 'deprovisioned', 'purged'))"
        ),
        "ALTER TABLE tenantry.tenants ADD COLUMN deprovisioned_at timestamptz",
        "ALTER TABLE tenantry.tenants ADD COLUMN purge_after timestamptz",
        *scoped_table_sql(LIFECYCLE, roles),
        # Provisioning is idempotent per key: a retry returns the tenant the first call made.
        """
        CREATE TABLE tenantry_private.provisioning_requests (
            idempotency_key text PRIMARY KEY CHECK (length(idempotency_key) BETWEEN 1 AND 200),
            request_hash bytea NOT NULL,
            tenant_id uuid NOT NULL REFERENCES tenantry.tenants (id),
            created_at timestamptz NOT NULL DEFAULT now()
        )
        """,
        f'GRANT SELECT, INSERT, DELETE ON tenantry_private.provisioning_requests TO "{platform}"',
        *scoped_table_sql(DOMAINS, roles),
        # A verified domain belongs to one tenant: a global claim, readable only by the platform.
        """
        CREATE TABLE tenantry_private.domain_claims (
            domain text PRIMARY KEY,
            tenant_id uuid NOT NULL REFERENCES tenantry.tenants (id),
            claimed_at timestamptz NOT NULL DEFAULT now()
        )
        """,
        f'GRANT SELECT, INSERT, DELETE ON tenantry_private.domain_claims TO "{platform}"',
        *scoped_table_sql(SETTINGS, roles),
        *scoped_table_sql(SETTINGS_HISTORY, roles),
        """
        CREATE TABLE tenantry.feature_flags (
            key text PRIMARY KEY CHECK (key ~ '^[a-z][a-z0-9_.-]{1,99}$'),
            type text NOT NULL CHECK (type IN ('boolean', 'string', 'number', 'json')),
            default_value jsonb NOT NULL,
            description text NOT NULL DEFAULT '',
            owner text NOT NULL DEFAULT '',
            status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'deprecated')),
            version integer NOT NULL DEFAULT 1,
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now()
        )
        """,
        *catalog_grants_sql("tenantry.feature_flags", roles),
        """
        CREATE TABLE tenantry.feature_flag_versions (
            flag_key text NOT NULL REFERENCES tenantry.feature_flags (key),
            version integer NOT NULL,
            snapshot jsonb NOT NULL,
            actor text NOT NULL,
            reason text NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (flag_key, version)
        )
        """,
        "REVOKE ALL ON tenantry.feature_flag_versions FROM PUBLIC",
        f'GRANT SELECT, INSERT ON tenantry.feature_flag_versions TO "{platform}"',
        *scoped_table_sql(FLAG_OVERRIDES, roles),
        *scoped_table_sql(FLAG_OVERRIDE_VERSIONS, roles),
        *scoped_table_sql(DEPRECATION_USAGE, roles),
        # When each revision was applied, for `tenantry db status`.
        """
        CREATE TABLE tenantry_private.migration_log (
            revision text NOT NULL,
            applied_at timestamptz NOT NULL DEFAULT now(),
            applied_by text NOT NULL DEFAULT session_user
        )
        """,
    ]
    for statement in statements:
        op.execute(statement)
