"""Chats: a user's own sessions, their messages (appended whole or streamed piece by piece) and
feedback on a message. Another user's chat, message or feedback is a 404, never a 403."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tenantry.library import NotFound, uuid7
from tenantry.workloads.conversations import cursors
from tenantry.workloads.conversations.errors import (
    ChatArchived,
    MessageComplete,
    MessageTooLong,
    PieceOutOfOrder,
    PiecesMissing,
    UnknownPersonality,
)
from tenantry.workloads.conversations.repository import feedback, messages, personalities, sessions
from tenantry.workloads.conversations.schemas.chats import (
    AppendMessage,
    AppendPiece,
    ChatOut,
    CompleteMessage,
    CreateChat,
    FeedbackOut,
    MessageOut,
    MessagePage,
    PutFeedback,
    SessionStatus,
    UpdateChat,
)
from tenantry.workloads.conversations.schemas.common import Page
from tenantry.workloads.conversations.service.pages import split

if TYPE_CHECKING:
    from uuid import UUID

    from tenantry.library import Transaction
    from tenantry.workloads.conversations.caller import Caller

# Cursors of the chat list name its status: one of the active list is refused by the archived.
_LIST = "chats"


def _no_chat() -> NotFound:
    return NotFound("no such chat")


def _no_message() -> NotFound:
    return NotFound("no such message")


async def create_chat(tx: Transaction, caller: Caller, body: CreateChat) -> ChatOut:
    caller = caller.writing()
    if body.personality_id is not None and not await personalities.hold(
        tx, caller, body.personality_id
    ):
        raise UnknownPersonality("no such personality in this app")
    row = await sessions.create(tx, caller, uuid7(), body.title, body.personality_id)
    return ChatOut.model_validate(row)


async def list_chats(
    tx: Transaction, caller: Caller, status: SessionStatus, cursor: str | None, limit: int
) -> Page[ChatOut]:
    after = cursors.time_and_id(f"{_LIST}:{status}", cursor) if cursor else None
    rows = await sessions.page(tx, caller, status, after, limit + 1)
    items, next_cursor = split(
        [ChatOut.model_validate(row) for row in rows],
        limit,
        lambda chat: cursors.of_time_and_id(f"{_LIST}:{status}", chat.last_message_at, chat.id),
    )
    return Page[ChatOut](items=items, next_cursor=next_cursor)


async def get_chat(tx: Transaction, caller: Caller, chat_id: UUID) -> ChatOut:
    row = await sessions.get(tx, caller, chat_id)
    if row is None:
        raise _no_chat()
    return ChatOut.model_validate(row)


async def update_chat(tx: Transaction, caller: Caller, chat_id: UUID, body: UpdateChat) -> ChatOut:
    row = await sessions.update(tx, caller.writing(), chat_id, body.changes())
    if row is None:
        raise _no_chat()
    return ChatOut.model_validate(row)


async def delete_chat(tx: Transaction, caller: Caller, chat_id: UUID) -> None:
    if not await sessions.delete(tx, caller.writing(), chat_id):
        raise _no_chat()


async def list_messages(
    tx: Transaction, caller: Caller, chat_id: UUID, after: int, limit: int
) -> MessagePage:
    if await sessions.get(tx, caller, chat_id) is None:
        raise _no_chat()
    rows = await messages.page(tx, caller, chat_id, after, limit + 1)
    items = [MessageOut.model_validate(row) for row in rows[:limit]]
    return MessagePage(items=items, next_after=items[-1].sequence if len(rows) > limit else None)


async def append_message(
    tx: Transaction, caller: Caller, chat_id: UUID, body: AppendMessage
) -> tuple[MessageOut, bool]:
    """The message and whether it is new (False: a retried append, answered as first stored)."""
    caller = caller.writing()
    if body.id is not None:
        stored = await messages.get(tx, caller, chat_id, body.id)
        if stored is not None:
            return MessageOut.model_validate(stored), False
    fields = body.model_dump(
        include={"role", "content", "status", "prompt_tokens", "completion_tokens"}
    )
    row = await messages.append(tx, caller, chat_id, body.id or uuid7(), fields)
    if row is None:
        chat = await sessions.get(tx, caller, chat_id)
        if chat is None:
            raise _no_chat()
        raise ChatArchived("this chat is archived: unarchive it to add messages")
    return MessageOut.model_validate(row), True


async def append_piece(
    tx: Transaction, caller: Caller, chat_id: UUID, message_id: UUID, body: AppendPiece
) -> MessageOut:
    """The message with the piece applied, or as it is when the piece was applied before."""
    caller = caller.writing()
    row = await messages.append_piece(tx, caller, chat_id, message_id, body.index, body.content)
    if row is not None:
        return MessageOut.model_validate(row)
    current = await messages.get(tx, caller, chat_id, message_id)
    if current is None:
        raise _no_message()
    message = MessageOut.model_validate(current)
    if body.index < message.pieces:
        return message  # a retry of a piece already applied
    if message.status == "complete":
        raise MessageComplete("this message is complete: it takes no more pieces")
    if body.index > message.pieces:
        raise PieceOutOfOrder(
            f"piece {body.index} arrived before piece {message.pieces}: send that one first"
        )
    raise MessageTooLong(f"a message holds at most {messages.MAX_CONTENT} characters")


async def complete_message(
    tx: Transaction, caller: Caller, chat_id: UUID, message_id: UUID, body: CompleteMessage
) -> MessageOut:
    """The completed message; completing it again answers it as it is."""
    caller = caller.writing()
    tokens = {"prompt_tokens": body.prompt_tokens, "completion_tokens": body.completion_tokens}
    row = await messages.complete(tx, caller, chat_id, message_id, body.pieces, tokens)
    if row is not None:
        return MessageOut.model_validate(row)
    current = await messages.get(tx, caller, chat_id, message_id)
    if current is None:
        raise _no_message()
    message = MessageOut.model_validate(current)
    if message.status == "streaming":
        raise PiecesMissing(
            f"the message has {message.pieces} pieces, not {body.pieces}: "
            "send the missing ones first"
        )
    return message


async def put_feedback(
    tx: Transaction, caller: Caller, chat_id: UUID, message_id: UUID, body: PutFeedback
) -> FeedbackOut:
    row = await feedback.put(
        tx, caller.writing(), chat_id, message_id, uuid7(), body.rating, body.comment
    )
    if row is None:
        raise _no_message()
    return FeedbackOut.model_validate(row)


async def get_feedback(
    tx: Transaction, caller: Caller, chat_id: UUID, message_id: UUID
) -> FeedbackOut:
    row = await feedback.get(tx, caller, chat_id, message_id)
    if row is None:
        raise NotFound("no feedback on this message")
    return FeedbackOut.model_validate(row)


async def delete_feedback(tx: Transaction, caller: Caller, chat_id: UUID, message_id: UUID) -> None:
    if not await feedback.delete(tx, caller.writing(), chat_id, message_id):
        raise NotFound("no feedback on this message")
