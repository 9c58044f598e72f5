"""A user's meetings: create, list (latest start first, keyset pages), read, edit, delete."""

from uuid import UUID

from fastapi import APIRouter, Depends, status

from tenantry.library.http import PROBLEM_RESPONSES, resolve_route_app
from tenantry.workloads.conversations.api.deps import Cursor, Limit, Reads, Writes, caller
from tenantry.workloads.conversations.schemas.common import Page
from tenantry.workloads.conversations.schemas.meetings import (
    CreateMeeting,
    MeetingOut,
    MeetingSummaryOut,
    UpdateMeeting,
)
from tenantry.workloads.conversations.service import meetings

router = APIRouter(
    prefix="/v1/apps/{app}/meetings",
    tags=["conversations"],
    responses=PROBLEM_RESPONSES,
    dependencies=[Depends(resolve_route_app)],
)


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_meeting(body: CreateMeeting, scoped: Writes) -> MeetingOut:
    return await meetings.create_meeting(scoped.tx, caller(scoped), body)


@router.get("")
async def list_meetings(
    scoped: Reads, cursor: Cursor = None, limit: Limit = 50
) -> Page[MeetingSummaryOut]:
    """The caller's meetings, latest start first, without their transcripts."""
    return await meetings.list_meetings(scoped.tx, caller(scoped), cursor, limit)


@router.get("/{meeting_id}")
async def get_meeting(meeting_id: UUID, scoped: Reads) -> MeetingOut:
    return await meetings.get_meeting(scoped.tx, caller(scoped), meeting_id)


@router.patch("/{meeting_id}")
async def update_meeting(meeting_id: UUID, body: UpdateMeeting, scoped: Writes) -> MeetingOut:
    return await meetings.update_meeting(scoped.tx, caller(scoped), meeting_id, body)


@router.delete("/{meeting_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_meeting(meeting_id: UUID, scoped: Writes) -> None:
    await meetings.delete_meeting(scoped.tx, caller(scoped), meeting_id)
