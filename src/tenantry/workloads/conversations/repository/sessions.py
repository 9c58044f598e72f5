"""ai.chat_sessions: a user's chats, listed newest activity first."""

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

COLUMNS = """id, title, status, personality_id, message_count, created_at, updated_at,
    last_message_at"""
UPDATABLE = frozenset({"title", "status"})
OWNED = "tenant_id = %(tenant)s AND app_id = %(app)s AND app_user_id = %(user)s"


def _keys(caller: Caller, **extra: Any) -> dict[str, Any]:  # noqa: ANN401 - statement parameters
    return {"tenant": caller.tenant_id, "app": caller.app_id, "user": caller.user_id, **extra}


async def create(
    tx: Transaction, caller: Caller, chat_id: UUID, title: str, personality_id: UUID | None
) -> DictRow:
    row = await tx.fetch_one(
        f"""INSERT INTO ai.chat_sessions
                   (tenant_id, app_id, id, app_user_id, title, personality_id)
            VALUES (%(tenant)s, %(app)s, %(id)s, %(user)s, %(title)s, %(personality)s)
            RETURNING {COLUMNS}""",
        _keys(caller, id=chat_id, title=title, personality=personality_id),
    )
    assert row is not None
    return row


async def get(tx: Transaction, caller: Caller, chat_id: UUID) -> DictRow | None:
    return await tx.fetch_one(
        f"SELECT {COLUMNS} FROM ai.chat_sessions WHERE {OWNED} AND id = %(id)s",
        _keys(caller, id=chat_id),
    )


async def page(
    tx: Transaction,
    caller: Caller,
    status: str,
    after: tuple[datetime, UUID] | None,
    limit: int,
) -> list[DictRow]:
    """The caller's chats in `status`, newest activity first, strictly after `after`
    (last_message_at, id): one walk of the (owner, status, last_message_at, id) index."""
    if after is None:
        return await tx.fetch_all(
            f"""SELECT {COLUMNS} FROM ai.chat_sessions
                 WHERE {OWNED} AND status = %(status)s
                 ORDER BY last_message_at DESC, id DESC LIMIT %(limit)s""",
            _keys(caller, status=status, limit=limit),
        )
    at, last_id = after
    return await tx.fetch_all(
        f"""SELECT {COLUMNS} FROM ai.chat_sessions
             WHERE {OWNED} AND status = %(status)s
               AND (last_message_at, id) < (%(at)s, %(last)s)
             ORDER BY last_message_at DESC, id DESC LIMIT %(limit)s""",
        _keys(caller, status=status, at=at, last=last_id, limit=limit),
    )


async def update(
    tx: Transaction, caller: Caller, chat_id: UUID, changes: dict[str, Any]
) -> DictRow | None:
    query = sql.SQL(
        "UPDATE ai.chat_sessions SET {changes} WHERE " + OWNED + " AND id = %(id)s "
        "RETURNING " + COLUMNS
    ).format(changes=assignments(changes, UPDATABLE))
    return await tx.fetch_one(query, _keys(caller, id=chat_id, **changes))


async def delete(tx: Transaction, caller: Caller, chat_id: UUID) -> bool:
    """Deletes the chat with its messages and their feedback (the keys cascade)."""
    cursor = await tx.execute(
        f"DELETE FROM ai.chat_sessions WHERE {OWNED} AND id = %(id)s", _keys(caller, id=chat_id)
    )
    return cursor.rowcount == 1
