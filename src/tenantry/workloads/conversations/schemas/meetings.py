"""Meetings: a user's own, with transcript and summary."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from tenantry.workloads.conversations.schemas.common import Name, Patch

MeetingStatus = Literal["scheduled", "in_progress", "completed", "cancelled"]
Transcript = Annotated[str, Field(max_length=500_000)]
Summary = Annotated[str, Field(max_length=20_000)]


class CreateMeeting(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: Name
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    status: MeetingStatus = "scheduled"
    transcript: Transcript = ""
    summary: Summary = ""

    @model_validator(mode="after")
    def _ends_after_start(self) -> CreateMeeting:
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self


class UpdateMeeting(Patch):
    """The fields given replace the meeting's; the others stay."""

    title: Name | None = None
    starts_at: AwareDatetime | None = None
    ends_at: AwareDatetime | None = None
    status: MeetingStatus | None = None
    transcript: Transcript | None = None
    summary: Summary | None = None


class MeetingSummaryOut(BaseModel):
    """A meeting in a list: everything but the transcript."""

    id: UUID
    title: str
    starts_at: datetime
    ends_at: datetime
    status: MeetingStatus
    summary: str
    created_at: datetime
    updated_at: datetime


class MeetingOut(MeetingSummaryOut):
    transcript: str
