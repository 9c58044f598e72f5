"""The policy generator's Citus variant, and the verifier every Citus node carries.

Citus refuses sub-queries in the policies of distributed and reference tables, and it runs a
statement's policies on the workers, inside each shard's query. So on a Citus cluster:

- each policy reads the claims through function calls (`tenantry.current_tenant_id()`, …)
  instead of one sub-select of `tenantry.current_scope`. In an index condition a call is
  evaluated once per scan; in a filter, once per row (a verification each time), which is why
  every tenant table's keys lead with `tenant_id`;
- every node verifies contexts itself, with its own copy of the key table and of the verifier:
  a plain table and view on each worker, not Citus objects, since a query on a shard may not
  start another distributed query (a reference table would be one). The coordinator's key
  table pushes every change to the workers' copies (`sync_keys`);
- the context reaches the workers as a `SET LOCAL` that Citus forwards
  (`citus.propagate_set_commands = 'local'`, set for the runtime and platform roles);
  `set_config()` is not forwarded, so a context set that way verifies nowhere but the
  coordinator and a shard's policies see none: fail closed.

The Citus forms are written from the shapes `kit.isolation.ddl` generates, matched on the text
PostgreSQL prints back (`pg_get_expr`, whitespace folded); a policy of another shape is refused
by name, never distributed unchecked.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tenantry.isolation.context_sql import (
    ACCESSORS,
    CONTEXT_SCOPE,
    CURRENT_ACTOR,
    current_scope_sql,
    scope_key_sql,
)

if TYPE_CHECKING:
    from tenantry.isolation.roles import Roles

TENANT = "tenantry.current_tenant_id()"
APP = "tenantry.current_app_id()"
PLATFORM = "tenantry.current_is_platform()"
_SCOPE = "FROM tenantry.current_scope s)"

# Printed shape (whitespace folded) -> Citus form. Row comparisons stay row comparisons so the
# tenant (and app) remain index conditions.
CITUS_FORMS = {
    f"( SELECT s.platform {_SCOPE}": PLATFORM,
    f"(tenant_id = ( SELECT s.tenant_id {_SCOPE})": f"(tenant_id = {TENANT})",
    f"(id = ( SELECT s.tenant_id {_SCOPE})": f"(id = {TENANT})",
    f"((tenant_id, app_id) = ( SELECT s.tenant_id, s.app_id {_SCOPE})": (
        f"((tenant_id, app_id) = ({TENANT}, {APP}))"
    ),
    (
        "((tenant_id, scope_key) = ( SELECT s.tenant_id, (uuid_send(s.tenant_id) || "
        f"COALESCE(uuid_send(s.app_id), '\\x'::bytea)) {_SCOPE})"
    ): f"((tenant_id, scope_key) = ({TENANT}, {scope_key_sql(TENANT, APP)}))",
    # A cross-app reader reads every row of its tenant: every app's key and the tenant's.
    f"(scope_key = ANY (( SELECT s.readable_scope_keys {_SCOPE}::bytea[]))": (
        f"((tenant_id = {TENANT}) AND (tenantry.current_cross_app() OR (scope_key = ANY "
        f"(ARRAY[{scope_key_sql(TENANT, APP)}, {scope_key_sql(TENANT, 'NULL::uuid')}]))))"
    ),
    # The owner's policies for the audit chain and the event fan-out (revisions 0008 and 0025).
    (
        "(EXISTS ( SELECT FROM tenantry.current_scope s WHERE (s.platform OR "
        "(s.tenant_id = audit_log.tenant_id))))"
    ): f"({PLATFORM} OR (tenant_id = {TENANT}))",
    **{
        (
            "( SELECT (s.platform OR (NOT (s.tenant_id IS DISTINCT FROM "
            f"{table}.tenant_id))) {_SCOPE}"
        ): f"({PLATFORM} OR (tenant_id = {TENANT}))"
        for table in ("event_subscriptions", "event_deliveries")
    },
}


class UnknownPolicyShape(ValueError):
    """A policy the Citus variant has no form for (written by hand, or by a newer revision)."""


def citus_form(expression: str | None) -> str | None:
    """The Citus form of a policy expression as PostgreSQL prints it; None stays None."""
    if expression is None:
        return None
    folded = " ".join(expression.split())
    if "current_scope" not in folded:
        return expression  # no context read: Citus takes it as it is
    try:
        return CITUS_FORMS[folded]
    except KeyError:
        raise UnknownPolicyShape(folded) from None


# The coordinator's verifier reads `tenantry.apps` for a cross-app reader's scope keys, which
# a worker may not (a reference table); the Citus policies never read those keys.
WORKER_SCOPE = current_scope_sql(every_app="ARRAY[]::bytea[]")


def worker_verifier_sql(roles: Roles) -> list[str]:
    """What each worker needs to verify a context: the key table (filled by `sync_keys`), the
    view, the accessors the Citus policies call, owned by the owner and readable as on the
    coordinator. Idempotent; run with DDL propagation off (these are each worker's own)."""
    grantees = f'"{roles.runtime}", "{roles.platform}"'
    statements = [
        "SET LOCAL citus.enable_ddl_propagation = off",
        f'SET LOCAL ROLE "{roles.owner}"',
        """
        CREATE TABLE IF NOT EXISTS tenantry_private.context_keys (
            kid text PRIMARY KEY,
            secret bytea NOT NULL,
            inner_pad bytea NOT NULL,
            outer_pad bytea NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            retired_at timestamptz
        )
        """,
        "REVOKE ALL ON tenantry_private.context_keys FROM PUBLIC",
        WORKER_SCOPE,
        "REVOKE ALL ON tenantry.current_scope FROM PUBLIC",
        f"GRANT SELECT ON tenantry.current_scope TO {grantees}",
        CONTEXT_SCOPE,
        CURRENT_ACTOR,
    ]
    for name, (type_, expression) in ACCESSORS.items():
        statements += [
            f"""
            CREATE OR REPLACE FUNCTION tenantry.{name}() RETURNS {type_}
            LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
            AS $fn$ SELECT {expression} FROM tenantry.context_scope() $fn$
            """,
            f"REVOKE ALL ON FUNCTION tenantry.{name}() FROM PUBLIC",
            f"GRANT EXECUTE ON FUNCTION tenantry.{name}() TO {grantees}",
        ]
    return statements


# On the coordinator: every change to the key table is copied to the workers' tables before
# the change commits. A coordinator rollback after it leaves a worker with a key nobody signs
# with, or retired early: never a context accepted that the coordinator would refuse.
SYNC_KEYS = """
CREATE OR REPLACE FUNCTION tenantry_private.sync_context_keys() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    copy text;
BEGIN
    SELECT 'SET citus.enable_ddl_propagation = off; '
           || 'DELETE FROM tenantry_private.context_keys; '
           || coalesce('INSERT INTO tenantry_private.context_keys VALUES '
                       || string_agg(format('(%L, %L::bytea, %L::bytea, %L::bytea, %L, %L)',
                                            k.kid, k.secret, k.inner_pad, k.outer_pad,
                                            k.created_at, k.retired_at), ', '), 'SELECT 1')
      INTO copy FROM tenantry_private.context_keys k;
    PERFORM 1 FROM run_command_on_workers(copy) r WHERE NOT r.success
       AND tenantry_private.key_copy_failed(r.nodename, r.nodeport, r.result);
    RETURN NULL;
END
$fn$
"""
KEY_COPY_FAILED = """
CREATE OR REPLACE FUNCTION tenantry_private.key_copy_failed(node text, port int, error text)
RETURNS boolean LANGUAGE plpgsql AS $fn$
BEGIN
    RAISE EXCEPTION 'context keys not copied to worker %:%: %', node, port, error;
END
$fn$
"""


def coordinator_sync_sql() -> list[str]:
    return [
        KEY_COPY_FAILED,
        SYNC_KEYS,
        "DROP TRIGGER IF EXISTS sync_context_keys ON tenantry_private.context_keys",
        (
            "CREATE TRIGGER sync_context_keys AFTER INSERT OR UPDATE OR DELETE"
            " ON tenantry_private.context_keys"
            " FOR EACH STATEMENT EXECUTE FUNCTION tenantry_private.sync_context_keys()"
        ),
    ]
