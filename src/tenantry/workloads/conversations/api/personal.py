"""The caller's own AI preferences (one document) and long-term memories."""

from uuid import UUID

from fastapi import APIRouter, Depends, status

from tenantry.library.http import PROBLEM_RESPONSES, resolve_route_app
from tenantry.workloads.conversations.api.deps import Cursor, Limit, Reads, Writes, caller
from tenantry.workloads.conversations.schemas.common import Page
from tenantry.workloads.conversations.schemas.personal import (
    CreateMemory,
    MemoryOut,
    PreferencesOut,
    PutPreferences,
    UpdateMemory,
)
from tenantry.workloads.conversations.service import personal

router = APIRouter(
    prefix="/v1/apps/{app}/me",
    tags=["conversations"],
    responses=PROBLEM_RESPONSES,
    dependencies=[Depends(resolve_route_app)],
)


@router.get("/ai-preferences")
async def get_preferences(scoped: Reads) -> PreferencesOut:
    """The caller's AI preferences; the defaults until they save some."""
    return await personal.get_preferences(scoped.tx, caller(scoped))


@router.put("/ai-preferences")
async def put_preferences(body: PutPreferences, scoped: Writes) -> PreferencesOut:
    return await personal.put_preferences(scoped.tx, caller(scoped), body)


@router.get("/memories")
async def list_memories(scoped: Reads, cursor: Cursor = None, limit: Limit = 50) -> Page[MemoryOut]:
    """The caller's memories, newest first; expired ones are left out."""
    return await personal.list_memories(scoped.tx, caller(scoped), cursor, limit)


@router.post("/memories", status_code=status.HTTP_201_CREATED)
async def create_memory(body: CreateMemory, scoped: Writes) -> MemoryOut:
    return await personal.create_memory(scoped.tx, caller(scoped), body)


@router.get("/memories/{memory_id}")
async def get_memory(memory_id: UUID, scoped: Reads) -> MemoryOut:
    return await personal.get_memory(scoped.tx, caller(scoped), memory_id)


@router.patch("/memories/{memory_id}")
async def update_memory(memory_id: UUID, body: UpdateMemory, scoped: Writes) -> MemoryOut:
    return await personal.update_memory(scoped.tx, caller(scoped), memory_id, body)


@router.delete("/memories/{memory_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_memory(memory_id: UUID, scoped: Writes) -> None:
    await personal.delete_memory(scoped.tx, caller(scoped), memory_id)
