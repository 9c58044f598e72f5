"""The audit log: tenant administrators read their own tenant's (row-level security holds them
to it), platform administrators any tenant's; both can ask whether the chain is intact."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from tenantry.http.auth import PlatformAdmin, ReadsAudit, resolve_route_app
from tenantry.http.platform import Slug, platform_router
from tenantry.kit.problems import PROBLEM_RESPONSES
from tenantry.services import ServicesDep

if TYPE_CHECKING:
    from tenantry.audit_log.models import AuditEntry, ChainStatus

router = APIRouter(
    prefix="/v1/apps/{app}",
    tags=["audit log"],
    responses=PROBLEM_RESPONSES,
    dependencies=[Depends(resolve_route_app)],
)
platform = platform_router("audit log")


class AuditEntryOut(BaseModel):
    seq: int
    created_at: datetime
    actor: str
    effective_user: str | None
    delegated: bool
    impersonated: bool
    action: str
    object_type: str
    object_id: str | None
    app_id: UUID | None
    metadata: dict[str, Any]
    request_id: str | None
    prev_hash: str
    hash: str


class AuditPage(BaseModel):
    items: list[AuditEntryOut]
    # Pass as `before` for the next (older) page; null on the last page.
    next_before: int | None


class ChainStatusOut(BaseModel):
    ok: bool
    rows: int
    head_seq: int
    checkpoint_seq: int
    problem: str | None


class Filters(BaseModel):
    action: str | None
    actor: str | None
    object_type: str | None
    object_id: str | None
    since: datetime | None
    until: datetime | None
    before_seq: int | None
    limit: int


def filters(
    action: Annotated[str | None, Query(pattern=r"^[a-z][a-z0-9_.]{2,99}$")] = None,
    actor: Annotated[str | None, Query(min_length=1, max_length=500)] = None,
    object_type: Annotated[str | None, Query(pattern=r"^[a-z][a-z0-9_]{0,62}$")] = None,
    object_id: Annotated[str | None, Query(min_length=1, max_length=500)] = None,
    since: datetime | None = None,
    until: datetime | None = None,
    before: Annotated[
        int | None, Query(ge=1, description="Cursor: the next_before of the previous page.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> Filters:
    return Filters(
        action=action,
        actor=actor,
        object_type=object_type,
        object_id=object_id,
        since=since,
        until=until,
        before_seq=before,
        limit=limit,
    )


FiltersDep = Annotated[Filters, Depends(filters)]


def _page(entries: list[AuditEntry], limit: int) -> AuditPage:
    items = [
        AuditEntryOut(
            **{
                **entry.as_json(),
                "created_at": entry.created_at,
                "app_id": entry.app_id,
            }
        )
        for entry in entries
    ]
    return AuditPage(items=items, next_before=items[-1].seq if len(items) == limit else None)


def _status(status: ChainStatus) -> ChainStatusOut:
    return ChainStatusOut(
        ok=status.ok,
        rows=status.rows,
        head_seq=status.head_seq,
        checkpoint_seq=status.checkpoint_seq,
        problem=status.problem,
    )


@router.get("/audit-log", response_model=AuditPage)
async def tenant_audit_log(
    principal: ReadsAudit, services: ServicesDep, query: FiltersDep
) -> AuditPage:
    """The tenant's audit log, newest first, filtered by action, actor, object and time, in
    keyset pages."""
    entries = await services.audit.search(principal.tenant_id, **query.model_dump())
    return _page(entries, query.limit)


@router.get("/audit-log/verify", response_model=ChainStatusOut)
async def tenant_audit_chain(principal: ReadsAudit, services: ServicesDep) -> ChainStatusOut:
    """Whether the tenant's audit chain is intact, recomputed now."""
    return _status(await services.audit.status(principal.tenant_id, str(principal.tenant_id)))


@platform.get("/tenants/{slug}/audit-log", response_model=AuditPage)
async def platform_audit_log(
    slug: Slug, principal: PlatformAdmin, services: ServicesDep, query: FiltersDep
) -> AuditPage:
    """Any tenant's audit log, for platform administrators."""
    entries = await services.audit.search_tenant(slug, **query.model_dump())
    return _page(entries, query.limit)


@platform.get("/tenants/{slug}/audit-log/verify", response_model=ChainStatusOut)
async def platform_audit_chain(
    slug: Slug, principal: PlatformAdmin, services: ServicesDep
) -> ChainStatusOut:
    """Whether one tenant's audit chain is intact, recomputed now."""
    statuses = [status async for status in services.audit.verify(slug)]
    return _status(statuses[0])
