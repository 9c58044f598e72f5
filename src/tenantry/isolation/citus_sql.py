"""The policy generator's Citus variant, and the verifier every Citus node carries.

Citus refuses sub-queries in the policies of distributed and reference tables, and it runs a
statement's policies on the workers, inside each shard's query. So on a Citus cluster:

- each policy reads the claims through function calls (`tenantry.current_tenant_id()`, …)
  instead of one sub-select of `tenantry.current_scope`. In an index condition a call is
  evaluated once per scan; in a filter, once per row (a verification each time), which is why
  every tenant table's keys lead with `tenant_id`;
- every node verifies contexts itself, with its own copy of the key table and of the verifier:
  a plain table and view on each node, not Citus objects, since a query on a shard may not
  start another distributed query (a reference table would be one). The coordinator's key
  table pushes every change to the workers' copies (`SYNC_KEYS`);
- the context reaches the workers as a `SET LOCAL` that Citus forwards
  (`citus.propagate_set_commands = 'local'`, set for the runtime and platform roles);
  `set_config()` is not forwarded, so a context set that way verifies nowhere but the
  coordinator and a shard's policies see none: fail closed.

The Citus forms are written from the shapes `tenantry.isolation.ddl` generates, matched on the text
PostgreSQL prints back (`pg_get_expr`, whitespace folded); a policy of another shape is refused
by name, never distributed unchecked.
"""

from __future__ import annotations

import re
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


# The verifier reads `tenantry.apps` for a cross-app reader's scope keys. Once that is a
# reference table, a query reading the view is planned by Citus, which reads the key table as
# the caller (refused) on the coordinator and may not start a distributed query on a shard;
# the Citus policies never read those keys, so every node's verifier goes without.
NODE_SCOPE = current_scope_sql(every_app="ARRAY[]::bytea[]")


# Definer functions that read what their caller wrote earlier in the transaction run on the
# worker holding the tenant named by their argument, in the caller's transaction there: Citus
# reads such rows with another role's rights nowhere else. (function, tenant argument)
DELEGATED = (("tenantry.correlate_app_user(uuid,uuid)", "tenant"),)


# SQL-language functions reading distributed tables. Citus cannot plan their parameterized
# queries (called where it does not inline them, they would read the coordinator's empty shell
# tables), so on Citus each becomes PL/pgSQL over the same query. Called in a statement Citus
# sends to the tenant's worker, its reads start there, on the tenant's co-located shards and
# in the same transaction: the one place Citus is told to allow such a nested read.
PROCEDURAL = ("tenantry.effective_privileges(uuid,uuid,uuid)",)
_SQL_BODY = re.compile(r"\n LANGUAGE sql\n(.*?)AS \$function\$\n(.*)\n?\$function\$", re.DOTALL)


def procedural_form(definition: str) -> str | None:
    """The PL/pgSQL variant of a SQL function (as `pg_get_functiondef` prints it) returning
    its query; None for a function that is already one."""
    match = _SQL_BODY.search(definition)
    if match is None:
        return None
    options, query = match[1], match[2].strip().removesuffix(";")
    return (
        f"{definition[: match.start()]}\n LANGUAGE plpgsql\n{options}"
        " SET citus.allow_nested_distributed_execution TO 'on'\n"
        f"AS $function$\n#variable_conflict use_column\nBEGIN\nRETURN QUERY {query};\nEND\n"
        "$function$"
    )


def node_session(roles: Roles) -> list[str]:
    """How a command sent to each node starts: as the owner, creating that node's own objects."""
    return [
        "SET LOCAL citus.enable_ddl_propagation = off",
        # A function's body may name a table this node has no copy of (it never runs here).
        "SET LOCAL check_function_bodies = off",
        f'SET LOCAL ROLE "{roles.owner}"',
    ]


def node_verifier_sql(roles: Roles) -> list[str]:
    """What each node needs to verify a context: the key table (the coordinator's own; on a
    worker, filled from it), the view, the accessors the Citus policies call, owned by the
    owner. Idempotent; run with DDL propagation off (these are each node's own)."""
    grantees = f'"{roles.runtime}", "{roles.platform}"'
    statements = [
        *node_session(roles),
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
        NODE_SCOPE,
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
    -- One DO block: Citus reports only the first statement's result of a longer command.
    SELECT 'DO $keys$ BEGIN SET LOCAL citus.enable_ddl_propagation = off; '
           || 'DELETE FROM tenantry_private.context_keys; '
           || coalesce('INSERT INTO tenantry_private.context_keys VALUES '
                       || string_agg(format('(%L, %L::bytea, %L::bytea, %L::bytea, %L, %L)',
                                            k.kid, k.secret, k.inner_pad, k.outer_pad,
                                            k.created_at, k.retired_at), ', ') || '; ', '')
           || 'END $keys$'
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
        "REVOKE ALL ON FUNCTION tenantry_private.key_copy_failed(text, int, text) FROM PUBLIC",
        SYNC_KEYS,
        "REVOKE ALL ON FUNCTION tenantry_private.sync_context_keys() FROM PUBLIC",
        "DROP TRIGGER IF EXISTS sync_context_keys ON tenantry_private.context_keys",
        (
            "CREATE TRIGGER sync_context_keys AFTER INSERT OR UPDATE OR DELETE"
            " ON tenantry_private.context_keys"
            " FOR EACH STATEMENT EXECUTE FUNCTION tenantry_private.sync_context_keys()"
        ),
    ]


