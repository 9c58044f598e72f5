"""Webhook endpoints per tenant, their signing secrets and the log of delivery attempts.

`webhook_endpoints` is what a tenant administrator (privilege `webhooks.manage`) declares: a URL,
the event types it wants and its health (failing since when, disabled why and when). Each
endpoint is fed by an event subscription named `webhook:<endpoint id>`, so the outbox and the
worker treat it like any other consumer.

`webhook_secrets` holds the signing secrets, versioned and only ever encrypted (AES-256-GCM,
the associated data binding tenant, endpoint and version): during a rotation's overlap the old
version keeps an `expires_at` and deliveries carry both signatures. The runtime role may insert
a new version and read them (the service signs nothing for another tenant), never rewrite one.

`webhook_attempts` is the delivery log, one row per attempt, written by the worker on the
platform path; tenants only read it.

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-26
"""

from __future__ import annotations

from alembic import op

from tenantry.isolation.ddl import Reference, RuntimeAccess, Scope, ScopedTable, scoped_table_sql

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

PRIVILEGES = (("webhooks.manage", "Manage the tenant's webhook endpoints and read their log"),)
TEMPLATES = {"webhooks.manage": ("owner", "admin")}

ENDPOINTS = ScopedTable(
    name="webhook_endpoints",
    scope=Scope.TENANT,
    columns=(
        "url text NOT NULL CHECK (url ~ '^https?://' AND length(url) <= 2000)",
        "description text NOT NULL DEFAULT '' CHECK (length(description) <= 500)",
        "event_types text[] NOT NULL CHECK (cardinality(event_types) BETWEEN 1 AND 50)",
        "status text NOT NULL DEFAULT 'enabled' CHECK (status IN ('enabled', 'disabled'))",
        "disabled_reason text CHECK (length(disabled_reason) <= 500)",
        "disabled_at timestamptz",
        "created_at timestamptz NOT NULL DEFAULT now()",
        # The first failed attempt after the last success; NULL while healthy.
        "failing_since timestamptz",
        "consecutive_failures integer NOT NULL DEFAULT 0 CHECK (consecutive_failures >= 0)",
        "last_status_code integer",
        "last_attempt_at timestamptz",
        "successes integer NOT NULL DEFAULT 0",
        "failures integer NOT NULL DEFAULT 0",
    ),
    indexes=("created_at",),
    checks=(
        "(status = 'disabled') = (disabled_at IS NOT NULL)",
        "(status = 'disabled') = (disabled_reason IS NOT NULL)",
    ),
)

SECRETS = ScopedTable(
    name="webhook_secrets",
    scope=Scope.TENANT,
    columns=(
        "endpoint_id uuid NOT NULL",
        "version integer NOT NULL CHECK (version >= 1)",
        # nonce || AES-256-GCM ciphertext of the raw 32 secret bytes; never the plain value.
        "sealed bytea NOT NULL",
        "created_at timestamptz NOT NULL DEFAULT now()",
        # Set on the previous version at rotation: it still signs until then.
        "expires_at timestamptz",
    ),
    unique=("endpoint_id, version",),
    references=(Reference(("endpoint_id",), "webhook_endpoints", on_delete="CASCADE"),),
    runtime_access=RuntimeAccess.READ_WRITE,
)

ATTEMPTS = ScopedTable(
    name="webhook_attempts",
    scope=Scope.TENANT,
    columns=(
        "endpoint_id uuid NOT NULL",
        "event_id uuid NOT NULL",
        "event_type text NOT NULL",
        "attempt integer NOT NULL CHECK (attempt >= 1)",
        "attempted_at timestamptz NOT NULL DEFAULT now()",
        "ok boolean NOT NULL",
        "status_code integer",
        "latency_ms integer NOT NULL CHECK (latency_ms >= 0)",
        "error text CHECK (length(error) <= 500)",
        # The start of the receiver's answer, for the log (capped when read).
        "response_excerpt text CHECK (length(response_excerpt) <= 4096)",
    ),
    references=(Reference(("endpoint_id",), "webhook_endpoints", on_delete="CASCADE"),),
    indexes=("endpoint_id, attempted_at DESC, id DESC",),
    runtime_access=RuntimeAccess.READ_ONLY,
)

TABLES = (ENDPOINTS, SECRETS, ATTEMPTS)


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
    for table in TABLES:
        for statement in scoped_table_sql(table, roles):
            op.execute(statement)


def downgrade() -> None:
    for table in reversed(TABLES):
        op.execute(
            "DELETE FROM tenantry.scoped_tables "
            f"WHERE table_schema = 'tenantry' AND table_name = '{table.name}'"
        )
        op.execute(f"DROP TABLE tenantry.{table.name}")
    op.execute("DELETE FROM tenantry.privileges WHERE key = 'webhooks.manage'")
