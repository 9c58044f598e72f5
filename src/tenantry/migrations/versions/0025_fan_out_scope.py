"""The event fan-out's own policies hold it to the event's tenant.

Revision 0017 gave the owner role (the fan-out trigger runs with its rights) a policy on
`event_subscriptions` (read) and `event_deliveries` (insert) meant to match the row's tenant
with the context's. Its `tenant_id`, written inside the sub-select of `tenantry.current_scope`,
named the view's column, not the table's: the test compared the context's tenant with itself,
so any verified context passed, whatever the row's tenant. The trigger names the event's
tenant in its own statements, so no row crossed; this puts the policy's check back under it.

Revision ID: 0025
Revises: 0024
Create Date: 2026-11-27
"""

from __future__ import annotations

from alembic import op

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None

POLICIES = (
    ("fan_out_read", "tenantry.event_subscriptions", "USING"),
    ("fan_out_write", "tenantry.event_deliveries", "WITH CHECK"),
)


def _scope(table: str, own: bool) -> str:
    column = f"{table.split('.')[1]}.tenant_id" if own else "tenant_id"
    return (
        f"(SELECT s.platform OR s.tenant_id IS NOT DISTINCT FROM {column}"
        " FROM tenantry.current_scope s)"
    )


def _recreate(own: bool) -> None:
    config = op.get_context().config
    assert config is not None
    roles = config.attributes["roles"]
    for name, table, clause in POLICIES:
        command = "SELECT" if clause == "USING" else "INSERT"
        op.execute(f"DROP POLICY {name} ON {table}")
        op.execute(
            f'CREATE POLICY {name} ON {table} AS PERMISSIVE FOR {command} TO "{roles.owner}"'
            f" {clause} ({_scope(table, own)})"
        )


def upgrade() -> None:
    _recreate(own=True)


def downgrade() -> None:
    _recreate(own=False)
