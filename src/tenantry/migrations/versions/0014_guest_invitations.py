"""Guest invitations: a host tenant's administrator invites an address into one of its groups;
the invited person accepts while signed in to their home tenant, and becomes a guest.

`guest_invitations` is a tenant table of the host (the invited app is a column, like the
guests marker, because the inviting administrator acts in the admin app): who invited which
address into which group and app, the hash of the mailed single-use token, its expiry, and
the guest identity it became. Acceptance runs on the platform path (it writes the link to the
home identity), so the host's context only ever sees its own side.

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-26
"""

from __future__ import annotations

from alembic import op

from tenantry.isolation.ddl import Reference, Scope, ScopedTable, scoped_table_sql

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

GUEST_INVITATIONS = ScopedTable(
    name="guest_invitations",
    scope=Scope.TENANT,
    columns=(
        "group_id uuid NOT NULL",
        "guest_app_id uuid NOT NULL REFERENCES tenantry.apps (id)",
        "email text NOT NULL CHECK (length(email) BETWEEN 3 AND 320 AND email LIKE '%_@_%')",
        "email_normalized text NOT NULL",
        "token_hash bytea NOT NULL",
        "invited_by text NOT NULL CHECK (length(invited_by) <= 500)",
        "created_at timestamptz NOT NULL DEFAULT now()",
        "expires_at timestamptz NOT NULL",
        "accepted_at timestamptz",
        "app_user_id uuid",
        "revoked_at timestamptz",
        "revoked_by text CHECK (length(revoked_by) <= 500)",
    ),
    references=(
        Reference(("group_id",), "groups", on_delete="CASCADE"),
        Reference(("guest_app_id", "app_user_id"), "app_users", ("app_id", "id"), "CASCADE"),
    ),
    unique=("token_hash",),
    indexes=("created_at",),
    checks=(
        "accepted_at IS NULL OR revoked_at IS NULL",
        "(accepted_at IS NULL) = (app_user_id IS NULL)",
        "(revoked_at IS NULL) = (revoked_by IS NULL)",
    ),
)


def upgrade() -> None:
    config = op.get_context().config
    assert config is not None
    for statement in scoped_table_sql(GUEST_INVITATIONS, config.attributes["roles"]):
        op.execute(statement)
    # One open invitation per address, group and app: inviting again resends it.
    op.execute(
        "CREATE UNIQUE INDEX guest_invitations_open ON tenantry.guest_invitations "
        "(tenant_id, group_id, guest_app_id, email_normalized) "
        "WHERE accepted_at IS NULL AND revoked_at IS NULL"
    )


def downgrade() -> None:
    op.execute(f"DROP TABLE {GUEST_INVITATIONS.qualified}")
    op.execute(
        "DELETE FROM tenantry.scoped_tables "
        "WHERE table_schema = 'tenantry' AND table_name = 'guest_invitations'"
    )
