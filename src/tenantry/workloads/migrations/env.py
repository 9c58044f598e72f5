"""The workloads module's Alembic environment (version table `alembic_version_workloads`)."""

from tenantry.library.alembic import run_migrations

run_migrations("workloads")
