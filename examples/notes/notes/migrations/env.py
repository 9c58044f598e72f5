"""The notes module's Alembic environment: versioned in tenantry_private.alembic_version_notes."""

from tenantry.library.alembic import run_migrations

run_migrations("notes")
