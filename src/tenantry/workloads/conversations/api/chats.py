"""A user's chat sessions: create, list (newest activity first, keyset pages), read, rename,
archive and delete."""

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query, status

from tenantry.library.http import PROBLEM_RESPONSES, resolve_route_app
from tenantry.workloads.conversations.api.deps import Cursor, Limit, Reads, Writes, caller
from tenantry.workloads.conversations.schemas.chats import (
    ChatOut,
    CreateChat,
    SessionStatus,
    UpdateChat,
)
from tenantry.workloads.conversations.schemas.common import Page
from tenantry.workloads.conversations.service import chats

router = APIRouter(
    prefix="/v1/apps/{app}/chats",
    tags=["conversations"],
    responses=PROBLEM_RESPONSES,
    dependencies=[Depends(resolve_route_app)],
)


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_chat(body: CreateChat, scoped: Writes) -> ChatOut:
    return await chats.create_chat(scoped.tx, caller(scoped), body)


@router.get("")
async def list_chats(
    scoped: Reads,
    chat_status: Annotated[SessionStatus, Query(alias="status")] = "active",
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Page[ChatOut]:
    """The caller's chats in one status, most recent message first. A chat that gets a new
    message while you page moves to the top: it is not repeated further down."""
    return await chats.list_chats(scoped.tx, caller(scoped), chat_status, cursor, limit)


@router.get("/{chat_id}")
async def get_chat(chat_id: UUID, scoped: Reads) -> ChatOut:
    return await chats.get_chat(scoped.tx, caller(scoped), chat_id)


@router.patch("/{chat_id}")
async def update_chat(chat_id: UUID, body: UpdateChat, scoped: Writes) -> ChatOut:
    """Rename (`title`), archive or unarchive (`status`)."""
    return await chats.update_chat(scoped.tx, caller(scoped), chat_id, body)


@router.delete("/{chat_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_chat(chat_id: UUID, scoped: Writes) -> None:
    """Deletes the chat, its messages and their feedback."""
    await chats.delete_chat(scoped.tx, caller(scoped), chat_id)
