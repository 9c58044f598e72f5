"""Every SQL statement of the notes module: plain functions taking a transaction.

Queries name the tenant and app although row-level security would filter them anyway: the
explicit filter keeps the plans on the (tenant_id, app_id, author_id, created_at, id) index.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from uuid import UUID

    from tenantry.library import Transaction

_COLUMNS = "id, body, created_at, updated_at"


async def add(
    tx: Transaction, tenant_id: UUID, app_id: UUID, author_id: UUID, note_id: UUID, body: str
) -> dict[str, Any]:
    row = await tx.fetch_one(
        "INSERT INTO notes.notes (tenant_id, app_id, id, author_id, body) "
        f"VALUES (%s, %s, %s, %s, %s) RETURNING {_COLUMNS}",
        [tenant_id, app_id, note_id, author_id, body],
    )
    assert row is not None
    return row


async def page(
    tx: Transaction,
    tenant_id: UUID,
    app_id: UUID,
    author_id: UUID,
    before: UUID | None,
    limit: int,
) -> list[dict[str, Any]]:
    """The author's notes, newest first; `before` is the last note of the previous page."""
    return await tx.fetch_all(
        f"""SELECT {_COLUMNS} FROM notes.notes
             WHERE tenant_id = %(tenant)s AND app_id = %(app)s AND author_id = %(author)s
               AND (%(before)s::uuid IS NULL OR (created_at, id) < (
                    SELECT b.created_at, b.id FROM notes.notes b
                     WHERE b.tenant_id = %(tenant)s AND b.app_id = %(app)s
                       AND b.author_id = %(author)s AND b.id = %(before)s))
             ORDER BY created_at DESC, id DESC LIMIT %(limit)s""",
        {"tenant": tenant_id, "app": app_id, "author": author_id, "before": before, "limit": limit},
    )


async def get(
    tx: Transaction, tenant_id: UUID, app_id: UUID, author_id: UUID, note_id: UUID
) -> dict[str, Any] | None:
    return await tx.fetch_one(
        f"SELECT {_COLUMNS} FROM notes.notes "
        "WHERE tenant_id = %s AND app_id = %s AND author_id = %s AND id = %s",
        [tenant_id, app_id, author_id, note_id],
    )
