"""The notes API: `/v1/apps/{app}/notes`, each user's own notes.

Writes and reads go through `TenantTransaction` (SQL in `repository`); editing goes through
`TenantSession` and the ORM model, to show both. Another user's note, in this tenant or any
other, is "not found".
"""

from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from notes import repository
from notes.models import Note
from tenantry.library import NotFound, Scope, Scoped, TenantTransaction, uuid7
from tenantry.library.dependencies import ScopedSession, TenantSession
from tenantry.library.http import PROBLEM_RESPONSES, resolve_route_app

# The problems every route may answer, and the `{app}` segment documented and resolved (404 for
# an app the service does not serve) once for all routes.
router = APIRouter(
    prefix="/v1/apps/{app}/notes",
    tags=["notes"],
    responses=PROBLEM_RESPONSES,
    dependencies=[Depends(resolve_route_app)],
)


class NoteIn(BaseModel):
    body: str = Field(min_length=1, max_length=10_000)


class NoteOut(BaseModel):
    id: UUID
    body: str
    created_at: datetime
    updated_at: datetime | None


def _out(row: dict[str, Any]) -> NoteOut:
    return NoteOut.model_validate(row)


@router.post("", status_code=201)
async def add_note(
    body: NoteIn, scoped: Annotated[Scoped, TenantTransaction(Scope.PROFILE)]
) -> NoteOut:
    me = scoped.principal
    row = await repository.add(
        scoped.tx, me.tenant_id, me.app_id, me.app_user_id, uuid7(), body.body
    )
    return _out(row)


@router.get("")
async def list_notes(
    scoped: Annotated[Scoped, TenantTransaction(Scope.PROFILE, read_only=True)],
    before: Annotated[UUID | None, Query(description="The last note of the previous page.")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> list[NoteOut]:
    me = scoped.principal
    rows = await repository.page(scoped.tx, me.tenant_id, me.app_id, me.app_user_id, before, limit)
    return [_out(row) for row in rows]


@router.get("/{note_id}")
async def get_note(
    note_id: UUID, scoped: Annotated[Scoped, TenantTransaction(Scope.PROFILE, read_only=True)]
) -> NoteOut:
    me = scoped.principal
    row = await repository.get(scoped.tx, me.tenant_id, me.app_id, me.app_user_id, note_id)
    if row is None:
        raise NotFound("no such note")
    return _out(row)


@router.patch("/{note_id}")
async def edit_note(
    note_id: UUID, body: NoteIn, orm: Annotated[ScopedSession, TenantSession(Scope.PROFILE)]
) -> NoteOut:
    me = orm.principal
    # Row-level security already hides other tenants' and apps' notes; the author check keeps
    # other users' notes of this app private too.
    note = await orm.session.get(Note, (me.tenant_id, note_id))
    if note is None or note.author_id != me.app_user_id:
        raise NotFound("no such note")
    note.body = body.body
    note.updated_at = datetime.now(UTC)
    await orm.session.flush()
    return NoteOut.model_validate(note, from_attributes=True)
