"""The `ai` schema for the AI workload tables.

Revision ID: w0001
Revises:
Create Date: 2026-11-26
"""

from __future__ import annotations

from tenantry.library.alembic import create_tenant_schema, drop_tenant_schema

revision = "w0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_tenant_schema("ai")


def downgrade() -> None:
    drop_tenant_schema("ai")
