"""TOTP replay protection: the last time step each user's code was accepted for.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE tenantry.app_users ADD COLUMN mfa_last_step bigint")
