"""What an app's managers set up for everyone: AI personalities and embeddable chat widgets."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from tenantry.workloads.conversations.schemas.common import JsonObject, Name, Patch

Model = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^\S+$")]
Temperature = Annotated[float, Field(ge=0, le=2, allow_inf_nan=False)]
Description = Annotated[str, Field(max_length=2000)]
SystemPrompt = Annotated[str, Field(max_length=20_000)]
# scheme://host[:port], as browsers send it in `Origin`.
Origin = Annotated[
    str,
    Field(
        max_length=300,
        pattern=r"^https?://[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*(:[0-9]{1,5})?$",
    ),
]


def _distinct(origins: list[str]) -> list[str]:
    return list(dict.fromkeys(origins))


Origins = Annotated[list[Origin], Field(max_length=50), AfterValidator(_distinct)]


class CreatePersonality(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name
    description: Description = ""
    system_prompt: SystemPrompt = ""
    model: Model
    temperature: Temperature = 0.7


class UpdatePersonality(Patch):
    """The fields given replace the personality's; the others stay."""

    name: Name | None = None
    description: Description | None = None
    system_prompt: SystemPrompt | None = None
    model: Model | None = None
    temperature: Temperature | None = None


class PersonalityOut(BaseModel):
    """A personality as the app's users see it: everything but its system prompt."""

    id: UUID
    name: str
    description: str
    model: str
    temperature: float


class ManagedPersonalityOut(PersonalityOut):
    system_prompt: str
    created_at: datetime
    updated_at: datetime


class CreateWidget(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name
    personality_id: UUID | None = None
    allowed_origins: Origins = []
    config: JsonObject = {}
    enabled: bool = True


class UpdateWidget(Patch):
    """The fields given replace the widget's; `personality_id: null` unsets it."""

    NULLABLE = frozenset({"personality_id"})
    name: Name | None = None
    personality_id: UUID | None = None
    allowed_origins: Origins | None = None
    config: JsonObject | None = None
    enabled: bool | None = None


class WidgetOut(BaseModel):
    id: UUID
    name: str
    personality_id: UUID | None
    allowed_origins: list[str]
    config: JsonObject
    enabled: bool
    created_at: datetime
    updated_at: datetime
