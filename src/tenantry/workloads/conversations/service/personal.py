"""A user's own AI preferences and memories; another user's memory is a 404."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tenantry.library import NotFound, uuid7
from tenantry.workloads.conversations import cursors
from tenantry.workloads.conversations.errors import UnknownPersonality
from tenantry.workloads.conversations.repository import memories, personalities, preferences
from tenantry.workloads.conversations.schemas.common import Page
from tenantry.workloads.conversations.schemas.personal import (
    CreateMemory,
    MemoryOut,
    PreferencesOut,
    PutPreferences,
    UpdateMemory,
)
from tenantry.workloads.conversations.service.pages import split

if TYPE_CHECKING:
    from uuid import UUID

    from tenantry.library import Transaction
    from tenantry.workloads.conversations.caller import Caller

_MEMORIES = "memories"
DEFAULTS = PreferencesOut(
    preferred_personality_id=None, language=None, tone=None, extras={}, updated_at=None
)


async def get_preferences(tx: Transaction, caller: Caller) -> PreferencesOut:
    """The caller's preferences, or the defaults until they save some."""
    row = await preferences.get(tx, caller)
    return DEFAULTS if row is None else PreferencesOut.model_validate(row)


async def put_preferences(tx: Transaction, caller: Caller, body: PutPreferences) -> PreferencesOut:
    caller = caller.writing()
    preferred = body.preferred_personality_id
    if preferred is not None and not await personalities.hold(tx, caller, preferred):
        raise UnknownPersonality("no such personality in this app")
    row = await preferences.put(tx, caller, uuid7(), body.model_dump())
    return PreferencesOut.model_validate(row)


async def create_memory(tx: Transaction, caller: Caller, body: CreateMemory) -> MemoryOut:
    row = await memories.create(tx, caller.writing(), uuid7(), body.model_dump())
    return MemoryOut.model_validate(row)


async def list_memories(
    tx: Transaction, caller: Caller, cursor: str | None, limit: int
) -> Page[MemoryOut]:
    before = cursors.uuid(_MEMORIES, cursor) if cursor else None
    rows = await memories.page(tx, caller, before, limit + 1)
    items, next_cursor = split(
        [MemoryOut.model_validate(row) for row in rows],
        limit,
        lambda memory: cursors.encode(_MEMORIES, str(memory.id)),
    )
    return Page[MemoryOut](items=items, next_cursor=next_cursor)


async def get_memory(tx: Transaction, caller: Caller, memory_id: UUID) -> MemoryOut:
    row = await memories.get(tx, caller, memory_id)
    if row is None:
        raise NotFound("no such memory")
    return MemoryOut.model_validate(row)


async def update_memory(
    tx: Transaction, caller: Caller, memory_id: UUID, body: UpdateMemory
) -> MemoryOut:
    row = await memories.update(tx, caller.writing(), memory_id, body.changes())
    if row is None:
        raise NotFound("no such memory")
    return MemoryOut.model_validate(row)


async def delete_memory(tx: Transaction, caller: Caller, memory_id: UUID) -> None:
    if not await memories.delete(tx, caller.writing(), memory_id):
        raise NotFound("no such memory")
