"""An app's AI personalities and chat widgets: everyone in the app reads personalities (without
their system prompts); holders of `conversations.manage` create, edit and delete both."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

from pydantic import BaseModel

from tenantry.library import Conflict, NotFound, uuid7
from tenantry.workloads.conversations import cursors
from tenantry.workloads.conversations.errors import NameTaken, UnknownPersonality
from tenantry.workloads.conversations.repository import personalities, widgets
from tenantry.workloads.conversations.schemas.catalog import (
    CreatePersonality,
    CreateWidget,
    ManagedPersonalityOut,
    PersonalityOut,
    UpdatePersonality,
    UpdateWidget,
    WidgetOut,
)
from tenantry.workloads.conversations.schemas.common import Page
from tenantry.workloads.conversations.service.pages import split

if TYPE_CHECKING:
    from typing import Any
    from uuid import UUID

    from psycopg.rows import DictRow

    from tenantry.library import Transaction
    from tenantry.workloads.conversations.caller import Caller

M = TypeVar("M", bound=BaseModel)
_PERSONALITIES = "personalities"
_WIDGETS = "widgets"


def _page(rows: list[DictRow], limit: int, kind: str, model: type[M]) -> tuple[list[M], str | None]:
    # Name keys are unique, so the last one is the whole position.
    kept, next_cursor = split(rows, limit, lambda row: cursors.encode(kind, row["name_key"]))
    return [model.model_validate(row) for row in kept], next_cursor


async def list_personalities(
    tx: Transaction, caller: Caller, cursor: str | None, limit: int
) -> Page[PersonalityOut]:
    after = cursors.text(_PERSONALITIES, cursor) if cursor else None
    rows = await personalities.page(tx, caller, after, limit + 1)
    items, next_cursor = _page(rows, limit, _PERSONALITIES, PersonalityOut)
    return Page[PersonalityOut](items=items, next_cursor=next_cursor)


async def list_managed_personalities(
    tx: Transaction, caller: Caller, cursor: str | None, limit: int
) -> Page[ManagedPersonalityOut]:
    after = cursors.text(_PERSONALITIES, cursor) if cursor else None
    rows = await personalities.page(tx, caller, after, limit + 1)
    items, next_cursor = _page(rows, limit, _PERSONALITIES, ManagedPersonalityOut)
    return Page[ManagedPersonalityOut](items=items, next_cursor=next_cursor)


async def get_personality(tx: Transaction, caller: Caller, personality_id: UUID) -> DictRow:
    row = await personalities.get(tx, caller, personality_id)
    if row is None:
        raise NotFound("no such personality")
    return row


async def create_personality(
    tx: Transaction, caller: Caller, body: CreatePersonality
) -> ManagedPersonalityOut:
    row = await personalities.create(tx, caller.writing(), uuid7(), body.model_dump())
    if row is None:
        raise NameTaken(f"this app has a personality named {body.name!r} already")
    return ManagedPersonalityOut.model_validate(row)


async def update_personality(
    tx: Transaction, caller: Caller, personality_id: UUID, body: UpdatePersonality
) -> ManagedPersonalityOut:
    row = await _renaming(
        personalities.update(tx, caller.writing(), personality_id, body.changes())
    )
    if row is None:
        raise NotFound("no such personality")
    return ManagedPersonalityOut.model_validate(row)


async def delete_personality(tx: Transaction, caller: Caller, personality_id: UUID) -> None:
    if not await personalities.delete(tx, caller.writing(), personality_id):
        raise NotFound("no such personality")


async def list_widgets(
    tx: Transaction, caller: Caller, cursor: str | None, limit: int
) -> Page[WidgetOut]:
    after = cursors.text(_WIDGETS, cursor) if cursor else None
    rows = await widgets.page(tx, caller, after, limit + 1)
    items, next_cursor = _page(rows, limit, _WIDGETS, WidgetOut)
    return Page[WidgetOut](items=items, next_cursor=next_cursor)


async def get_widget(tx: Transaction, caller: Caller, widget_id: UUID) -> WidgetOut:
    row = await widgets.get(tx, caller, widget_id)
    if row is None:
        raise NotFound("no such widget")
    return WidgetOut.model_validate(row)


async def create_widget(tx: Transaction, caller: Caller, body: CreateWidget) -> WidgetOut:
    caller = caller.writing()
    await _require_personality(tx, caller, body.personality_id)
    row = await widgets.create(tx, caller, uuid7(), body.model_dump())
    if row is None:
        raise NameTaken(f"this app has a widget named {body.name!r} already")
    return WidgetOut.model_validate(row)


async def update_widget(
    tx: Transaction, caller: Caller, widget_id: UUID, body: UpdateWidget
) -> WidgetOut:
    caller = caller.writing()
    changes = body.changes()
    await _require_personality(tx, caller, changes.get("personality_id"))
    row = await _renaming(widgets.update(tx, caller, widget_id, changes))
    if row is None:
        raise NotFound("no such widget")
    return WidgetOut.model_validate(row)


async def delete_widget(tx: Transaction, caller: Caller, widget_id: UUID) -> None:
    if not await widgets.delete(tx, caller.writing(), widget_id):
        raise NotFound("no such widget")


async def _require_personality(
    tx: Transaction, caller: Caller, personality_id: UUID | None
) -> None:
    if personality_id is not None and not await personalities.hold(tx, caller, personality_id):
        raise UnknownPersonality("no such personality in this app")


async def _renaming(update: Any) -> DictRow | None:  # noqa: ANN401 - an awaitable repository update
    """An update whose new name may be taken: the unique key's refusal is `name_taken`."""
    try:
        row: DictRow | None = await update
    except Conflict as exc:
        raise NameTaken("this app has one of that name already") from exc
    return row
