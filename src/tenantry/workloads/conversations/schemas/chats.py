"""Chat sessions, their messages and feedback on a message."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from tenantry.workloads.conversations.schemas.common import Patch

SessionStatus = Literal["active", "archived"]
Role = Literal["user", "assistant", "system", "tool"]
MessageStatus = Literal["streaming", "complete"]
Title = Annotated[str, Field(max_length=200)]
Tokens = Annotated[int, Field(ge=0, le=2_000_000_000)]
# The most characters one message holds, streamed or not.
MAX_CONTENT = 200_000


class CreateChat(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: Title = ""
    personality_id: UUID | None = None


class UpdateChat(Patch):
    """Rename, archive or unarchive."""

    title: Title | None = None
    status: SessionStatus | None = None


class ChatOut(BaseModel):
    id: UUID
    title: str
    status: SessionStatus
    personality_id: UUID | None
    message_count: int
    created_at: datetime
    updated_at: datetime
    last_message_at: datetime


class AppendMessage(BaseModel):
    """A message, complete at once or started in `streaming` status and filled piece by piece.

    `id` (optional, a UUID the client generates) makes a retried append safe: the same id in
    the same chat answers the message already stored instead of adding another."""

    model_config = ConfigDict(extra="forbid")
    id: UUID | None = None
    role: Role
    content: Annotated[str, Field(max_length=MAX_CONTENT)] = ""
    status: MessageStatus = "complete"
    prompt_tokens: Tokens | None = None
    completion_tokens: Tokens | None = None


class AppendPiece(BaseModel):
    """The `index`-th piece (from 0) of a streaming message. A piece already applied is
    acknowledged without being applied again; one past the next expected is refused."""

    model_config = ConfigDict(extra="forbid")
    index: Annotated[int, Field(ge=0, le=1_000_000)]
    content: Annotated[str, Field(min_length=1, max_length=MAX_CONTENT)]


class CompleteMessage(BaseModel):
    """Ends a streaming message. `pieces`, when given, is how many pieces the producer sent:
    completing with fewer applied is refused (`pieces_missing`), so no piece is lost."""

    model_config = ConfigDict(extra="forbid")
    pieces: Annotated[int, Field(ge=0, le=1_000_000)] | None = None
    prompt_tokens: Tokens | None = None
    completion_tokens: Tokens | None = None


class MessageOut(BaseModel):
    id: UUID
    chat_id: UUID
    sequence: int
    role: Role
    content: str
    status: MessageStatus
    pieces: int
    prompt_tokens: int | None
    completion_tokens: int | None
    created_at: datetime
    completed_at: datetime | None


class MessagePage(BaseModel):
    """Messages in sequence order: pass `next_after` back as `after` for the next page;
    `null` means there are no more (yet)."""

    items: list[MessageOut]
    next_after: int | None


class PutFeedback(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rating: Annotated[int, Field(ge=1, le=5)]
    comment: Annotated[str, Field(max_length=2000)] = ""


class FeedbackOut(BaseModel):
    message_id: UUID
    rating: int
    comment: str
    created_at: datetime
    updated_at: datetime
