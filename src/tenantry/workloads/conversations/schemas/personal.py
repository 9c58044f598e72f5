"""A user's own AI preferences and long-term memories."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from tenantry.workloads.conversations.schemas.common import JsonObject, Patch

# A BCP 47 language tag such as `en`, `fr-CA` or `zh-Hant-TW`.
Language = Annotated[str, Field(pattern=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8}){0,4}$")]
Label = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,39}$")]
Tone = Annotated[str, Field(pattern=r"^[a-z][a-z_-]{0,39}$")]
Importance = Annotated[int, Field(ge=1, le=5)]


class PutPreferences(BaseModel):
    """The whole of one's preferences: a field left out is reset to its default."""

    model_config = ConfigDict(extra="forbid")
    preferred_personality_id: UUID | None = None
    language: Language | None = None
    tone: Tone | None = None
    extras: JsonObject = {}


class PreferencesOut(BaseModel):
    preferred_personality_id: UUID | None
    language: str | None
    tone: str | None
    extras: JsonObject
    # When they were last saved; `null` until the first PUT.
    updated_at: datetime | None


class CreateMemory(BaseModel):
    model_config = ConfigDict(extra="forbid")
    content: Annotated[str, Field(min_length=1, max_length=4000)]
    kind: Label = "fact"
    importance: Importance = 3
    expires_at: AwareDatetime | None = None


class UpdateMemory(Patch):
    """The fields given replace the memory's; `expires_at: null` makes it permanent."""

    NULLABLE = frozenset({"expires_at"})
    content: Annotated[str, Field(min_length=1, max_length=4000)] | None = None
    kind: Label | None = None
    importance: Importance | None = None
    expires_at: AwareDatetime | None = None


class MemoryOut(BaseModel):
    id: UUID
    content: str
    kind: str
    importance: int
    created_at: datetime
    updated_at: datetime
    expires_at: datetime | None
