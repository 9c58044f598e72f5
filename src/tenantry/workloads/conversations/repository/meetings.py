"""ai.meetings: a user's meetings, latest start first."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from psycopg import sql

from tenantry.workloads.conversations.repository.changes import assignments

if TYPE_CHECKING:
    from datetime import datetime
    from uuid import UUID

    from psycopg.rows import DictRow

    from tenantry.library import Transaction
    from tenantry.workloads.conversations.caller import Caller

SUMMARY = "id, title, starts_at, ends_at, status, summary, created_at, updated_at"
COLUMNS = SUMMARY + ", transcript"
UPDATABLE = frozenset({"title", "starts_at", "ends_at", "status", "transcript", "summary"})
OWNED = "tenant_id = %(tenant)s AND app_id = %(app)s AND organizer_id = %(user)s"


def _keys(caller: Caller, **extra: Any) -> dict[str, Any]:  # noqa: ANN401 - statement parameters
    return {"tenant": caller.tenant_id, "app": caller.app_id, "user": caller.user_id, **extra}


async def create(
    tx: Transaction, caller: Caller, meeting_id: UUID, fields: dict[str, Any]
) -> DictRow:
    row = await tx.fetch_one(
        f"""INSERT INTO ai.meetings
                   (tenant_id, app_id, id, organizer_id, title, starts_at, ends_at, status,
                    transcript, summary)
            VALUES (%(tenant)s, %(app)s, %(id)s, %(user)s, %(title)s, %(starts_at)s,
                    %(ends_at)s, %(status)s, %(transcript)s, %(summary)s)
            RETURNING {COLUMNS}""",
        _keys(caller, id=meeting_id, **fields),
    )
    assert row is not None
    return row


async def get(
    tx: Transaction, caller: Caller, meeting_id: UUID, *, for_update: bool = False
) -> DictRow | None:
    if for_update:
        return await tx.fetch_one(
            f"SELECT {COLUMNS} FROM ai.meetings WHERE {OWNED} AND id = %(id)s FOR NO KEY UPDATE",
            _keys(caller, id=meeting_id),
        )
    return await tx.fetch_one(
        f"SELECT {COLUMNS} FROM ai.meetings WHERE {OWNED} AND id = %(id)s",
        _keys(caller, id=meeting_id),
    )


async def page(
    tx: Transaction, caller: Caller, after: tuple[datetime, UUID] | None, limit: int
) -> list[DictRow]:
    """The caller's meetings, latest start first, strictly after `after` (starts_at, id)."""
    if after is None:
        return await tx.fetch_all(
            f"""SELECT {SUMMARY} FROM ai.meetings WHERE {OWNED}
                 ORDER BY starts_at DESC, id DESC LIMIT %(limit)s""",
            _keys(caller, limit=limit),
        )
    at, last_id = after
    return await tx.fetch_all(
        f"""SELECT {SUMMARY} FROM ai.meetings
             WHERE {OWNED} AND (starts_at, id) < (%(at)s, %(last)s)
             ORDER BY starts_at DESC, id DESC LIMIT %(limit)s""",
        _keys(caller, at=at, last=last_id, limit=limit),
    )


async def update(
    tx: Transaction, caller: Caller, meeting_id: UUID, changes: dict[str, Any]
) -> DictRow | None:
    query = sql.SQL(
        "UPDATE ai.meetings SET {changes} WHERE " + OWNED + " AND id = %(id)s RETURNING " + COLUMNS
    ).format(changes=assignments(changes, UPDATABLE))
    return await tx.fetch_one(query, _keys(caller, id=meeting_id, **changes))


async def delete(tx: Transaction, caller: Caller, meeting_id: UUID) -> bool:
    cursor = await tx.execute(
        f"DELETE FROM ai.meetings WHERE {OWNED} AND id = %(id)s", _keys(caller, id=meeting_id)
    )
    return cursor.rowcount == 1
