"""AI personalities: every user of the app lists and reads them (without system prompts);
holders of `conversations.manage` manage them under `/manage/personalities`."""

from uuid import UUID

from fastapi import APIRouter, Depends, status

from tenantry.library.http import PROBLEM_RESPONSES, resolve_route_app
from tenantry.workloads.conversations.api.deps import (
    Cursor,
    Limit,
    Manages,
    Reads,
    caller,
)
from tenantry.workloads.conversations.schemas.catalog import (
    CreatePersonality,
    ManagedPersonalityOut,
    PersonalityOut,
    UpdatePersonality,
)
from tenantry.workloads.conversations.schemas.common import Page
from tenantry.workloads.conversations.service import catalog

router = APIRouter(
    prefix="/v1/apps/{app}/personalities",
    tags=["conversations"],
    responses=PROBLEM_RESPONSES,
    dependencies=[Depends(resolve_route_app)],
)
manage_router = APIRouter(
    prefix="/v1/apps/{app}/manage/personalities",
    tags=["conversations"],
    responses=PROBLEM_RESPONSES,
    dependencies=[Depends(resolve_route_app)],
)


@router.get("")
async def list_personalities(
    scoped: Reads, cursor: Cursor = None, limit: Limit = 50
) -> Page[PersonalityOut]:
    """The app's personalities by name."""
    return await catalog.list_personalities(scoped.tx, caller(scoped), cursor, limit)


@router.get("/{personality_id}")
async def get_personality(personality_id: UUID, scoped: Reads) -> PersonalityOut:
    row = await catalog.get_personality(scoped.tx, caller(scoped), personality_id)
    return PersonalityOut.model_validate(row)


@manage_router.get("")
async def list_managed_personalities(
    scoped: Manages, cursor: Cursor = None, limit: Limit = 50
) -> Page[ManagedPersonalityOut]:
    return await catalog.list_managed_personalities(scoped.tx, caller(scoped), cursor, limit)


@manage_router.post("", status_code=status.HTTP_201_CREATED)
async def create_personality(body: CreatePersonality, scoped: Manages) -> ManagedPersonalityOut:
    """A new personality; its name is unique in the app, whatever its case (`name_taken`)."""
    return await catalog.create_personality(scoped.tx, caller(scoped), body)


@manage_router.get("/{personality_id}")
async def get_managed_personality(personality_id: UUID, scoped: Manages) -> ManagedPersonalityOut:
    row = await catalog.get_personality(scoped.tx, caller(scoped), personality_id)
    return ManagedPersonalityOut.model_validate(row)


@manage_router.patch("/{personality_id}")
async def update_personality(
    personality_id: UUID, body: UpdatePersonality, scoped: Manages
) -> ManagedPersonalityOut:
    return await catalog.update_personality(scoped.tx, caller(scoped), personality_id, body)


@manage_router.delete("/{personality_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_personality(personality_id: UUID, scoped: Manages) -> None:
    """Chats, widgets and preferences that named it go on without a personality."""
    await catalog.delete_personality(scoped.tx, caller(scoped), personality_id)
