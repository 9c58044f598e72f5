"""ai.chat_messages: a chat's messages in sequence order, appended whole or streamed."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from uuid import UUID

    from psycopg.rows import DictRow

    from tenantry.library import Transaction
    from tenantry.workloads.conversations.caller import Caller

COLUMNS = """id, session_id AS chat_id, sequence, role, content, status, pieces, prompt_tokens,
    completion_tokens, created_at, completed_at"""
MAX_CONTENT = 200_000
IN_CHAT = "tenant_id = %(tenant)s AND app_id = %(app)s AND session_id = %(chat)s"
# The caller owns the chat: messages are only ever reached through their chat.
OWNED_CHAT = """EXISTS (SELECT FROM ai.chat_sessions s
    WHERE s.tenant_id = %(tenant)s AND s.app_id = %(app)s AND s.id = %(chat)s
      AND s.app_user_id = %(user)s)"""


def _keys(caller: Caller, chat_id: UUID, **extra: Any) -> dict[str, Any]:  # noqa: ANN401 - statement parameters
    return {
        "tenant": caller.tenant_id,
        "app": caller.app_id,
        "user": caller.user_id,
        "chat": chat_id,
        **extra,
    }


async def append(
    tx: Transaction,
    caller: Caller,
    chat_id: UUID,
    message_id: UUID,
    fields: dict[str, Any],
) -> DictRow | None:
    """The message added as the chat's next one, or None when the caller has no such active
    chat. The chat's row is updated first, so concurrent appends to one chat queue on its lock:
    each takes the next sequence number and moves `last_message_at` forward, never back."""
    return await tx.fetch_one(
        f"""WITH chat AS (
                UPDATE ai.chat_sessions
                   SET message_count = message_count + 1,
                       last_message_at = greatest(last_message_at, statement_timestamp())
                 WHERE tenant_id = %(tenant)s AND app_id = %(app)s AND id = %(chat)s
                   AND app_user_id = %(user)s AND status = 'active'
             RETURNING message_count, last_message_at)
            INSERT INTO ai.chat_messages
                   (tenant_id, app_id, id, session_id, sequence, role, content, status,
                    prompt_tokens, completion_tokens, created_at, completed_at)
            SELECT %(tenant)s, %(app)s, %(id)s, %(chat)s, chat.message_count, %(role)s,
                   %(content)s, %(status)s, %(prompt_tokens)s, %(completion_tokens)s,
                   chat.last_message_at,
                   CASE WHEN %(status)s = 'complete' THEN chat.last_message_at END
              FROM chat
            RETURNING {COLUMNS}""",
        _keys(caller, chat_id, id=message_id, **fields),
    )


async def get(tx: Transaction, caller: Caller, chat_id: UUID, message_id: UUID) -> DictRow | None:
    return await tx.fetch_one(
        f"""SELECT {COLUMNS} FROM ai.chat_messages
             WHERE {IN_CHAT} AND id = %(id)s AND {OWNED_CHAT}""",
        _keys(caller, chat_id, id=message_id),
    )


async def page(
    tx: Transaction, caller: Caller, chat_id: UUID, after: int, limit: int
) -> list[DictRow]:
    """The `limit` messages after sequence number `after`, in order. Sequence numbers are
    dense (messages go only with their chat), so the page is the range (after, after + limit]
    of the (chat, sequence) key: however the planner reads it, it reads `limit` rows at most,
    even in a chat of a million messages. The caller's ownership of the chat is checked
    beforehand."""
    return await tx.fetch_all(
        f"""SELECT {COLUMNS} FROM ai.chat_messages
             WHERE {IN_CHAT} AND sequence > %(after)s AND sequence <= %(after)s + %(limit)s
             ORDER BY sequence LIMIT %(limit)s""",
        _keys(caller, chat_id, after=after, limit=limit),
    )


async def append_piece(
    tx: Transaction, caller: Caller, chat_id: UUID, message_id: UUID, index: int, piece: str
) -> DictRow | None:
    """`piece` added at the end of a streaming message if it is the next piece expected (its
    index is the count applied so far) and the message stays within its limit; else None.

    Two deliveries of one piece queue on the row's lock: the second finds the count moved on
    and changes nothing, so a retried piece is never applied twice."""
    return await tx.fetch_one(
        f"""UPDATE ai.chat_messages
               SET content = content || %(piece)s, pieces = pieces + 1
             WHERE {IN_CHAT} AND id = %(id)s AND status = 'streaming'
               AND pieces = %(index)s AND length(content) + length(%(piece)s) <= %(max)s
               AND {OWNED_CHAT}
            RETURNING {COLUMNS}""",
        _keys(caller, chat_id, id=message_id, index=index, piece=piece, max=MAX_CONTENT),
    )


async def complete(
    tx: Transaction,
    caller: Caller,
    chat_id: UUID,
    message_id: UUID,
    pieces: int | None,
    tokens: dict[str, int | None],
) -> DictRow | None:
    """A streaming message completed (with `pieces` applied, when given), or None."""
    return await tx.fetch_one(
        f"""UPDATE ai.chat_messages
               SET status = 'complete', completed_at = statement_timestamp(),
                   prompt_tokens = coalesce(%(prompt_tokens)s, prompt_tokens),
                   completion_tokens = coalesce(%(completion_tokens)s, completion_tokens)
             WHERE {IN_CHAT} AND id = %(id)s AND status = 'streaming'
               AND (%(pieces)s::integer IS NULL OR pieces = %(pieces)s)
               AND {OWNED_CHAT}
            RETURNING {COLUMNS}""",
        _keys(caller, chat_id, id=message_id, pieces=pieces, **tokens),
    )
