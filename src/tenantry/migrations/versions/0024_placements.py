"""Placements: the databases tenants live in, and the guard that keeps a tenant's rows in one.

`tenantry.placements` names each database a tenant may live in: `shared`, this database, and
silo databases on any server (a URL without credentials: Tenantry reaches every placement with
the same roles). `tenants.placement` says where each tenant's rows are; the home database is
the registry and every other placement holds the global catalogs as reference data.

`tenantry_private.tenant_residency` is each database's own view of a tenant: no row, resident
(its rows live here); `frozen` (a move is copying them: reads go on, writes wait), `arriving` (a
move is writing them here; only the platform may), `departed` (moved away; only the move's
clean-up may delete what is left).
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

# A move's clean-up (or undo) deletes the tenant's audit entries and secret access log where it
# no longer lives: both guards let a platform context through for the tenant it names in
# `tenantry.move_cleanup`, and the residency guard (which fires after them) refuses unless the
# tenant has departed from (or never arrived in) this database.
CLEANING_UP = """
        IF current_setting('tenantry.move_cleanup', true) = OLD.tenant_id::text
           AND (SELECT s.platform FROM tenantry.current_scope s) THEN
            RETURN OLD;
        END IF;"""

ALWAYS = (
    ("tenantry.audit_log", "audit_log_guard"),
    ("tenantry.audit_log", "audit_log_no_truncate"),
    ("tenantry.audit_log", "audit_log_append"),
    ("tenantry.audit_log", "audit_log_advance"),
    ("tenantry.secret_access_log", "secret_access_log_guard"),
    ("tenantry.secret_access_log", "secret_access_log_no_truncate"),
    ("tenantry.role_privileges", "access_grant_guard"),
    ("tenantry.role_template_overrides", "access_grant_guard"),
    ("tenantry.role_assignments", "access_grant_guard"),
)

# After a move's clean-up (or undo) deleted the tenant's audit entries here, its chain's head and
# checkpoints go too, so the tenant may come back later with its trail restored as it is then.
FORGET_CHAIN = """
CREATE FUNCTION tenantry_private.forget_audit_chain(p_tenant uuid) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF current_setting('tenantry.move_cleanup', true) IS DISTINCT FROM p_tenant::text
       OR NOT coalesce((SELECT s.platform FROM tenantry.current_scope s), false) THEN
        RAISE EXCEPTION 'only a move cleaning up may forget an audit chain'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF EXISTS (SELECT 1 FROM tenantry.audit_log a WHERE a.tenant_id = p_tenant) THEN
        RAISE EXCEPTION 'the tenant still has audit entries here'
            USING ERRCODE = 'object_in_use';
    END IF;
    DELETE FROM tenantry_private.audit_chain_heads WHERE tenant_id = p_tenant;
    DELETE FROM tenantry_private.audit_checkpoints WHERE tenant_id = p_tenant;
END
$fn$
"""

AUDIT_GUARD = """
CREATE OR REPLACE FUNCTION tenantry_private.audit_log_guard() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    -- Only `prune_audit_log` deletes, and only rows its checkpoint already covers.
    IF TG_OP = 'DELETE' THEN
        IF current_setting('tenantry.audit_pruning', true) = OLD.tenant_id::text
           AND OLD.seq <= (SELECT max(c.seq) FROM tenantry_private.audit_checkpoints c
                            WHERE c.tenant_id = OLD.tenant_id) THEN
            RETURN OLD;
        END IF;%s
    END IF;
    RAISE EXCEPTION 'the audit log is append-only: %% is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$fn$
"""

ACCESS_LOG_GUARD = """
CREATE OR REPLACE FUNCTION tenantry_private.secret_access_log_guard() RETURNS trigger
LANGUAGE plpgsql SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    -- A purge removes a deprovisioned tenant's rows in every table; nothing else deletes.
    -- The caller's own rights read the tenant: the platform role in its context sees it (a
    -- purge), the owner under forced row-level security sees nothing (refused).
    IF TG_OP = 'DELETE' THEN
        IF (SELECT t.status FROM tenantry.tenants t WHERE t.id = OLD.tenant_id)
           = 'deprovisioned' THEN
            RETURN OLD;
        END IF;%s
    END IF;
    RAISE EXCEPTION 'the secret access log is append-only: %% is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$fn$
"""

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
        " REFERENCES tenantry.placements (name)"
    )
    # Out of the served roles' reach and without row-level security: the guard reads it on
    # every write, with its owner's rights, for the price of one index probe (a tenants row
    # would cost a context verification under its policies).
    op.execute(
        """
        CREATE TABLE tenantry_private.tenant_residency (
            tenant_id uuid PRIMARY KEY REFERENCES tenantry.tenants (id) ON DELETE CASCADE,
            state text NOT NULL CHECK (state IN ('frozen', 'arriving', 'departed'))
        )
        """
    )
    op.execute(
        "GRANT SELECT, INSERT, UPDATE, DELETE ON tenantry_private.tenant_residency"
        f' TO "{roles.platform}"'
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
        "GRANT SELECT, INSERT, UPDATE, DELETE ON tenantry_private.tenant_moves"
        f' TO "{roles.platform}"'
    )
    op.execute(RESIDENCY_GUARD)
    op.execute("REVOKE ALL ON FUNCTION tenantry_private.require_residency() FROM PUBLIC")
    tables = op.get_bind().exec_driver_sql(
        "SELECT format('%%I.%%I', table_schema, table_name) FROM tenantry.scoped_tables"
    )
    for (qualified,) in tables.fetchall():
        op.execute(residency_guard_sql(qualified))
    op.execute(AUDIT_GUARD % CLEANING_UP)
    # A move copies rows with session_replication_role = replica, which rests triggers that
    # derive data (roll-ups, fan-out, paths: the copied rows carry their results already) and
    # foreign keys (the copy is verified against its source); the guards keep firing.
    for table, trigger in ALWAYS:
        op.execute(f"ALTER TABLE {table} ENABLE ALWAYS TRIGGER {trigger}")
    # The guards above decide which deletes pass: the grant alone lets none through.
    op.execute(f'GRANT DELETE ON tenantry.audit_log TO "{roles.platform}"')
    op.execute(FORGET_CHAIN)
    op.execute("REVOKE ALL ON FUNCTION tenantry_private.forget_audit_chain(uuid) FROM PUBLIC")
    op.execute(
        f'GRANT EXECUTE ON FUNCTION tenantry_private.forget_audit_chain(uuid) TO "{roles.platform}"'
    )
    op.execute(ACCESS_LOG_GUARD % CLEANING_UP)


def downgrade() -> None:
    for table, trigger in ALWAYS:
        op.execute(f"ALTER TABLE {table} ENABLE TRIGGER {trigger}")
    config = op.get_context().config
    assert config is not None
    op.execute(f'REVOKE DELETE ON tenantry.audit_log FROM "{config.attributes["roles"].platform}"')
    op.execute("DROP FUNCTION tenantry_private.forget_audit_chain(uuid)")
    op.execute(AUDIT_GUARD % "")
    op.execute(ACCESS_LOG_GUARD % "")
    op.execute("DROP FUNCTION tenantry_private.require_residency() CASCADE")
    op.execute("DROP TABLE tenantry_private.tenant_moves")
    op.execute("DROP TABLE tenantry_private.tenant_residency")
    op.execute("ALTER TABLE tenantry.tenants DROP COLUMN placement")
    op.execute("DROP TABLE tenantry.placements")
