"""Tenants on the control plane: search, provisioning, detail, lifecycle and purge."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import Header, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field

from tenantry.http.auth import PlatformAdmin
from tenantry.http.platform import Reason, Slug, platform_router
from tenantry.services import ServicesDep
from tenantry.tenants.lifecycle import ProvisionRequest

router = platform_router("tenants")


class TenantOut(BaseModel):
    id: UUID
    slug: str
    name: str
    status: str
    plan: str
    created_at: datetime
    updated_at: datetime
    deprovisioned_at: datetime | None
    purge_after: datetime | None


class TenantPage(BaseModel):
    items: list[TenantOut]
    total: int
    limit: int
    offset: int


class ProvisionedOut(BaseModel):
    tenant: TenantOut
    created: bool


class LifecycleRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    action: Literal["activate", "suspend", "resume", "deprovision"]
    reason: Reason


class PurgeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Reason
    force: bool = Field(default=False, description="Skip the grace period.")


class PurgeOut(BaseModel):
    tenant: str
    deleted: dict[str, int]
    remaining: dict[str, int]


def _out(tenant: object) -> TenantOut:
    return TenantOut.model_validate(tenant, from_attributes=True)


@router.get("/tenants", response_model=TenantPage)
async def list_tenants(
    principal: PlatformAdmin,
    services: ServicesDep,
    q: Annotated[str | None, Query(max_length=100)] = None,
    status_filter: Annotated[str | None, Query(alias="status", pattern=r"^[a-z]+$")] = None,
    plan: Annotated[str | None, Query(max_length=40)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> TenantPage:
    items, total = await services.tenant_admin.search(
        query=q, status=status_filter, plan=plan, limit=limit, offset=offset
    )
    return TenantPage(items=[_out(t) for t in items], total=total, limit=limit, offset=offset)


@router.post("/tenants", response_model=ProvisionedOut, status_code=status.HTTP_201_CREATED)
async def provision_tenant(
    body: ProvisionRequest,
    principal: PlatformAdmin,
    services: ServicesDep,
    response: Response,
    idempotency_key: Annotated[str | None, Header(min_length=1, max_length=200)] = None,
) -> ProvisionedOut:
    """Create a tenant with settings, apps and its first administrator (invited by mail), in one
    transaction. Repeat with the same `Idempotency-Key` to get the same tenant back."""
    result = await services.tenant_admin.provision(
        body, by=principal.actor, idempotency_key=idempotency_key
    )
    if not result.created:
        response.status_code = status.HTTP_200_OK
    return ProvisionedOut(tenant=_out(result.tenant), created=result.created)


@router.get("/tenants/{slug}")
async def tenant_detail(
    slug: Slug, principal: PlatformAdmin, services: ServicesDep
) -> dict[str, Any]:
    detail = await services.tenant_admin.detail(slug)
    detail["tenant"] = _out(detail["tenant"])
    detail["settings"] = await services.settings_admin.effective(slug)
    return detail


@router.post("/tenants/{slug}/lifecycle", response_model=TenantOut)
async def change_lifecycle(
    slug: Slug, body: LifecycleRequest, principal: PlatformAdmin, services: ServicesDep
) -> TenantOut:
    tenant = await services.tenant_admin.transition(
        slug, body.action, reason=body.reason, by=principal.actor
    )
    return _out(tenant)


@router.post("/tenants/{slug}/purge", response_model=PurgeOut)
async def purge_tenant(
    slug: Slug, body: PurgeRequest, principal: PlatformAdmin, services: ServicesDep
) -> PurgeOut:
    report = await services.tenant_admin.purge(
        slug, by=principal.actor, reason=body.reason, force=body.force
    )
    return PurgeOut(tenant=report.tenant, deleted=report.deleted, remaining=report.remaining)
