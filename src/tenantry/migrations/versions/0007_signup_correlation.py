"""A new identity and its cross-app correlation commit in one tenant transaction.

`tenantry.correlate_app_user(user_id)` lets the runtime role record the identity it just created
without reading `tenantry.cross_app_user_correlation` (which holds the tenant's other apps'
identities): a SECURITY DEFINER function, owned by the owner role, executable by the runtime
role only. It trusts nothing but the verified signed context: the tenant and app come from
`tenantry.current_scope`, the email from the user's own row in that app, so a caller cannot
correlate another tenant's or app's user, nor an email it merely names. Without a verified
tenant-and-app context it raises `42501`; an id that is not a user of the context's app raises
`P0002`. Ids are generated inside the function, so a caller cannot choose which person an
identity joins.

Row-level security is forced on both tables, so the function (running as the owner) reads and
writes through policies of its own, bound to the same verified context: the context's app's
users, and the correlation rows of its tenant (written only for its app). A revision that
regenerates every policy must recreate these (`OWNER_POLICIES`).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from alembic import op

from tenantry.isolation.ddl import OWN_APP, OWN_TENANT

if TYPE_CHECKING:
    from tenantry.isolation.roles import Roles

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

FUNCTION = "tenantry.correlate_app_user(uuid)"

# (name, table, command, USING, WITH CHECK)
OWNER_POLICIES = (
    ("correlator_read_users", "tenantry.app_users", "SELECT", OWN_APP, None),
    ("correlator", "tenantry.cross_app_user_correlation", "ALL", OWN_TENANT, OWN_APP),
)

CORRELATE = """
CREATE FUNCTION tenantry.correlate_app_user(user_id uuid) RETURNS uuid
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
    IF v_tenant IS NULL OR v_app IS NULL THEN
        RAISE EXCEPTION 'correlation needs a verified tenant and app context'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    SELECT u.email_normalized INTO v_email FROM tenantry.app_users u
     WHERE u.tenant_id = v_tenant AND u.app_id = v_app AND u.id = user_id;
    IF v_email IS NULL THEN
        RAISE EXCEPTION 'no such user in this app' USING ERRCODE = 'no_data_found';
    END IF;
    -- Two sign-ups with one email in two apps at once must agree on the person.
    PERFORM pg_advisory_xact_lock(hashtextextended(v_tenant::text || ':' || v_email, 0));
    INSERT INTO tenantry.cross_app_user_correlation AS c
           (tenant_id, id, person_id, app_id, app_user_id, email_normalized)
    VALUES (v_tenant, gen_random_uuid(),
            coalesce((SELECT p.person_id FROM tenantry.cross_app_user_correlation p
                       WHERE p.tenant_id = v_tenant AND p.email_normalized = v_email LIMIT 1),
                     gen_random_uuid()),
            v_app, user_id, v_email)
    ON CONFLICT (tenant_id, app_id, app_user_id) DO UPDATE
        SET email_normalized = excluded.email_normalized
    RETURNING c.person_id INTO v_person;
    RETURN v_person;
END
$fn$
"""


def upgrade() -> None:
    config = op.get_context().config
    assert config is not None
    roles: Roles = config.attributes["roles"]
    for name, table, command, using, check in OWNER_POLICIES:
        clauses = f" USING ({using})" + (f" WITH CHECK ({check})" if check else "")
        op.execute(
            f'CREATE POLICY {name} ON {table} AS PERMISSIVE FOR {command} TO "{roles.owner}"'
            f"{clauses}"
        )
    op.execute(CORRELATE)
    op.execute(f"REVOKE ALL ON FUNCTION {FUNCTION} FROM PUBLIC")
    op.execute(f'GRANT EXECUTE ON FUNCTION {FUNCTION} TO "{roles.runtime}"')


def downgrade() -> None:
    op.execute(f"DROP FUNCTION {FUNCTION}")
    for name, table, *_ in OWNER_POLICIES:
        op.execute(f"DROP POLICY {name} ON {table}")
