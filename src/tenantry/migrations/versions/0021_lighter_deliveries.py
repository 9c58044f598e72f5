"""Deliveries indexed for what the worker asks, and nothing else: every delivery is written three
times (fanned out, claimed, settled), and each write goes to every index.

- `event_deliveries_due` becomes a partial index of unfinished deliveries by due time. A claim
  sets the delivery's `next_attempt_at` to its lease's end, so "due" is one condition, pending
  or leased alike, read in index order: a claim reads what it takes instead of sorting every
  delivery the table ever held (the old `(status, next_attempt_at)` index could not serve the
  two-branch condition, and the plan was a sequential scan).
- `(tenant_id, event_id)` is dropped: the unique key `(tenant_id, event_id, consumer)` leads
  with the same columns.
- `(tenant_id, consumer, ordering_key, event_created_at, event_id)` is dropped: the ordering
  check uses the partial index of unfinished keyed deliveries.
- On every app-scoped table, the bare `(tenant_id, app_id)` index is dropped where another
  index leads with those columns (the generator no longer makes it there): it only cost every
  write (each consumption recorded, each event published) and, on `events`, misled the planner
  before a new month's partition had statistics into reading a tenant's whole month of events
  for each delivery a claim joins to its event.
- `tenantry.analyze_event_partitions()` (SECURITY DEFINER, the platform role may call it):
  analyzes each events partition, and the deliveries and consumption tables, once more rows
  changed than it held at its last analysis (at least 1,000). A new month's partition, or a new
  installation's tables, have no statistics until autovacuum's next round, and a minute of plans
  made without them is slow at thousands of events a second; the worker calls it every second.

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

# An index on exactly (tenant_id, app_id), as pg_get_indexdef ends it.
BARE = r"\(tenant_id, app_id\)$"
DROPPED = (
    "tenant_id, event_id",
    "tenant_id, consumer, ordering_key, event_created_at, event_id",
)

ANALYZE_FUNCTION = "tenantry.analyze_event_partitions()"
ANALYZE_PARTITIONS = """
CREATE FUNCTION tenantry.analyze_event_partitions() RETURNS SETOF text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    part regclass;
BEGIN
    FOR part IN
        SELECT c.oid::regclass
          FROM pg_class c
          JOIN pg_stat_user_tables s ON s.relid = c.oid
         WHERE (c.oid IN (SELECT inhrelid FROM pg_inherits
                           WHERE inhparent = 'tenantry.events'::regclass)
                OR c.oid IN ('tenantry.event_deliveries'::regclass,
                             'tenantry.event_consumption'::regclass))
           AND s.n_mod_since_analyze > greatest(1000, c.reltuples)
    LOOP
        EXECUTE format('ANALYZE %s', part);
        RETURN NEXT part::text;
    END LOOP;
END
$fn$
"""


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
    op.execute(
        f"""
        DO $$
        DECLARE
            bare regclass;
        BEGIN
            FOR bare IN
                SELECT i.indexrelid::regclass
                  FROM pg_index i
                  JOIN pg_class t ON t.oid = i.indrelid
                  JOIN pg_namespace n ON n.oid = t.relnamespace
                 WHERE n.nspname = 'tenantry' AND NOT t.relispartition
                   AND NOT i.indisunique AND i.indpred IS NULL
                   AND pg_get_indexdef(i.indexrelid) ~ '{BARE}'
                   AND EXISTS (
                       SELECT 1 FROM pg_index o
                        WHERE o.indrelid = i.indrelid AND o.indexrelid <> i.indexrelid
                          AND o.indpred IS NULL AND o.indnatts > 2
                          AND (o.indkey::int2[])[0:1] = (i.indkey::int2[])[0:1])
            LOOP
                EXECUTE format('DROP INDEX %s', bare);
            END LOOP;
        END
        $$
        """
    )
    config = op.get_context().config
    assert config is not None
    roles = config.attributes["roles"]
    op.execute(ANALYZE_PARTITIONS)
    op.execute(f"REVOKE ALL ON FUNCTION {ANALYZE_FUNCTION} FROM PUBLIC")
    op.execute(f'GRANT EXECUTE ON FUNCTION {ANALYZE_FUNCTION} TO "{roles.platform}"')
    # Deliveries leased before this migration are due when their lease ends.
    op.execute(
        "UPDATE tenantry.event_deliveries SET next_attempt_at = claimed_until"
        " WHERE status = 'delivering' AND claimed_until IS NOT NULL"
    )
    op.execute("DROP INDEX tenantry.event_deliveries_due")
    op.execute(
        "CREATE INDEX event_deliveries_due ON tenantry.event_deliveries (next_attempt_at)"
        " WHERE status IN ('pending', 'delivering')"
    )


def downgrade() -> None:
    op.execute(f"DROP FUNCTION {ANALYZE_FUNCTION}")
    op.execute(
        f"""
        DO $$
        DECLARE
            scoped regclass;
        BEGIN
            FOR scoped IN
                SELECT format('%I.%I', r.table_schema, r.table_name)::regclass
                  FROM tenantry.scoped_tables r
                 WHERE r.scope = 'app'
                   AND NOT EXISTS (
                       SELECT 1 FROM pg_index i
                        WHERE i.indrelid = format('%I.%I', r.table_schema, r.table_name)::regclass
                          AND pg_get_indexdef(i.indexrelid) ~ '{BARE}')
            LOOP
                EXECUTE format('CREATE INDEX ON %s (tenant_id, app_id)', scoped);
            END LOOP;
        END
        $$
        """
    )
    op.execute("DROP INDEX tenantry.event_deliveries_due")
    op.execute(
        "CREATE INDEX event_deliveries_due ON tenantry.event_deliveries (status, next_attempt_at)"
    )
    for columns in DROPPED:
        op.execute(f"CREATE INDEX ON tenantry.event_deliveries ({columns})")
