"""Events with a transactional outbox: types, subscriptions, deliveries and consumption.

- `event_types` (global catalog): every type an app emits, with its JSON Schema, registered
  when a manifest version is published (and backfilled here from the published versions).
- `events` (app-scoped: the source app; the runtime role appends and reads): partitioned by
  month on `created_at`. The parent carries the generated policies and grants; partitions are
  made by `tenantry.ensure_event_partitions()`, which enables and forces row-level security on
  each and revokes every direct grant, so queries go through the parent. Retention drops whole
  partitions (`tenantry.drop_event_partitions()`).
- `event_subscriptions` (tenant): which consumer receives which type patterns in the tenant.
- `event_deliveries` (tenant, runtime read-only): one row per (event, subscribed consumer),
  inserted in the publishing transaction (the outbox) and worked through by the worker on the
  platform path. Deliveries of one (tenant, ordering key) go out in (created_at, id) order.
- `event_consumption` (app-scoped: the consumer app): which events a consumer has applied, so
  a redelivery never doubles an effect.

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-26
"""

from __future__ import annotations

from alembic import op

from tenantry.isolation.ddl import (
    Reference,
    RuntimeAccess,
    Scope,
    ScopedTable,
    catalog_grants_sql,
    scoped_table_sql,
)

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

TYPE_NAME = r"^[a-z][a-z0-9_-]*(\.[a-z][a-z0-9_-]*){1,5}$"
PRIVILEGES = (
    ("events.manage", "Manage event subscriptions, read events and replay deliveries"),
    ("events.publish", "Publish the app's events into the tenant"),
)
TEMPLATES = {"events.manage": ("owner", "admin"), "events.publish": ("owner", "admin")}

EVENTS = ScopedTable(
    name="events",
    scope=Scope.APP,
    primary_key=("app_id", "id", "created_at"),
    columns=(
        f"type text NOT NULL CHECK (type ~ '{TYPE_NAME}' AND length(type) <= 120)",
        "key text CHECK (length(key) BETWEEN 1 AND 200)",
        "payload jsonb NOT NULL",
        "created_at timestamptz NOT NULL DEFAULT now()",
    ),
    indexes=("created_at, id", "type, created_at"),
    runtime_access=RuntimeAccess.APPEND_ONLY,
    partition_by="RANGE (created_at)",
)

SUBSCRIPTIONS = ScopedTable(
    name="event_subscriptions",
    scope=Scope.TENANT,
    columns=(
        "consumer_app_id uuid NOT NULL",
        "consumer text NOT NULL CHECK (length(consumer) BETWEEN 1 AND 200)",
        "types text[] NOT NULL CHECK (cardinality(types) BETWEEN 1 AND 100)",
        "active boolean NOT NULL DEFAULT true",
        "created_at timestamptz NOT NULL DEFAULT now()",
    ),
    unique=("consumer",),
    references=(Reference(("consumer_app_id",), "tenant_apps", ("app_id",), "CASCADE"),),
)

DELIVERIES = ScopedTable(
    name="event_deliveries",
    scope=Scope.TENANT,
    columns=(
        "event_id uuid NOT NULL",
        "event_app_id uuid NOT NULL",
        "event_created_at timestamptz NOT NULL",
        "event_type text NOT NULL",
        "consumer text NOT NULL",
        "ordering_key text",
        (
            "status text NOT NULL DEFAULT 'pending'"
            " CHECK (status IN ('pending', 'delivering', 'delivered', 'dead'))"
        ),
        "attempts int NOT NULL DEFAULT 0 CHECK (attempts >= 0)",
        "next_attempt_at timestamptz NOT NULL DEFAULT now()",
        "claimed_until timestamptz",
        "claimed_by text",
        "last_attempt_at timestamptz",
        "last_error text CHECK (length(last_error) <= 2000)",
        "last_status_code int",
        "last_latency_ms int",
        "delivered_at timestamptz",
        "created_at timestamptz NOT NULL DEFAULT now()",
    ),
    unique=("event_id, consumer",),
    indexes=(
        "consumer, ordering_key, event_created_at, event_id",
        "event_id",
    ),
    runtime_access=RuntimeAccess.READ_ONLY,
)

CONSUMPTION = ScopedTable(
    name="event_consumption",
    scope=Scope.APP,
    columns=(
        "consumer text NOT NULL CHECK (length(consumer) BETWEEN 1 AND 200)",
        "event_id uuid NOT NULL",
        "consumed_at timestamptz NOT NULL DEFAULT now()",
    ),
    unique=("consumer, event_id",),
    runtime_access=RuntimeAccess.APPEND_ONLY,
)

TABLES = (EVENTS, SUBSCRIPTIONS, DELIVERIES, CONSUMPTION)


