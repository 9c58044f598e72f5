"""Acting for another user: impersonation sessions and delegations, and the actor in the
signed context.

The verifier (`tenantry.current_scope`) gains `actor_id`: the flags of a context may end in
`~<user id>`, the user who really acts when the context's user is impersonated or delegated.
Letters are read only before the `~`, so an actor id can never switch a flag on. Old contexts
read exactly as before, so the downgrade keeps the view (a view's columns cannot be dropped
while every policy depends on it) and removes the rest.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-26
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from alembic import op

from tenantry.isolation.context_sql import CURRENT_ACTOR, context_scope_sql
from tenantry.isolation.ddl import Reference, RuntimeAccess, Scope, ScopedTable, scoped_table_sql

if TYPE_CHECKING:
    from tenantry.isolation.roles import Roles

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

IMPERSONATIONS = ScopedTable(
    name="impersonation_sessions",
    scope=Scope.APP,
    # Requests of the impersonated user re-check their session here; only the control plane
    # starts or ends one.
    runtime_access=RuntimeAccess.READ_ONLY,
    columns=(
        "target_user_id uuid NOT NULL",
        "actor_user_id uuid NOT NULL",
        "actor_tenant_id uuid NOT NULL",
        "actor text NOT NULL",
        "reason text NOT NULL CHECK (length(reason) BETWEEN 1 AND 1000)",
        "read_only boolean NOT NULL DEFAULT true",
        "started_at timestamptz NOT NULL DEFAULT now()",
        "expires_at timestamptz NOT NULL",
        "ended_at timestamptz",
        "ended_by text",
        "CHECK (expires_at > started_at)",
    ),
    references=(Reference(("app_id", "target_user_id"), "app_users", ("app_id", "id"), "CASCADE"),),
    indexes=("target_user_id, started_at", "started_at"),
)

DELEGATIONS = ScopedTable(
    name="delegations",
    scope=Scope.APP,
    runtime_access=RuntimeAccess.READ_WRITE,
    columns=(
        "grantor_id uuid NOT NULL",
        "delegate_id uuid NOT NULL",
        "scopes text[] NOT NULL",
        "privileges text[] NOT NULL DEFAULT '{}'",
        "reason text NOT NULL CHECK (length(reason) BETWEEN 1 AND 1000)",
        "starts_at timestamptz NOT NULL DEFAULT now()",
        "ends_at timestamptz NOT NULL",
        "revoked_at timestamptz",
        "created_at timestamptz NOT NULL DEFAULT now()",
        "CHECK (ends_at > starts_at)",
        "CHECK (grantor_id <> delegate_id)",
    ),
    references=(
        Reference(("app_id", "grantor_id"), "app_users", ("app_id", "id"), "CASCADE"),
        Reference(("app_id", "delegate_id"), "app_users", ("app_id", "id"), "CASCADE"),
    ),
    indexes=("delegate_id, ends_at", "grantor_id, ends_at"),
)

TABLES = (IMPERSONATIONS, DELEGATIONS)


def _roles() -> Roles:
    config = op.get_context().config
    assert config is not None
    roles: Roles = config.attributes["roles"]
    return roles


def upgrade() -> None:
    roles = _roles()
    for statement in (*context_scope_sql(roles), CURRENT_ACTOR):
        op.execute(statement)
    grantees = f'"{roles.runtime}", "{roles.platform}"'
    op.execute("REVOKE ALL ON FUNCTION tenantry.current_actor_id() FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION tenantry.current_actor_id() TO {grantees}")
    for table in TABLES:
        for statement in scoped_table_sql(table, roles):
            op.execute(statement)


def downgrade() -> None:
    for table in reversed(TABLES):
        op.execute(f"DROP TABLE {table.qualified}")
        op.execute(f"DELETE FROM tenantry.scoped_tables WHERE table_name = '{table.name}'")
    op.execute("DROP FUNCTION tenantry.current_actor_id()")
