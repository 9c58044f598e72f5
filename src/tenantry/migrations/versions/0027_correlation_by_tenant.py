"""Sign-up's cross-app correlation names its tenant: `tenantry.correlate_app_user(tenant, user)`.

The definer function of revision 0007 took the tenant from the verified context only. It now
also takes it as its first argument, which must be the context's (else 42501), so that on a
Citus cluster the call can run on the worker holding that tenant's shards, in the caller's
transaction there (`tenantry citus distribute` makes it a delegated function): Citus cannot
read, with the owner's rights, a row the caller wrote earlier in the transaction, except on
that worker. The person is looked up before the insert (Citus takes no sub-query in an
INSERT's values). The one-argument form goes.

Revision ID: 0027
Revises: 0026
Create Date: 2026-11-27
"""

from __future__ import annotations

import importlib

from alembic import op

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None

CORRELATE = """
CREATE FUNCTION tenantry.correlate_app_user(tenant uuid, user_id uuid) RETURNS uuid
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_tenant uuid;
    v_app uuid;
    v_email text;
    v_person uuid;
BEGIN
    SELECT s.tenant_id, s.app_id INTO v_tenant, v_app FROM tenantry.current_scope s;
    IF v_tenant IS NULL OR v_app IS NULL OR v_tenant IS DISTINCT FROM tenant THEN
        RAISE EXCEPTION 'correlation needs a verified context of this tenant and an app'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    SELECT u.email_normalized INTO v_email FROM tenantry.app_users u
     WHERE u.tenant_id = v_tenant AND u.app_id = v_app AND u.id = user_id;
    IF v_email IS NULL THEN
        RAISE EXCEPTION 'no such user in this app' USING ERRCODE = 'no_data_found';
    END IF;
    -- Two sign-ups with one email in two apps at once must agree on the person.
    PERFORM pg_advisory_xact_lock(hashtextextended(v_tenant::text || ':' || v_email, 0));
    SELECT p.person_id INTO v_person FROM tenantry.cross_app_user_correlation p
     WHERE p.tenant_id = v_tenant AND p.email_normalized = v_email LIMIT 1;
    INSERT INTO tenantry.cross_app_user_correlation AS c
           (tenant_id, id, person_id, app_id, app_user_id, email_normalized)
    VALUES (v_tenant, gen_random_uuid(), coalesce(v_person, gen_random_uuid()), v_app, user_id,
            v_email)
    ON CONFLICT (tenant_id, app_id, app_user_id) DO UPDATE
        SET email_normalized = excluded.email_normalized
    RETURNING c.person_id INTO v_person;
    RETURN v_person;
END
$fn$
"""
FUNCTION = "tenantry.correlate_app_user(uuid, uuid)"


def _runtime() -> str:
    config = op.get_context().config
    assert config is not None
    return str(config.attributes["roles"].runtime)


def upgrade() -> None:
    op.execute("DROP FUNCTION tenantry.correlate_app_user(uuid)")
    op.execute(CORRELATE)
    op.execute(f"REVOKE ALL ON FUNCTION {FUNCTION} FROM PUBLIC")
    op.execute(f'GRANT EXECUTE ON FUNCTION {FUNCTION} TO "{_runtime()}"')


def downgrade() -> None:
    first = importlib.import_module("tenantry.migrations.versions.0007_signup_correlation")
    op.execute(f"DROP FUNCTION {FUNCTION}")
    op.execute(first.CORRELATE)
    op.execute(f"REVOKE ALL ON FUNCTION {first.FUNCTION} FROM PUBLIC")
    op.execute(f'GRANT EXECUTE ON FUNCTION {first.FUNCTION} TO "{_runtime()}"')
