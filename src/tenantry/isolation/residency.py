"""The residency guard: a tenant's rows are written only in the database it lives in.

Each database keeps its own view of each tenant in `tenantry_private.tenant_residency`
(revision 0024): no row for a tenant living here, one row for a tenant frozen, arriving or
departed. The guard is a row trigger on every tenant table; it reads that table with its
owner's rights (one index probe on a table of a few rows, no context verification).

| residency | writes allowed |
|---|---|
| resident (no row) | all |
| frozen | none (a move is copying the rows; reads go on) |
| arriving | the platform's (the move writing them, or undoing) |
| departed | none but the move's own deletes (cleaning up) |

A refusal raises SQLSTATE TL503, which the service answers as 503 `tenant_moving` with a
Retry-After: by then the router has learned where the tenant is. The audit log and the secret
access log, append-only otherwise, let a move delete what it left behind (`tenantry.move_cleanup`
names the tenant, in a platform context); this guard then insists the tenant has departed.
"""

from __future__ import annotations

# SQLSTATE of a write to a tenant that does not live (or not yet, or not now) in this database.
NOT_RESIDENT_SQLSTATE = "TL503"

RESIDENCY_GUARD = f"""
CREATE OR REPLACE FUNCTION tenantry_private.require_residency() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    unsettled record;
    -- The move's own sessions: only the platform role (granted it by `tenantry db upgrade`)
    -- and superusers may set session_replication_role.
    moving boolean;
BEGIN
    -- Almost always: no tenant is frozen, arriving or departed here.
    IF NOT EXISTS (SELECT FROM tenantry_private.tenant_residency) THEN
        RETURN NULL;
    END IF;
    moving := current_setting('session_replication_role') = 'replica'
              OR coalesce((SELECT s.platform FROM tenantry.current_scope s), false);
    -- Each branch names only the transition tables its command has.
    IF TG_OP = 'DELETE' THEN
        NULL;
    ELSE FOR unsettled IN
        SELECT r.tenant_id, r.state FROM tenantry_private.tenant_residency r
         WHERE r.tenant_id IN (SELECT n.tenant_id FROM new_rows n)
    LOOP
        IF NOT (unsettled.state = 'arriving' AND moving) THEN
            RAISE EXCEPTION 'tenant % is %: its rows cannot be written in this database',
                unsettled.tenant_id, unsettled.state USING ERRCODE = '{NOT_RESIDENT_SQLSTATE}';
        END IF;
    END LOOP;
    END IF;
    IF TG_OP = 'INSERT' THEN
        RETURN NULL;
    END IF;
    FOR unsettled IN
        SELECT r.tenant_id, r.state FROM tenantry_private.tenant_residency r
         WHERE r.tenant_id IN (SELECT o.tenant_id FROM old_rows o)
    LOOP
        -- A move deleting what it left behind, or undoing what it began to copy.
        IF NOT ((unsettled.state = 'arriving' AND moving)
                OR (unsettled.state = 'departed' AND moving AND TG_OP = 'DELETE'
                    AND current_setting('tenantry.move_cleanup', true)
                        = unsettled.tenant_id::text)) THEN
            RAISE EXCEPTION 'tenant % is %: its rows cannot be written in this database',
                unsettled.tenant_id, unsettled.state USING ERRCODE = '{NOT_RESIDENT_SQLSTATE}';
        END IF;
    END LOOP;
    RETURN NULL;
END
$fn$
"""

# One statement-level trigger per command, each with the transition tables it has: the guard
# costs one look at an (almost always empty) table per statement, not a call per row.
_TRIGGERS = {
    "require_residency_insert": ("INSERT", "NEW TABLE AS new_rows"),
    "require_residency_update": ("UPDATE", "NEW TABLE AS new_rows OLD TABLE AS old_rows"),
    "require_residency_delete": ("DELETE", "OLD TABLE AS old_rows"),
}


def residency_guard_sql(qualified: str) -> str:
    """The guard on one tenant table (`schema.table`). Revisions before 0024 declare tables
    before the guard exists; 0024 then guards every table declared so far. ENABLE ALWAYS: it
    fires even while a move copies rows with session_replication_role = replica."""
    triggers = " ".join(
        f"CREATE TRIGGER {name} AFTER {command} ON {qualified} REFERENCING {tables}"
        " FOR EACH STATEMENT EXECUTE FUNCTION tenantry_private.require_residency();"
        f" ALTER TABLE {qualified} ENABLE ALWAYS TRIGGER {name};"
        for name, (command, tables) in _TRIGGERS.items()
    )
    return (
        "DO $guard$ BEGIN"
        " IF to_regprocedure('tenantry_private.require_residency()') IS NOT NULL THEN"
        f" {triggers} END IF; END $guard$"
    )
