"""A chat's messages: pages by sequence number, appends, streamed pieces, and feedback."""

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Response, status

from tenantry.library.http import PROBLEM_RESPONSES, resolve_route_app
from tenantry.workloads.conversations.api.deps import Limit, Reads, Writes, caller
from tenantry.workloads.conversations.schemas.chats import (
    AppendMessage,
    AppendPiece,
    CompleteMessage,
    FeedbackOut,
    MessageOut,
    MessagePage,
    PutFeedback,
)
from tenantry.workloads.conversations.service import chats

router = APIRouter(
    prefix="/v1/apps/{app}/chats/{chat_id}/messages",
    tags=["conversations"],
    responses=PROBLEM_RESPONSES,
    dependencies=[Depends(resolve_route_app)],
)


@router.get("")
async def list_messages(
    chat_id: UUID,
    scoped: Reads,
    after: Annotated[
        int, Query(ge=0, le=2_000_000_000, description="Start after this sequence number.")
    ] = 0,
    limit: Limit = 50,
) -> MessagePage:
    """Messages in order, from the first after `after`."""
    return await chats.list_messages(scoped.tx, caller(scoped), chat_id, after, limit)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses={200: {"model": MessageOut, "description": "A retried append (same `id`)"}},
)
async def append_message(
    chat_id: UUID, body: AppendMessage, scoped: Writes, response: Response
) -> MessageOut:
    """Adds the chat's next message (its `sequence` is the chat's message count). A message in
    `streaming` status is then filled with `pieces` and ended with `complete`."""
    message, created = await chats.append_message(scoped.tx, caller(scoped), chat_id, body)
    if not created:
        response.status_code = status.HTTP_200_OK
    return message


@router.post("/{message_id}/pieces")
async def append_piece(
    chat_id: UUID, message_id: UUID, body: AppendPiece, scoped: Writes
) -> MessageOut:
    """Appends piece `index` (from 0) to a streaming message. Sending a piece again is safe:
    one already applied is acknowledged and not applied twice."""
    return await chats.append_piece(scoped.tx, caller(scoped), chat_id, message_id, body)


@router.post("/{message_id}/complete")
async def complete_message(
    chat_id: UUID, message_id: UUID, body: CompleteMessage, scoped: Writes
) -> MessageOut:
    return await chats.complete_message(scoped.tx, caller(scoped), chat_id, message_id, body)


@router.put("/{message_id}/feedback")
async def put_feedback(
    chat_id: UUID, message_id: UUID, body: PutFeedback, scoped: Writes
) -> FeedbackOut:
    """Rates the message (1 to 5, with an optional comment), or changes one's rating."""
    return await chats.put_feedback(scoped.tx, caller(scoped), chat_id, message_id, body)


@router.get("/{message_id}/feedback")
async def get_feedback(chat_id: UUID, message_id: UUID, scoped: Reads) -> FeedbackOut:
    return await chats.get_feedback(scoped.tx, caller(scoped), chat_id, message_id)


@router.delete("/{message_id}/feedback", status_code=status.HTTP_204_NO_CONTENT)
async def delete_feedback(chat_id: UUID, message_id: UUID, scoped: Writes) -> None:
    await chats.delete_feedback(scoped.tx, caller(scoped), chat_id, message_id)
