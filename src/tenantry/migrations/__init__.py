"""Alembic migrations, written as explicit SQL through the isolation helpers."""
