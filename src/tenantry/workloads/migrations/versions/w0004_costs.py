"""Costs: AI cost events, their daily summaries and monthly totals, budget thresholds and
budget alerts (schema `ai`), the privileges `costs.read` and `costs.manage`, and the event type
`ai.budget.threshold_crossed`.

- cost_events (app-scoped, runtime append-only): one priced use of a model. Keyed (tenant_id,
  app_id, id) with uuid7 ids, so an app's newest events are the end of its primary key; an
  idempotency key is unique per app (a partial index: most events carry none).
- cost_daily_summaries (app-scoped, readable across apps by tenant administrators): one row per
  (app, day, service), keyed so. Never recomputed: the statement-level trigger below adds each
  INSERT's new rows (its transition table) to them with one upsert.
- cost_monthly_totals (tenant-scoped): one row per calendar month (UTC), upserted by the same
  trigger. It is what budgets compare against, and its row lock is what serialises concurrent
  recorders of a tenant, so that exactly one of them sees a threshold crossed (docs/costs.md).
- budget_thresholds (tenant-scoped): the percentages of the monthly budget that raise an alert;
  none stored means the defaults, 80 and 100.
- budget_alerts (tenant-scoped, runtime append-only): unique per (period, threshold), so an
  alert is raised once per month and threshold whatever the concurrency.

The trigger function is SECURITY INVOKER: the recorder's own context writes the rollups, so
row-level security holds them to the recorder's tenant and app like the event itself.

Revision ID: w0004
Revises: w0001
Create Date: 2026-11-26
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

from tenantry.library import Reference, RuntimeAccess, ScopedTable, TableScope
from tenantry.library.alembic import create_scoped_table, drop_scoped_table
from tenantry.library.privileges import Privilege, register_privileges, unregister_privileges

revision = "w0004"
down_revision = "w0001"
branch_labels = None
depends_on = None

SCHEMA = "ai"
# A calendar month is stored as its first day.
_MONTH = "CHECK ({0} = date_trunc('month', {0})::date)"
_SERVICE = "service text NOT NULL CHECK (service ~ '^[a-z][a-z0-9_-]{0,39}$')"

COST_EVENTS = ScopedTable(
    name="cost_events",
    schema=SCHEMA,
    scope=TableScope.APP,
    primary_key=("app_id", "id"),
    runtime_access=RuntimeAccess.APPEND_ONLY,
    columns=(
        "occurred_at timestamptz NOT NULL",
        "recorded_at timestamptz NOT NULL DEFAULT now()",
        _SERVICE,
        "model text CHECK (length(model) BETWEEN 1 AND 200)",
        "input_tokens bigint NOT NULL DEFAULT 0 CHECK (input_tokens >= 0)",
        "output_tokens bigint NOT NULL DEFAULT 0 CHECK (output_tokens >= 0)",
        # Other usage (seconds of speech, characters, images), named by `unit`.
        "units numeric(20, 6) NOT NULL DEFAULT 0 CHECK (units >= 0)",
        "unit text CHECK (unit ~ '^[a-z][a-z0-9_]{0,31}$')",
        "cost_usd numeric(18, 9) NOT NULL CHECK (cost_usd >= 0)",
        "app_user_id uuid",
        "idempotency_key text CHECK (length(idempotency_key) BETWEEN 1 AND 200)",
        (
            "metadata jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(metadata) = 'object' "
            "AND octet_length(metadata::text) <= 4096)"
        ),
    ),
    # Money spent stays spent: a deleted user's events keep their cost, without the user.
    references=(
        Reference(
            ("app_id", "app_user_id"),
            "tenantry.app_users",
            ("app_id", "id"),
            "SET NULL (app_user_id)",
        ),
    ),
)

DAILY_SUMMARIES = ScopedTable(
    name="cost_daily_summaries",
    schema=SCHEMA,
    scope=TableScope.APP,
    primary_key=("app_id", "day", "service"),
    cross_app_read=True,
    columns=(
        "day date NOT NULL",
        _SERVICE,
        "events bigint NOT NULL CHECK (events >= 0)",
        "input_tokens bigint NOT NULL CHECK (input_tokens >= 0)",
        "output_tokens bigint NOT NULL CHECK (output_tokens >= 0)",
        "units numeric NOT NULL CHECK (units >= 0)",
        "cost_usd numeric NOT NULL CHECK (cost_usd >= 0)",
        "updated_at timestamptz NOT NULL DEFAULT now()",
    ),
)

MONTHLY_TOTALS = ScopedTable(
    name="cost_monthly_totals",
    schema=SCHEMA,
    scope=TableScope.TENANT,
    primary_key=("period",),
    columns=(
        f"period date NOT NULL {_MONTH.format('period')}",
        "events bigint NOT NULL CHECK (events >= 0)",
        "cost_usd numeric NOT NULL CHECK (cost_usd >= 0)",
        "updated_at timestamptz NOT NULL DEFAULT now()",
    ),
)

THRESHOLDS = ScopedTable(
    name="budget_thresholds",
    schema=SCHEMA,
    scope=TableScope.TENANT,
    primary_key=("percent",),
    columns=(
        "percent smallint NOT NULL CHECK (percent BETWEEN 1 AND 1000)",
        "updated_at timestamptz NOT NULL DEFAULT now()",
        "updated_by text NOT NULL CHECK (length(updated_by) BETWEEN 1 AND 500)",
    ),
)

ALERTS = ScopedTable(
    name="budget_alerts",
    schema=SCHEMA,
    scope=TableScope.TENANT,
    runtime_access=RuntimeAccess.APPEND_ONLY,
    columns=(
        f"period date NOT NULL {_MONTH.format('period')}",
        "threshold_percent smallint NOT NULL CHECK (threshold_percent BETWEEN 1 AND 1000)",
        "spent_usd numeric NOT NULL CHECK (spent_usd >= 0)",
        "budget_usd numeric NOT NULL CHECK (budget_usd >= 0)",
        "raised_at timestamptz NOT NULL DEFAULT now()",
    ),
    unique=("period, threshold_percent",),
)

TABLES = (COST_EVENTS, DAILY_SUMMARIES, MONTHLY_TOTALS, THRESHOLDS, ALERTS)

# Rows are sorted before they are upserted, so two transactions that touch the same summaries
# lock them in the same order and never deadlock.
ROLL_UP = """
CREATE FUNCTION ai.roll_up_cost_events() RETURNS trigger
LANGUAGE plpgsql SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    INSERT INTO ai.cost_daily_summaries AS d
           (tenant_id, app_id, day, service, events, input_tokens, output_tokens, units,
            cost_usd)
    SELECT n.tenant_id, n.app_id, (n.occurred_at AT TIME ZONE 'UTC')::date, n.service,
           count(*), sum(n.input_tokens), sum(n.output_tokens), sum(n.units), sum(n.cost_usd)
      FROM new_events n
     GROUP BY 1, 2, 3, 4
     ORDER BY 1, 2, 3, 4
    ON CONFLICT (tenant_id, app_id, day, service) DO UPDATE
       SET events = d.events + excluded.events,
           input_tokens = d.input_tokens + excluded.input_tokens,
           output_tokens = d.output_tokens + excluded.output_tokens,
           units = d.units + excluded.units,
           cost_usd = d.cost_usd + excluded.cost_usd,
           updated_at = now();
    INSERT INTO ai.cost_monthly_totals AS m (tenant_id, period, events, cost_usd)
    SELECT n.tenant_id, date_trunc('month', n.occurred_at AT TIME ZONE 'UTC')::date,
           count(*), sum(n.cost_usd)
      FROM new_events n
     GROUP BY 1, 2
     ORDER BY 1, 2
    ON CONFLICT (tenant_id, period) DO UPDATE
       SET events = m.events + excluded.events,
           cost_usd = m.cost_usd + excluded.cost_usd,
           updated_at = now();
    RETURN NULL;
