"""Security events listing for tenant administrators."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from tenantry.http.auth import ReadsAudit, resolve_route_app
from tenantry.kit.problems import PROBLEM_RESPONSES
from tenantry.services import ServicesDep

router = APIRouter(
    prefix="/v1/apps/{app}",
    tags=["security events"],
    responses=PROBLEM_RESPONSES,
    dependencies=[Depends(resolve_route_app)],
)


class SecurityEventOut(BaseModel):
    id: UUID
    app_id: UUID | None
    app_user_id: UUID | None
    kind: str
    severity: str
    ip: str | None
    request_id: str | None
    detail: dict[str, Any]
    created_at: datetime


@router.get("/security-events", response_model=list[SecurityEventOut])
async def security_events(
    principal: ReadsAudit,
    services: ServicesDep,
    kind: Annotated[str | None, Query(pattern=r"^[a-z_]{1,64}$")] = None,
    app_slug: Annotated[
        str | None, Query(alias="app_filter", pattern=r"^[a-z][a-z0-9-]{1,39}$")
    ] = None,
    since: datetime | None = None,
    until: datetime | None = None,
    before: Annotated[
        UUID | None, Query(description="Cursor: the last id of the previous page.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[SecurityEventOut]:
    """The tenant's security events, newest first, filtered by kind, app and time."""
    app_id = services.apps.by_slug(app_slug).id if app_slug else None
    events = await services.events.search(
        principal.tenant_id,
        kind=kind,
        app_id=app_id,
        since=since,
        until=until,
        before_id=before,
        limit=limit,
    )
    return [SecurityEventOut.model_validate(e, from_attributes=True) for e in events]