def _partition_functions(runtime: str, platform: str) -> list[str]:
    """Partitions are made and dropped by the table owner, through these two functions."""
    ensure = f"""
CREATE FUNCTION tenantry.ensure_event_partitions(months_ahead int, months_back int DEFAULT 0)
RETURNS SETOF text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    this_month timestamp := date_trunc('month', now() AT TIME ZONE 'UTC');
    first_day timestamp;
    part text;
BEGIN
    IF months_ahead NOT BETWEEN 0 AND 36 OR months_back NOT BETWEEN 0 AND 120 THEN
        RAISE EXCEPTION 'months out of range' USING ERRCODE = '22023';
    END IF;
    -- Two workers creating next month at once: the second waits and finds it.
    PERFORM pg_advisory_xact_lock(hashtextextended('tenantry.event_partitions', 0));
    FOR i IN -months_back..months_ahead LOOP
        first_day := this_month + make_interval(months => i);
        part := 'events_p' || to_char(first_day, 'YYYYMM');
        CONTINUE WHEN to_regclass('tenantry.' || part) IS NOT NULL;
        EXECUTE format(
            'CREATE TABLE tenantry.%I PARTITION OF tenantry.events FOR VALUES FROM (%L) TO (%L)',
            part, first_day AT TIME ZONE 'UTC',
            (first_day + interval '1 month') AT TIME ZONE 'UTC');
        -- Policies live on the parent; a partition queried directly would bypass them, so
        -- it gets no grants at all, and forced security with no policy as a second wall.
        EXECUTE format('ALTER TABLE tenantry.%I ENABLE ROW LEVEL SECURITY', part);
        EXECUTE format('ALTER TABLE tenantry.%I FORCE ROW LEVEL SECURITY', part);
        EXECUTE format('REVOKE ALL ON tenantry.%I FROM PUBLIC, "{runtime}", "{platform}"', part);
        RETURN NEXT part;
    END LOOP;
END
$fn$
"""
    drop = r"""
CREATE FUNCTION tenantry.drop_event_partitions(older_than_months int) RETURNS SETOF text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    cutoff timestamp := date_trunc('month', now() AT TIME ZONE 'UTC')
                        - make_interval(months => older_than_months);
    part text;
BEGIN
    IF older_than_months < 1 THEN
        RAISE EXCEPTION 'retention must keep at least the current month' USING ERRCODE = '22023';
    END IF;
    PERFORM pg_advisory_xact_lock(hashtextextended('tenantry.event_partitions', 0));
    FOR part IN
        SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
         WHERE i.inhparent = 'tenantry.events'::regclass AND c.relname ~ '^events_p[0-9]{6}$'
           AND to_timestamp(substr(c.relname, 9), 'YYYYMM')::timestamp
               + interval '1 month' <= cutoff
         ORDER BY c.relname
    LOOP
        EXECUTE format('DROP TABLE tenantry.%I', part);
        RETURN NEXT part;
    END LOOP;
END
$fn$
"""
    return [ensure, drop]


# The outbox fan-out: the event's insert itself creates a delivery per matching active
# subscription and wakes the worker on commit, so no publish path can forget either, and a
# rolled-back change leaves neither. Patterns are exact types, a prefix ending in `.*`, or `*`.
# The function runs as the owner (the runtime role may not write deliveries); row-level
# security is forced on the owner too, so it reads and writes through policies of its own,
# bound to the verified context: the context's tenant, or the platform.
FAN_OUT = """
CREATE FUNCTION tenantry.event_fan_out() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    -- Once per statement, over every event it inserted: a change publishing many events pays
    -- one insert of their deliveries.
    INSERT INTO tenantry.event_deliveries
           (tenant_id, id, event_id, event_app_id, event_created_at, event_type, consumer,
            ordering_key)
    SELECT n.tenant_id, gen_random_uuid(), n.id, n.app_id, n.created_at, n.type,
           s.consumer, n.key
      FROM new_events n
      JOIN tenantry.event_subscriptions s ON s.tenant_id = n.tenant_id AND s.active
     WHERE EXISTS (SELECT FROM unnest(s.types) p(pattern)
                    WHERE p.pattern = n.type OR p.pattern = '*'
                       OR (p.pattern LIKE '%.*'
                           AND starts_with(n.type, left(p.pattern, -1))));
    -- Identical notifications in one transaction are folded into one, sent on commit.
    PERFORM pg_notify('tenantry_events', '');
    RETURN NULL;
END
$fn$
"""
OWNER_SCOPE = (
    "(SELECT s.platform OR s.tenant_id IS NOT DISTINCT FROM tenant_id "
    "FROM tenantry.current_scope s)"
)
# (name, table, command, USING, WITH CHECK)
OWNER_POLICIES = (
    ("fan_out_read", "tenantry.event_subscriptions", "SELECT", OWNER_SCOPE, None),
    ("fan_out_write", "tenantry.event_deliveries", "INSERT", None, OWNER_SCOPE),
)


