"""ai.feedback: one rating (and comment) per message and user."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from uuid import UUID

    from psycopg.rows import DictRow

    from tenantry.library import Transaction
    from tenantry.workloads.conversations.caller import Caller

COLUMNS = "message_id, rating, comment, created_at, updated_at"
MINE = """tenant_id = %(tenant)s AND app_id = %(app)s AND message_id = %(message)s
    AND app_user_id = %(user)s"""
# The message is in the given chat, and the chat is the caller's.
IN_OWNED_CHAT = """EXISTS (SELECT FROM ai.chat_messages m JOIN ai.chat_sessions s
        ON s.tenant_id = m.tenant_id AND s.app_id = m.app_id AND s.id = m.session_id
     WHERE m.tenant_id = %(tenant)s AND m.app_id = %(app)s AND m.id = %(message)s
       AND m.session_id = %(chat)s AND s.app_user_id = %(user)s)"""


def _keys(caller: Caller, chat_id: UUID, message_id: UUID, **extra: Any) -> dict[str, Any]:  # noqa: ANN401 - statement parameters
    return {
        "tenant": caller.tenant_id,
        "app": caller.app_id,
        "user": caller.user_id,
        "chat": chat_id,
        "message": message_id,
        **extra,
    }


async def put(
    tx: Transaction,
    caller: Caller,
    chat_id: UUID,
    message_id: UUID,
    feedback_id: UUID,
    rating: int,
    comment: str,
) -> DictRow | None:
    """The caller's feedback on the message, added or replaced; None if the message is not in
    one of the caller's chats. The message is locked (key share) while the feedback is added,
    so a chat deleted meanwhile is a miss, not a broken reference."""
    return await tx.fetch_one(
        f"""INSERT INTO ai.feedback
                   (tenant_id, app_id, id, message_id, app_user_id, rating, comment)
            SELECT m.tenant_id, m.app_id, %(id)s, m.id, %(user)s, %(rating)s, %(comment)s
              FROM ai.chat_messages m
             WHERE m.tenant_id = %(tenant)s AND m.app_id = %(app)s AND m.id = %(message)s
               AND m.session_id = %(chat)s
               AND EXISTS (SELECT FROM ai.chat_sessions s
                            WHERE s.tenant_id = %(tenant)s AND s.app_id = %(app)s
                              AND s.id = %(chat)s AND s.app_user_id = %(user)s)
               FOR KEY SHARE OF m
            ON CONFLICT (tenant_id, app_id, message_id, app_user_id) DO UPDATE
               SET rating = EXCLUDED.rating, comment = EXCLUDED.comment,
                   updated_at = EXCLUDED.updated_at
            RETURNING {COLUMNS}""",
        _keys(caller, chat_id, message_id, id=feedback_id, rating=rating, comment=comment),
    )


async def get(tx: Transaction, caller: Caller, chat_id: UUID, message_id: UUID) -> DictRow | None:
    return await tx.fetch_one(
        f"SELECT {COLUMNS} FROM ai.feedback WHERE {MINE} AND {IN_OWNED_CHAT}",
        _keys(caller, chat_id, message_id),
    )


async def delete(tx: Transaction, caller: Caller, chat_id: UUID, message_id: UUID) -> bool:
    cursor = await tx.execute(
        f"DELETE FROM ai.feedback WHERE {MINE} AND {IN_OWNED_CHAT}",
        _keys(caller, chat_id, message_id),
    )
    return cursor.rowcount == 1
