"""Two indexes of `event_deliveries` that no query needs, dropped: every delivery is written three
times (fanned out, claimed, settled), and each write went to every index.

- `(tenant_id, event_id)`: the unique key `(tenant_id, event_id, consumer)` leads with the same
  columns and serves the same lookups;
- `(tenant_id, consumer, ordering_key, event_created_at, event_id)`: the claim's ordering check
  uses the partial index of unfinished deliveries (`event_deliveries_unfinished_keys`).

Revision ID: 0021
Revises: 0020
Create Date: 2026-11-26
"""

from __future__ import annotations

from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

DROPPED = (
    "tenant_id, event_id",
    "tenant_id, consumer, ordering_key, event_created_at, event_id",
)


def upgrade() -> None:
    columns = "|".join(DROPPED)
    op.execute(
        f"""
        DO $$
        DECLARE
            name text;
        BEGIN
            FOR name IN
                SELECT c.relname
                  FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
                 WHERE i.indrelid = 'tenantry.event_deliveries'::regclass
                   AND NOT i.indisunique AND i.indpred IS NULL
                   AND pg_get_indexdef(i.indexrelid) ~ '\\(({columns})\\)$'
            LOOP
                EXECUTE format('DROP INDEX tenantry.%I', name);
            END LOOP;
        END
        $$
        """
    )


def downgrade() -> None:
    for columns in DROPPED:
        op.execute(f"CREATE INDEX ON tenantry.event_deliveries ({columns})")