_BACKFILL_TYPES = f"""
INSERT INTO tenantry.event_types (type, catalog_app_id, schema, version)
SELECT DISTINCT ON (e ->> 'type') e ->> 'type', a.id, e -> 'schema', a.latest_version
  FROM tenantry.apps a
  JOIN tenantry.app_versions v ON v.catalog_app_id = a.id AND v.version = a.latest_version
 CROSS JOIN jsonb_array_elements(coalesce(v.manifest -> 'events' -> 'emits', '[]')) e
 WHERE e ->> 'type' ~ '{TYPE_NAME}' AND jsonb_typeof(e -> 'schema') = 'object'
 ORDER BY e ->> 'type', a.id
ON CONFLICT (type) DO NOTHING
"""


def upgrade() -> None:
    config = op.get_context().config
    assert config is not None
    roles = config.attributes["roles"]
    bind = op.get_bind()
    for key, description in PRIVILEGES:
        bind.exec_driver_sql(
            "INSERT INTO tenantry.privileges (key, description) VALUES (%s, %s)", (key, description)
        )
        for template in TEMPLATES[key]:
            bind.exec_driver_sql(
                "INSERT INTO tenantry.role_template_privileges VALUES (%s, %s)", (template, key)
            )
    statements = [
        f"""
        CREATE TABLE tenantry.event_types (
            type text PRIMARY KEY CHECK (type ~ '{TYPE_NAME}' AND length(type) <= 120),
            catalog_app_id uuid NOT NULL REFERENCES tenantry.apps (id),
            schema jsonb NOT NULL CHECK (jsonb_typeof(schema) = 'object'),
            version text NOT NULL,
            registered_at timestamptz NOT NULL DEFAULT now()
        )
        """,
        "CREATE INDEX ON tenantry.event_types (catalog_app_id)",
        *catalog_grants_sql("tenantry.event_types", roles),
        _BACKFILL_TYPES,
    ]
    for table in TABLES:
        statements += scoped_table_sql(table, roles)
    # The worker claims due deliveries across tenants (platform path), oldest first.
    statements.append(
        "CREATE INDEX event_deliveries_due ON tenantry.event_deliveries (status, next_attempt_at)"
    )
    # The claim's ordering check looks for an earlier unfinished delivery of the same key: only
    # unfinished ones are indexed, so a key's long delivered history costs nothing.
    statements.append(
        "CREATE INDEX event_deliveries_unfinished_keys ON tenantry.event_deliveries "
        "(tenant_id, consumer, ordering_key, event_created_at, event_id) "
        "WHERE status IN ('pending', 'delivering') AND ordering_key IS NOT NULL"
    )
    for name, target, command, using, check in OWNER_POLICIES:
        clauses = (f" USING ({using})" if using else "") + (
            f" WITH CHECK ({check})" if check else ""
        )
        statements.append(
            f'CREATE POLICY {name} ON {target} AS PERMISSIVE FOR {command} TO "{roles.owner}"'
            f"{clauses}"
        )
    statements += [
        FAN_OUT,
        "REVOKE ALL ON FUNCTION tenantry.event_fan_out() FROM PUBLIC",
        (
            "CREATE TRIGGER event_fan_out AFTER INSERT ON tenantry.events "
            "REFERENCING NEW TABLE AS new_events "
            "FOR EACH STATEMENT EXECUTE FUNCTION tenantry.event_fan_out()"
        ),
    ]
    statements += _partition_functions(roles.runtime, roles.platform)
    for function in (
        "tenantry.ensure_event_partitions(int, int)",
        "tenantry.drop_event_partitions(int)",
    ):
        statements.append(f"REVOKE ALL ON FUNCTION {function} FROM PUBLIC")
        statements.append(f'GRANT EXECUTE ON FUNCTION {function} TO "{roles.platform}"')
    statements.append("SELECT tenantry.ensure_event_partitions(2)")
    for statement in statements:
        op.execute(statement)


def downgrade() -> None:
    op.execute("DROP TRIGGER event_fan_out ON tenantry.events")
    op.execute("DROP FUNCTION tenantry.event_fan_out()")
    op.execute("DROP FUNCTION tenantry.drop_event_partitions(int)")
    op.execute("DROP FUNCTION tenantry.ensure_event_partitions(int, int)")
    for table in reversed(TABLES):
        op.execute(f"DROP TABLE {table.qualified}")
        op.execute(
            "DELETE FROM tenantry.scoped_tables "
            f"WHERE table_schema = '{table.schema}' AND table_name = '{table.name}'"
        )
    op.execute("DROP TABLE tenantry.event_types")
    for key, _ in PRIVILEGES:
        op.execute(f"DELETE FROM tenantry.privileges WHERE key = '{key}'")
