"""Placements: the databases tenants live in, and the guard that keeps a tenant's rows in one.

`tenantry.placements` names each database a tenant may live in: `shared`, this database, and
silo databases on any server (a URL without credentials: Tenantry reaches every placement with
the same roles). `tenants.placement` says where each tenant's rows are; the home database is
the registry and every other placement holds the global catalogs as reference data.

`tenants.residency` is each database's own view of a tenant: `resident` (its rows live here),
`frozen` (a move is copying them: reads go on, writes wait), `arriving` (a move is writing them
here; only the platform may), `departed` (moved away; only deleting what is left is allowed).
A trigger on every tenant table enforces it, so a request routed by a stale cache, or control
plane work not yet routed, is refused instead of writing where the tenant no longer lives.
`tenantry_private.tenant_moves` journals each move, so a crashed one is finished or undone.

Revision ID: 0024
Revises: 0023
Create Date: 2026-11-26
"""

from __future__ import annotations

from alembic import op

from tenantry.isolation.residency import RESIDENCY_GUARD, residency_guard_sql

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade() -> None:
    config = op.get_context().config
    assert config is not None
    roles = config.attributes["roles"]
    op.execute(
        """
        CREATE TABLE tenantry.placements (
            name text PRIMARY KEY CHECK (name ~ '^[a-z][a-z0-9-]{0,39}$'),
            url text NOT NULL DEFAULT '',
            created_at timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    op.execute("INSERT INTO tenantry.placements (name) VALUES ('shared')")
    op.execute("REVOKE ALL ON tenantry.placements FROM PUBLIC")
    op.execute(f'GRANT SELECT, INSERT, UPDATE, DELETE ON tenantry.placements TO "{roles.platform}"')
    op.execute(
        "ALTER TABLE tenantry.tenants"
        " ADD COLUMN placement text NOT NULL DEFAULT 'shared'"
        " REFERENCES tenantry.placements (name),"
        " ADD COLUMN residency text NOT NULL DEFAULT 'resident'"
        " CHECK (residency IN ('resident', 'frozen', 'arriving', 'departed'))"
    )
    op.execute("CREATE INDEX tenants_placement ON tenantry.tenants (placement)")
    op.execute(
        """
        CREATE TABLE tenantry_private.tenant_moves (
            tenant_id uuid PRIMARY KEY REFERENCES tenantry.tenants (id),
            source text NOT NULL REFERENCES tenantry.placements (name),
            target text NOT NULL REFERENCES tenantry.placements (name),
            step text NOT NULL CHECK (step IN ('frozen', 'copied', 'switched')),
            started_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now(),
            CHECK (source <> target)
        )
        """
    )
    op.execute(
        f'GRANT SELECT, INSERT, UPDATE, DELETE ON tenantry_private.tenant_moves TO "{roles.platform}"'
    )
    op.execute(RESIDENCY_GUARD)
    op.execute("REVOKE ALL ON FUNCTION tenantry_private.require_residency() FROM PUBLIC")
    tables = op.get_bind().exec_driver_sql(
        "SELECT format('%%I.%%I', table_schema, table_name) FROM tenantry.scoped_tables"
    )
    for (qualified,) in tables.fetchall():
        op.execute(residency_guard_sql(qualified))


def downgrade() -> None:
    op.execute("DROP FUNCTION tenantry_private.require_residency() CASCADE")
    op.execute("DROP TABLE tenantry_private.tenant_moves")
    op.execute("ALTER TABLE tenantry.tenants DROP COLUMN placement, DROP COLUMN residency")
    op.execute("DROP TABLE tenantry.placements")
