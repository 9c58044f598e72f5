"""The notes schema and its one table.

`notes.notes` is app-scoped: a note belongs to one app of one tenant, and to the user who
wrote it. The policy generator gives it what every Tenantry table has: `(tenant_id, ...)` keys,
the foreign keys to the tenant, its app and the author (composite, with covering indexes),
forced row-level security with one policy per role, the grants, and a row in the
`scoped_tables` registry that `tenantry audit-db` and tenant purges read.

Revision ID: n0001
Revises:
Create Date: 2026-11-26
"""

from tenantry.library import Reference, ScopedTable, TableScope
from tenantry.library.alembic import (
    create_scoped_table,
    create_tenant_schema,
    drop_scoped_table,
    drop_tenant_schema,
)

revision = "n0001"
down_revision = None
branch_labels = None
depends_on = None

NOTES = ScopedTable(
    name="notes",
    schema="notes",
    scope=TableScope.APP,
    columns=(
        "author_id uuid NOT NULL",
        "body text NOT NULL CHECK (length(body) BETWEEN 1 AND 10000)",
        "created_at timestamptz NOT NULL DEFAULT now()",
        "updated_at timestamptz",
    ),
    # A user's notes, newest first, one index walk per page; it also covers the author key.
    indexes=("author_id, created_at, id",),
    # Deleting the user deletes their notes.
    references=(
        Reference(("app_id", "author_id"), "tenantry.app_users", ("app_id", "id"), "CASCADE"),
    ),
)


def upgrade() -> None:
    create_tenant_schema("notes")
    create_scoped_table(NOTES)


def downgrade() -> None:
    drop_scoped_table(NOTES)
    drop_tenant_schema("notes")
