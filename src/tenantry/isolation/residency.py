"""The residency guard: a tenant's rows are written only in the database it lives in.

Each database keeps its own view of each tenant in `tenants.residency` (revision 0024). The
guard is a row trigger on every tenant table, run with the caller's rights: a tenant context
reads its own tenant's row, the platform reads every row, anyone else reads none (and no
policy would let them write either), so a row it cannot see passes on to the policies and
foreign keys that refuse it.

| residency | writes allowed |
|---|---|
| resident | all |
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
LANGUAGE plpgsql SECURITY INVOKER
AS $fn$
DECLARE
    tenant uuid := CASE TG_OP WHEN 'DELETE' THEN OLD.tenant_id ELSE NEW.tenant_id END;
    state text;
BEGIN
    SELECT t.residency INTO state FROM tenantry.tenants t WHERE t.id = tenant;
    IF current_setting('tenantry.move_cleanup', true) = tenant::text THEN
        -- A move deleting what it left behind, or undoing what it began to copy.
        IF TG_OP = 'DELETE' AND state IN ('departed', 'arriving')
           AND (SELECT s.platform FROM tenantry.current_scope s) THEN
            RETURN OLD;
        END IF;
    ELSIF state IS NULL OR state = 'resident'
       OR (state = 'arriving' AND (SELECT s.platform FROM tenantry.current_scope s)) THEN
        RETURN CASE TG_OP WHEN 'DELETE' THEN OLD ELSE NEW END;
    END IF;
    RAISE EXCEPTION 'tenant % is %: its rows cannot be written in this database', tenant,
        coalesce(state, 'unknown') USING ERRCODE = '{NOT_RESIDENT_SQLSTATE}';
END
$fn$
"""


def residency_guard_sql(qualified: str) -> str:
    """The guard on one tenant table (`schema.table`). Revisions before 0024 declare tables
    before the guard exists; 0024 then guards every table declared so far."""
    trigger = (
        f"CREATE TRIGGER require_residency BEFORE INSERT OR UPDATE OR DELETE ON {qualified}"
        " FOR EACH ROW EXECUTE FUNCTION tenantry_private.require_residency();"
        # It fires even while a move copies rows with session_replication_role = replica.
        f" ALTER TABLE {qualified} ENABLE ALWAYS TRIGGER require_residency"
    )
    return (
        "DO $guard$ BEGIN"
        " IF to_regprocedure('tenantry_private.require_residency()') IS NOT NULL THEN"
        f" {trigger}; END IF; END $guard$"
    )
