"""Embeddable chat widgets of an app, managed by holders of `conversations.manage`."""

from uuid import UUID

from fastapi import APIRouter, Depends, status

from tenantry.library.http import PROBLEM_RESPONSES, resolve_route_app
from tenantry.workloads.conversations.api.deps import Cursor, Limit, Manages, caller
from tenantry.workloads.conversations.schemas.catalog import CreateWidget, UpdateWidget, WidgetOut
from tenantry.workloads.conversations.schemas.common import Page
from tenantry.workloads.conversations.service import catalog

router = APIRouter(
    prefix="/v1/apps/{app}/manage/widgets",
    tags=["conversations"],
    responses=PROBLEM_RESPONSES,
    dependencies=[Depends(resolve_route_app)],
)


@router.get("")
async def list_widgets(
    scoped: Manages, cursor: Cursor = None, limit: Limit = 50
) -> Page[WidgetOut]:
    """The app's widgets by name."""
    return await catalog.list_widgets(scoped.tx, caller(scoped), cursor, limit)


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_widget(body: CreateWidget, scoped: Manages) -> WidgetOut:
    """A new widget: its name is unique in the app, whatever its case (`name_taken`); pages of
    `allowed_origins` (scheme://host[:port]) may embed it."""
    return await catalog.create_widget(scoped.tx, caller(scoped), body)


@router.get("/{widget_id}")
async def get_widget(widget_id: UUID, scoped: Manages) -> WidgetOut:
    return await catalog.get_widget(scoped.tx, caller(scoped), widget_id)


@router.patch("/{widget_id}")
async def update_widget(widget_id: UUID, body: UpdateWidget, scoped: Manages) -> WidgetOut:
    return await catalog.update_widget(scoped.tx, caller(scoped), widget_id, body)


@router.delete("/{widget_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_widget(widget_id: UUID, scoped: Manages) -> None:
    await catalog.delete_widget(scoped.tx, caller(scoped), widget_id)
