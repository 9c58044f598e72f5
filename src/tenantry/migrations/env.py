"""Alembic environment: migrations run as the owner role on a connection the runner provides."""

from __future__ import annotations

from alembic import context

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    version_table_schema="tenantry_private",
    transaction_per_migration=False,
)
with context.begin_transaction():
    context.run_migrations()
