"""Identity: passwords, sessions, refresh tokens, MFA, API tokens, external issuers, mail outbox,
security events, cross-app correlation, per-app signing keys and login throttling.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from alembic import op

from tenantry.isolation.ddl import (
    Reference,
    RuntimeAccess,
    Scope,
    ScopedTable,
    scoped_table_sql,
)

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

USER = Reference(("app_id", "app_user_id"), "app_users", ("app_id", "id"), "CASCADE")

SESSIONS = ScopedTable(
    name="sessions",
    scope=Scope.APP,
    columns=(
        "app_user_id uuid NOT NULL",
        "auth_method text NOT NULL",
        "created_at timestamptz NOT NULL DEFAULT now()",
        "last_used_at timestamptz NOT NULL DEFAULT now()",
        "expires_at timestamptz NOT NULL",
        "revoked_at timestamptz",
        "revoked_reason text",
        "ip text",
        "user_agent text CHECK (length(user_agent) <= 500)",
    ),
    references=(USER,),
    unique=("id",),
    indexes=("app_user_id",),
)

REFRESH_TOKENS = ScopedTable(
    name="refresh_tokens",
    scope=Scope.APP,
    columns=(
        "session_id uuid NOT NULL",
        "token_hash bytea NOT NULL",
        "created_at timestamptz NOT NULL DEFAULT now()",
        "expires_at timestamptz NOT NULL",
        "used_at timestamptz",
    ),
    references=(Reference(("app_id", "session_id"), "sessions", ("app_id", "id"), "CASCADE"),),
    unique=("token_hash",),
)

ONE_TIME_TOKENS = ScopedTable(
    name="one_time_tokens",
    scope=Scope.APP,
    columns=(
        "app_user_id uuid NOT NULL",
        "purpose text NOT NULL CHECK (purpose IN ('verify_email', 'reset_password'))",
        "token_hash bytea NOT NULL",
        "created_at timestamptz NOT NULL DEFAULT now()",
        "expires_at timestamptz NOT NULL",
        "used_at timestamptz",
    ),
    references=(USER,),
    unique=("token_hash",),
)

RECOVERY_CODES = ScopedTable(
    name="mfa_recovery_codes",
    scope=Scope.APP,
    columns=(
        "app_user_id uuid NOT NULL",
        "code_hash bytea NOT NULL",
        "used_at timestamptz",
    ),
    references=(USER,),
    unique=("app_user_id, code_hash",),
)

API_TOKENS = ScopedTable(
    name="api_tokens",
    scope=Scope.APP,
    columns=(
        "app_user_id uuid NOT NULL",
        "name text NOT NULL CHECK (length(name) BETWEEN 1 AND 100)",
        "token_hash bytea NOT NULL",
        "display_prefix text NOT NULL",
        "scopes text[] NOT NULL DEFAULT '{}'",
        "created_at timestamptz NOT NULL DEFAULT now()",
        "expires_at timestamptz",
        "revoked_at timestamptz",
        "last_used_at timestamptz",
    ),
    references=(USER,),
    unique=("token_hash",),
    indexes=("app_user_id",),
)

EXTERNAL_ISSUERS = ScopedTable(
    name="external_issuers",
    scope=Scope.APP,
    columns=(
        "issuer text NOT NULL CHECK (issuer ~ '^https?://')",
        "audience text NOT NULL",
        "jwks_uri text NOT NULL CHECK (jwks_uri ~ '^https?://')",
        "algorithms text[] NOT NULL DEFAULT '{RS256,ES256,EdDSA}'",
        "created_at timestamptz NOT NULL DEFAULT now()",
    ),
    unique=("issuer",),
)

IDENTITY_LINKS = ScopedTable(
    name="user_identity_links",
    scope=Scope.APP,
    columns=(
        "app_user_id uuid NOT NULL",
        "issuer text NOT NULL",
        "subject text NOT NULL",
        "created_at timestamptz NOT NULL DEFAULT now()",
    ),
    references=(USER,),
    unique=("issuer, subject",),
)

MAIL_OUTBOX = ScopedTable(
    name="mail_outbox",
    scope=Scope.APP,
    columns=(
        "to_address text NOT NULL",
        "subject text NOT NULL",
        "body text NOT NULL",
        "created_at timestamptz NOT NULL DEFAULT now()",
        "sent_at timestamptz",
    ),
    indexes=("created_at",),
)

SECURITY_EVENTS = ScopedTable(
    name="security_events",
    scope=Scope.TENANT,
    runtime_access=RuntimeAccess.APPEND_ONLY,
    columns=(
        "app_id uuid REFERENCES tenantry.apps (id)",
        "app_user_id uuid",
        "kind text NOT NULL CHECK (kind ~ '^[a-z_]{1,64}$')",
        (
            "severity text NOT NULL DEFAULT 'warning'"
            " CHECK (severity IN ('info', 'warning', 'critical'))"
        ),
        "ip text",
        "request_id text",
        "detail jsonb NOT NULL DEFAULT '{}'",
        "created_at timestamptz NOT NULL DEFAULT now()",
    ),
    indexes=("created_at", "kind, created_at"),
)

CORRELATION = ScopedTable(
    name="cross_app_user_correlation",
    scope=Scope.TENANT,
    runtime_access=RuntimeAccess.NONE,
    columns=(
        "person_id uuid NOT NULL",
        "app_id uuid NOT NULL",
        "app_user_id uuid NOT NULL",
        "email_normalized text NOT NULL",
        "created_at timestamptz NOT NULL DEFAULT now()",
    ),
    references=(Reference(("app_id", "app_user_id"), "app_users", ("app_id", "id"), "CASCADE"),),
    unique=("app_id, app_user_id",),
    indexes=("person_id", "email_normalized"),
)


def upgrade() -> None:
    config = op.get_context().config
    assert config is not None
    roles = config.attributes["roles"]
    platform = roles.platform
    statements = [
        "ALTER TABLE tenantry.app_users ADD COLUMN password_hash text",
        "ALTER TABLE tenantry.app_users ADD COLUMN password_changed_at timestamptz",
        "ALTER TABLE tenantry.app_users ADD COLUMN mfa_secret text",
        "ALTER TABLE tenantry.app_users ADD COLUMN mfa_enabled boolean NOT NULL DEFAULT false",
        "ALTER TABLE tenantry.app_users ADD COLUMN last_login_at timestamptz",
        *scoped_table_sql(SESSIONS, roles),
        *scoped_table_sql(REFRESH_TOKENS, roles),
        *scoped_table_sql(ONE_TIME_TOKENS, roles),
        *scoped_table_sql(RECOVERY_CODES, roles),
        *scoped_table_sql(API_TOKENS, roles),
        *scoped_table_sql(EXTERNAL_ISSUERS, roles),
        *scoped_table_sql(IDENTITY_LINKS, roles),
        *scoped_table_sql(MAIL_OUTBOX, roles),
        *scoped_table_sql(SECURITY_EVENTS, roles),
        *scoped_table_sql(CORRELATION, roles),
        # Per-app token signing keys: global, read only by the platform role (which signs).
        """
        CREATE TABLE tenantry_private.app_signing_keys (
            kid text PRIMARY KEY,
            app_id uuid NOT NULL REFERENCES tenantry.apps (id),
            algorithm text NOT NULL CHECK (algorithm IN ('EdDSA', 'ES256')),
            private_key text NOT NULL,
            public_jwk jsonb NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            retired_at timestamptz
        )
        """,
        "CREATE INDEX ON tenantry_private.app_signing_keys (app_id, created_at)",
        f'GRANT SELECT, INSERT, UPDATE ON tenantry_private.app_signing_keys TO "{platform}"',
        # Failed-login counters per account and per client address, shared by every worker.
        """
        CREATE TABLE tenantry_private.login_throttle (
            key bytea PRIMARY KEY,
            failures integer NOT NULL DEFAULT 0,
            window_started_at timestamptz NOT NULL DEFAULT now(),
            locked_until timestamptz
        )
        """,
        f'GRANT SELECT, INSERT, UPDATE, DELETE ON tenantry_private.login_throttle TO "{platform}"',
        # Readiness probes compare the schema's revision with the code's, without reading
        # tenantry_private directly.
        """
        CREATE FUNCTION tenantry.schema_revision() RETURNS text
        LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
        AS $fn$ SELECT version_num FROM tenantry_private.alembic_version LIMIT 1 $fn$
        """,
        "REVOKE ALL ON FUNCTION tenantry.schema_revision() FROM PUBLIC",
        f'GRANT EXECUTE ON FUNCTION tenantry.schema_revision() TO "{platform}"',
    ]
    for statement in statements:
        op.execute(statement)
