"""Per-tenant statement timings, as the service measured them (`tenantry doctor --tenant`).

`pg_stat_statements` cannot tell tenants apart (the tenant id is a parameter), so each service
process times its statements per tenant and adds them here every minute or so, by hour:
platform data in `tenantry_private`, out of the runtime role's reach, written and read by the
platform role. A row holds no value of any statement, only its shape's fingerprint, counts,
times and a histogram (`kit.query_stats`: bucket index -> calls) from which a p95 is read;
`query_shapes` holds each shape's normalised text once.

Revision ID: 0022
Revises: 0021
Create Date: 2026-11-26
"""

from __future__ import annotations

from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    config = op.get_context().config
    assert config is not None
    roles = config.attributes["roles"]
    op.execute(
        """
        CREATE TABLE tenantry_private.query_shapes (
            fingerprint text PRIMARY KEY CHECK (fingerprint ~ '^[0-9a-f]{16}$'),
            keyword text NOT NULL,
            statement text NOT NULL,
            first_seen timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    # No foreign key to tenants: a purged tenant's timings leave with the retention window.
    op.execute(
        """
        CREATE TABLE tenantry_private.query_stats (
            tenant_id uuid NOT NULL,
            hour timestamptz NOT NULL,
            fingerprint text NOT NULL,
            calls bigint NOT NULL CHECK (calls > 0),
            total_seconds double precision NOT NULL,
            histogram jsonb NOT NULL,
            PRIMARY KEY (tenant_id, hour, fingerprint)
        )
        """
    )
    op.execute("CREATE INDEX query_stats_hour ON tenantry_private.query_stats (hour)")
    op.execute(
        "GRANT SELECT, INSERT, UPDATE, DELETE"
        " ON tenantry_private.query_shapes, tenantry_private.query_stats"
        f' TO "{roles.platform}"'
    )


def downgrade() -> None:
    op.execute("DROP TABLE tenantry_private.query_stats")
    op.execute("DROP TABLE tenantry_private.query_shapes")
