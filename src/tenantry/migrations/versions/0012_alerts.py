"""Alerts raised by rules over security events, once per rule, tenant, source and window.

`tenantry.alerts` is a tenant table. One row per (rule, source, window): every matching event
counts itself into it with `INSERT … ON CONFLICT DO UPDATE` in the event's own transaction, so
concurrent events of one window queue on the row and the alert is raised (`raised_at`) exactly
once, by the event whose count reaches the rule's threshold; a rolled-back event leaves no count.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-26
"""

from __future__ import annotations

from alembic import op

from tenantry.isolation.ddl import Scope, ScopedTable, scoped_table_sql

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

ALERTS = ScopedTable(
    name="alerts",
    scope=Scope.TENANT,
    columns=(
        "rule text NOT NULL CHECK (rule ~ '^[a-z][a-z0-9_]{0,62}$')",
        # The event's source address, or '' when it had none.
        "source text NOT NULL CHECK (length(source) <= 100)",
        "window_start timestamptz NOT NULL",
        "occurrences integer NOT NULL DEFAULT 1 CHECK (occurrences >= 1)",
        "threshold integer NOT NULL CHECK (threshold >= 1)",
        "severity text NOT NULL CHECK (severity IN ('info', 'warning', 'critical'))",
        "last_kind text NOT NULL CHECK (last_kind ~ '^[a-z_]{1,64}$')",
        "first_event_at timestamptz NOT NULL DEFAULT now()",
        "last_event_at timestamptz NOT NULL DEFAULT now()",
        # Set once, when the count reaches the threshold: only raised rows are alerts.
        "raised_at timestamptz",
        (
            "status text NOT NULL DEFAULT 'open'"
            " CHECK (status IN ('open', 'acknowledged', 'resolved'))"
        ),
        "acknowledged_by text CHECK (length(acknowledged_by) <= 500)",
        "acknowledged_at timestamptz",
        "resolved_by text CHECK (length(resolved_by) <= 500)",
        "resolved_at timestamptz",
    ),
    unique=("rule, source, window_start",),
    indexes=("raised_at", "status, raised_at"),
    checks=(
        "(status = 'open') OR raised_at IS NOT NULL",
        "(acknowledged_at IS NULL) = (acknowledged_by IS NULL)",
        "(resolved_at IS NULL) = (resolved_by IS NULL)",
    ),
)


def upgrade() -> None:
    config = op.get_context().config
    assert config is not None
    roles = config.attributes["roles"]
    for statement in scoped_table_sql(ALERTS, roles):
        op.execute(statement)


def downgrade() -> None:
    op.execute(
        "DELETE FROM tenantry.scoped_tables "
        "WHERE table_schema = 'tenantry' AND table_name = 'alerts'"
    )
    op.execute("DROP TABLE tenantry.alerts")