# Statement triggers that read their transition tables, which Citus cannot plan on a shard,
# get a per-row variant: the same body over the one row (`NEW`/`OLD`) in place of the table.
_TRANSITION = r"\b(FROM|JOIN)\s+{name}\b"
_STATEMENT_LEVEL = re.compile(r"\s+REFERENCING\s+.*?\s+FOR EACH STATEMENT\s+", re.DOTALL)


_NAMED = re.compile(r"FUNCTION\s+([\w.]+)\(\)")


def each_row_name(definition: str) -> str:
    """The per-row variant's signature, for the statement function's definition."""
    found = _NAMED.search(definition)
    assert found is not None, "pg_get_functiondef names the function"
    return f"{found[1]}_each_row()"


# Where the body joins the transition table to a distributed table, the per-row variant is
# written out: Citus routes a statement on a shard to its co-located shard only when it names
# the tenant (`tenant_id = NEW.tenant_id`), not through a join.
WRITTEN_OUT = {
    "tenantry_private.audit_log_advance": """
        UPDATE tenantry_private.audit_chain_heads SET seq = NEW.seq, hash = NEW.hash
         WHERE tenant_id = NEW.tenant_id AND seq < NEW.seq;
        RETURN NULL;""",
    "tenantry.event_fan_out": """
        INSERT INTO tenantry.event_deliveries
               (tenant_id, id, event_id, event_app_id, event_created_at, event_type, consumer,
                ordering_key)
        SELECT s.tenant_id, gen_random_uuid(), NEW.id, NEW.app_id, NEW.created_at, NEW.type,
               s.consumer, NEW.key
          FROM tenantry.event_subscriptions s
         WHERE s.tenant_id = NEW.tenant_id AND s.active
           AND EXISTS (SELECT FROM unnest(s.types) p(pattern)
                        WHERE p.pattern = NEW.type OR p.pattern = '*'
                           OR (p.pattern LIKE '%.*'
                               AND starts_with(NEW.type, left(p.pattern, -1))));
        PERFORM pg_notify('tenantry_events', '');
        RETURN NULL;""",
    # Citus also takes no function call in the DO UPDATE SET of an insert on a distributed
    # table: `updated_at` comes from the inserted row's default instead of `now()`.
    "ai.roll_up_cost_events": """
        INSERT INTO ai.cost_daily_summaries AS d
               (tenant_id, app_id, day, service, events, input_tokens, output_tokens, units,
                cost_usd)
        VALUES (NEW.tenant_id, NEW.app_id, (NEW.occurred_at AT TIME ZONE 'UTC')::date,
                NEW.service, 1, NEW.input_tokens, NEW.output_tokens, NEW.units, NEW.cost_usd)
        ON CONFLICT (tenant_id, app_id, day, service) DO UPDATE
           SET events = d.events + excluded.events,
               input_tokens = d.input_tokens + excluded.input_tokens,
               output_tokens = d.output_tokens + excluded.output_tokens,
               units = d.units + excluded.units,
               cost_usd = d.cost_usd + excluded.cost_usd,
               updated_at = excluded.updated_at;
        INSERT INTO ai.cost_monthly_totals AS m (tenant_id, period, events, cost_usd)
        VALUES (NEW.tenant_id, date_trunc('month', NEW.occurred_at AT TIME ZONE 'UTC')::date,
                1, NEW.cost_usd)
        ON CONFLICT (tenant_id, period) DO UPDATE
           SET events = m.events + excluded.events,
               cost_usd = m.cost_usd + excluded.cost_usd,
               updated_at = excluded.updated_at;
        RETURN NULL;""",
}
_BODY = re.compile(r"(AS \$function\$\s*BEGIN).*(END\s*\$function\$)", re.DOTALL)


def each_row_function(definition: str, new_table: str | None, old_table: str | None) -> list[str]:
    """A statement trigger function (as `pg_get_functiondef` prints it) as its per-row
    variant, named `<name>_each_row`, executable by no one but its triggers."""
    name = each_row_name(definition)
    return [
        _each_row_body(definition, new_table, old_table),
        f"REVOKE ALL ON FUNCTION {name} FROM PUBLIC",
    ]


def _each_row_body(definition: str, new_table: str | None, old_table: str | None) -> str:
    name = each_row_name(definition).removesuffix("_each_row()")
    body = _NAMED.sub(r"FUNCTION \1_each_row()", definition, count=1)
    if name in WRITTEN_OUT:
        written = WRITTEN_OUT[name]
        return _BODY.sub(lambda m: f"{m[1]}{written}\n{m[2]}", body, count=1)
    for table, row in ((new_table, "NEW"), (old_table, "OLD")):
        if table:
            body = re.sub(_TRANSITION.format(name=re.escape(table)), rf"\1 (SELECT {row}.*)", body)
    return body


def each_row_trigger(definition: str) -> str:
    """The trigger (as `pg_get_triggerdef` prints it) firing the per-row variant."""
    row_level = _STATEMENT_LEVEL.sub(" FOR EACH ROW ", definition, count=1)
    return re.sub(r"(EXECUTE FUNCTION\s+[\w.]+)\(\)", r"\1_each_row()", row_level, count=1)