END
$fn$
"""

EVENT_TYPE = "ai.budget.threshold_crossed"
# Emitted on the admin app's behalf (its administrators are who the alert is for). Registered
# here, not in the admin app's published manifest, which stays as every installation has it.
EVENT_SCHEMA = {
    "type": "object",
    "required": ["alert_id", "period", "threshold_percent", "spent_usd", "budget_usd"],
    "properties": {
        "alert_id": {"type": "string", "format": "uuid"},
        "period": {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}$"},
        "threshold_percent": {"type": "integer", "minimum": 1},
        "spent_usd": {"type": "string"},
        "budget_usd": {"type": "string"},
    },
}

PRIVILEGES = (
    Privilege(
        "costs.read",
        "Read the tenant's AI costs across its apps and its budget status",
        templates=("admin",),
    ),
    Privilege(
        "costs.manage", "Choose the tenant's AI budget alert thresholds", templates=("admin",)
    ),
)


def upgrade() -> None:
    for table in TABLES:
        create_scoped_table(table)
    op.execute(
        "CREATE UNIQUE INDEX cost_events_idempotency_key ON ai.cost_events "
        "(tenant_id, app_id, idempotency_key) WHERE idempotency_key IS NOT NULL"
    )
    # A tenant administrator's cross-app reads name the tenant and a range of days.
    op.execute("CREATE INDEX ON ai.cost_daily_summaries (tenant_id, day)")
    # Rollup rows are rewritten on every insert: room on their page keeps the updates HOT.
    for rollup in ("cost_daily_summaries", "cost_monthly_totals"):
        op.execute(f"ALTER TABLE ai.{rollup} SET (fillfactor = 70)")
    op.execute(ROLL_UP)
    op.execute("REVOKE ALL ON FUNCTION ai.roll_up_cost_events() FROM PUBLIC")
    op.execute(
        "CREATE TRIGGER roll_up AFTER INSERT ON ai.cost_events "
        "REFERENCING NEW TABLE AS new_events "
        "FOR EACH STATEMENT EXECUTE FUNCTION ai.roll_up_cost_events()"
    )
    register_privileges(*PRIVILEGES)
    op.get_bind().execute(
        sa.text(
            "INSERT INTO tenantry.event_types (type, catalog_app_id, schema, version) "
            "SELECT :type, a.id, CAST(:schema AS jsonb), a.latest_version "
            "  FROM tenantry.apps a WHERE a.slug = 'admin' AND a.latest_version IS NOT NULL "
            "ON CONFLICT (type) DO NOTHING"
        ),
        {"type": EVENT_TYPE, "schema": json.dumps(EVENT_SCHEMA)},
    )


def downgrade() -> None:
    # The event type stays: the catalog never forgets a type events may have been sent with.
    unregister_privileges(*PRIVILEGES)
    op.execute("DROP TRIGGER roll_up ON ai.cost_events")
    op.execute("DROP FUNCTION ai.roll_up_cost_events()")
    for table in reversed(TABLES):
        drop_scoped_table(table)
