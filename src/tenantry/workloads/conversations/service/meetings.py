"""Meetings: each user's own (the organizer); another user's meeting is a 404."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tenantry.library import NotFound, uuid7
from tenantry.workloads.conversations import cursors
from tenantry.workloads.conversations.errors import InvalidTimeRange
from tenantry.workloads.conversations.repository import meetings
from tenantry.workloads.conversations.schemas.common import Page
from tenantry.workloads.conversations.schemas.meetings import (
    CreateMeeting,
    MeetingOut,
    MeetingSummaryOut,
    UpdateMeeting,
)
from tenantry.workloads.conversations.service.pages import split

if TYPE_CHECKING:
    from datetime import datetime
    from uuid import UUID

    from tenantry.library import Transaction
    from tenantry.workloads.conversations.caller import Caller

_LIST = "meetings"


def _no_meeting() -> NotFound:
    return NotFound("no such meeting")


async def create_meeting(tx: Transaction, caller: Caller, body: CreateMeeting) -> MeetingOut:
    row = await meetings.create(tx, caller.writing(), uuid7(), body.model_dump())
    return MeetingOut.model_validate(row)


async def list_meetings(
    tx: Transaction, caller: Caller, cursor: str | None, limit: int
) -> Page[MeetingSummaryOut]:
    after = cursors.time_and_id(_LIST, cursor) if cursor else None
    rows = await meetings.page(tx, caller, after, limit + 1)
    items, next_cursor = split(
        [MeetingSummaryOut.model_validate(row) for row in rows],
        limit,
        lambda meeting: cursors.of_time_and_id(_LIST, meeting.starts_at, meeting.id),
    )
    return Page[MeetingSummaryOut](items=items, next_cursor=next_cursor)


async def get_meeting(tx: Transaction, caller: Caller, meeting_id: UUID) -> MeetingOut:
    row = await meetings.get(tx, caller, meeting_id)
    if row is None:
        raise _no_meeting()
    return MeetingOut.model_validate(row)


async def update_meeting(
    tx: Transaction, caller: Caller, meeting_id: UUID, body: UpdateMeeting
) -> MeetingOut:
    caller = caller.writing()
    changes = body.changes()
    if {"starts_at", "ends_at"} & changes.keys():
        # The new times are checked against the stored ones under the row's lock.
        stored = await meetings.get(tx, caller, meeting_id, for_update=True)
        if stored is None:
            raise _no_meeting()
        starts: datetime = changes.get("starts_at") or stored["starts_at"]
        ends: datetime = changes.get("ends_at") or stored["ends_at"]
        if ends <= starts:
            raise InvalidTimeRange("ends_at must be after starts_at")
    row = await meetings.update(tx, caller, meeting_id, changes)
    if row is None:
        raise _no_meeting()
    return MeetingOut.model_validate(row)


async def delete_meeting(tx: Transaction, caller: Caller, meeting_id: UUID) -> None:
    if not await meetings.delete(tx, caller.writing(), meeting_id):
        raise _no_meeting()
