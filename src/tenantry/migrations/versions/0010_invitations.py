"""Invitations into an app with roles, user deactivation, and one person in several tenants.

- `invitations` (app-scoped, generated): who was invited by which administrator, with which
  role keys; only the hash of the single-use token is stored.
- `app_users` records a deactivation (when, by whom, why) and when Tenantry itself proved the
  address by a mailed code (`email_proven_at`: verification, password reset, invitation); a
  verified flag set on someone else's word (an external issuer, an operator) does not count.
- A partial index on (app_id, email_normalized) of proven identities serves the one lookup that
  spans tenants: a person's identities in the other tenants of an app (platform path only).
- `sessions.signed_in_at`: the interactive sign-in a session descends from; a session opened by
  a token exchange keeps its subject's, so the exchange never makes a sign-in look recent.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-26
"""

from __future__ import annotations

from alembic import op

from tenantry.isolation.ddl import Reference, Scope, ScopedTable, scoped_table_sql

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

INVITATIONS = ScopedTable(
    name="invitations",
    scope=Scope.APP,
    columns=(
        "email text NOT NULL CHECK (length(email) BETWEEN 3 AND 320 AND email LIKE '%_@_%')",
        "email_normalized text NOT NULL",
        "display_name text CHECK (length(display_name) <= 200)",
        "role_keys text[] NOT NULL DEFAULT '{}' CHECK (cardinality(role_keys) <= 20)",
        "token_hash bytea NOT NULL",
        "invited_by text NOT NULL",
        "created_at timestamptz NOT NULL DEFAULT now()",
        "expires_at timestamptz NOT NULL",
        "last_sent_at timestamptz NOT NULL DEFAULT now()",
        "send_count integer NOT NULL DEFAULT 1 CHECK (send_count >= 1)",
        "accepted_at timestamptz",
        "app_user_id uuid",
        "roles_applied_at timestamptz",
        "revoked_at timestamptz",
        "revoked_by text",
        "revoked_reason text CHECK (length(revoked_reason) <= 500)",
    ),
    references=(Reference(("app_id", "app_user_id"), "app_users", ("app_id", "id"), "CASCADE"),),
    unique=("token_hash",),
    indexes=("created_at",),
    checks=(
        "accepted_at IS NULL OR revoked_at IS NULL",
        "(accepted_at IS NULL) = (app_user_id IS NULL)",
    ),
)

_APP_USER_COLUMNS = (
    "email_proven_at timestamptz",
    "deactivated_at timestamptz",
    "deactivated_by text",
    "deactivation_reason text CHECK (length(deactivation_reason) <= 500)",
)


def upgrade() -> None:
    config = op.get_context().config
    assert config is not None
    roles = config.attributes["roles"]
    statements = [
        *(f"ALTER TABLE tenantry.app_users ADD COLUMN {c}" for c in _APP_USER_COLUMNS),
        # The cross-tenant lookup of one person's identities in an app (platform path).
        (
            "CREATE INDEX app_users_same_person ON tenantry.app_users (app_id, email_normalized) "
            "WHERE email_proven_at IS NOT NULL"
        ),
        "ALTER TABLE tenantry.sessions ADD COLUMN signed_in_at timestamptz",
        *scoped_table_sql(INVITATIONS, roles),
        # One open invitation per address and app: a second one is a resend.
        (
            "CREATE UNIQUE INDEX invitations_open ON tenantry.invitations "
            "(tenant_id, app_id, email_normalized) WHERE accepted_at IS NULL AND revoked_at IS NULL"
        ),
    ]
    for statement in statements:
        op.execute(statement)


def downgrade() -> None:
    op.execute(
        "DELETE FROM tenantry.scoped_tables "
        "WHERE table_schema = 'tenantry' AND table_name = 'invitations'"
    )
    op.execute("DROP TABLE tenantry.invitations")
    op.execute("ALTER TABLE tenantry.sessions DROP COLUMN signed_in_at")
    op.execute("DROP INDEX tenantry.app_users_same_person")
    for column in reversed(_APP_USER_COLUMNS):
        op.execute(f"ALTER TABLE tenantry.app_users DROP COLUMN {column.split()[0]}")
