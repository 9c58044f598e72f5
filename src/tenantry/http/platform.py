"""The control plane over HTTP: `/v1/platform/…` for platform administrators, and the tenant
context in one call at `/v1/apps/{app}/context` for app users."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Header, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field

from tenantry.http.auth import PlatformAdmin, Requires, resolve_route_app
from tenantry.identity.principal import Principal, Scope
from tenantry.kit.jsonvalue import BoundedJson
from tenantry.kit.problems import PROBLEM_RESPONSES
from tenantry.services import ServicesDep
from tenantry.tenants.lifecycle import ProvisionRequest

context_router = APIRouter(
    prefix="/v1/apps/{app}",
    tags=["tenant context"],
    responses=PROBLEM_RESPONSES,
    dependencies=[Depends(resolve_route_app)],
)
router = APIRouter(prefix="/v1/platform", tags=["platform"], responses=PROBLEM_RESPONSES)


@context_router.get("/context")
async def tenant_context(
    principal: Annotated[Principal, Requires(Scope.PROFILE)], services: ServicesDep
) -> Response:
    """The caller's user, tenant, effective settings, enabled apps and effective flags, loaded in
    one database round trip and cached until a write affecting them commits."""
    checks = services.identity.credential_checks(principal)
    body = await services.context.load(principal, checks)
    return Response(json.dumps(body, default=str), media_type="application/json")


def actor(principal: Principal) -> str:
    return f"platform-admin:{principal.app_user_id}"


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
    reason: str = Field(min_length=1, max_length=1000)


class PurgeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=1000)
    force: bool = Field(default=False, description="Skip the grace period.")


class PurgeOut(BaseModel):
    tenant: str
    deleted: dict[str, int]
    remaining: dict[str, int]


class SettingChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    value: BoundedJson
    reason: str = Field(min_length=1, max_length=1000)


class DomainRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    domain: str = Field(min_length=3, max_length=253)


class FlagDefinition(BaseModel):
    model_config = ConfigDict(extra="forbid")
    key: str = Field(pattern=r"^[a-z][a-z0-9_.-]{1,99}$")
    type: Literal["boolean", "string", "number", "json"]
    default: BoundedJson
    description: str = Field(default="", max_length=1000)
    owner: str = Field(default="", max_length=200)
    reason: str = Field(min_length=1, max_length=1000)


class FlagUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    default: BoundedJson = None
    description: str | None = Field(default=None, max_length=1000)
    owner: str | None = Field(default=None, max_length=200)
    status: Literal["active", "deprecated"] | None = None
    reason: str = Field(min_length=1, max_length=1000)


class FlagOut(BaseModel):
    key: str
    type: str
    default_value: Any
    description: str
    owner: str
    status: str
    version: int


class OverrideChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    value: BoundedJson
    app: str | None = Field(default=None, pattern=r"^[a-z][a-z0-9-]{1,39}$")
    rollout_percent: int | None = Field(default=None, ge=0, le=100)
    reason: str = Field(min_length=1, max_length=1000)


class OverrideRemoval(BaseModel):
    model_config = ConfigDict(extra="forbid")
    app: str | None = Field(default=None, pattern=r"^[a-z][a-z0-9-]{1,39}$")
    reason: str = Field(min_length=1, max_length=1000)


class Rollback(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: int = Field(ge=1)
    app: str | None = Field(default=None, pattern=r"^[a-z][a-z0-9-]{1,39}$")
    reason: str = Field(min_length=1, max_length=1000)


class VersionOut(BaseModel):
    version: int


Slug = Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{1,62}$")]


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
    return TenantPage(
        items=[TenantOut.model_validate(t, from_attributes=True) for t in items],
        total=total,
        limit=limit,
        offset=offset,
    )


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
        body, actor=actor(principal), idempotency_key=idempotency_key
    )
    if not result.created:
        response.status_code = status.HTTP_200_OK
    return ProvisionedOut(
        tenant=TenantOut.model_validate(result.tenant, from_attributes=True),
        created=result.created,
    )


@router.get("/tenants/{slug}")
async def tenant_detail(
    slug: Slug, principal: PlatformAdmin, services: ServicesDep
) -> dict[str, Any]:
    detail = await services.tenant_admin.detail(slug)
    detail["tenant"] = TenantOut.model_validate(detail["tenant"], from_attributes=True)
    detail["settings"] = await services.settings_admin.effective(slug)
    return detail


@router.post("/tenants/{slug}/lifecycle", response_model=TenantOut)
async def change_lifecycle(
    slug: Slug, body: LifecycleRequest, principal: PlatformAdmin, services: ServicesDep
) -> TenantOut:
    tenant = await services.tenant_admin.transition(
        slug, body.action, reason=body.reason, actor=actor(principal)
    )
    return TenantOut.model_validate(tenant, from_attributes=True)


@router.post("/tenants/{slug}/purge", response_model=PurgeOut)
async def purge_tenant(
    slug: Slug, body: PurgeRequest, principal: PlatformAdmin, services: ServicesDep
) -> PurgeOut:
    report = await services.tenant_admin.purge(
        slug, actor=actor(principal), reason=body.reason, force=body.force
    )
    return PurgeOut(tenant=report.tenant, deleted=report.deleted, remaining=report.remaining)


@router.get("/tenants/{slug}/settings")
async def tenant_settings(
    slug: Slug, principal: PlatformAdmin, services: ServicesDep
) -> dict[str, Any]:
    return await services.settings_admin.effective(slug)


@router.put("/tenants/{slug}/settings/{key}")
async def change_setting(
    slug: Slug,
    key: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{1,63}$")],
    body: SettingChange,
    principal: PlatformAdmin,
    services: ServicesDep,
) -> dict[str, Any]:
    value = await services.settings_admin.set(
        slug, key, body.value, actor=actor(principal), reason=body.reason
    )
    return {"key": key, "value": value}


@router.get("/tenants/{slug}/settings-history")
async def setting_history(
    slug: Slug,
    principal: PlatformAdmin,
    services: ServicesDep,
    key: Annotated[str | None, Query(max_length=64)] = None,
) -> list[dict[str, Any]]:
    return await services.settings_admin.history(slug, key)


@router.post("/tenants/{slug}/domains", status_code=status.HTTP_201_CREATED)
async def add_domain(
    slug: Slug, body: DomainRequest, principal: PlatformAdmin, services: ServicesDep
) -> dict[str, str]:
    """Returns the TXT record to publish before verifying."""
    return await services.domains.add(slug, body.domain, actor=actor(principal))


@router.post("/tenants/{slug}/domains/{domain}/verify", status_code=status.HTTP_204_NO_CONTENT)
async def verify_domain(
    slug: Slug,
    domain: Annotated[str, Field(max_length=253)],
    principal: PlatformAdmin,
    services: ServicesDep,
) -> None:
    await services.domains.verify(slug, domain, actor=actor(principal))


@router.post("/tenants/{slug}/domains/{domain}/primary", status_code=status.HTTP_204_NO_CONTENT)
async def primary_domain(
    slug: Slug,
    domain: Annotated[str, Field(max_length=253)],
    principal: PlatformAdmin,
    services: ServicesDep,
) -> None:
    await services.domains.set_primary(slug, domain, actor=actor(principal))


@router.delete("/tenants/{slug}/domains/{domain}", status_code=status.HTTP_204_NO_CONTENT)
async def remove_domain(
    slug: Slug,
    domain: Annotated[str, Field(max_length=253)],
    principal: PlatformAdmin,
    services: ServicesDep,
) -> None:
    await services.domains.remove(slug, domain, actor=actor(principal))


@router.get("/flags", response_model=list[FlagOut])
async def list_flags(principal: PlatformAdmin, services: ServicesDep) -> list[FlagOut]:
    return [FlagOut.model_validate(f, from_attributes=True) for f in await services.flags.all()]


@router.post("/flags", response_model=FlagOut, status_code=status.HTTP_201_CREATED)
async def define_flag(
    body: FlagDefinition, principal: PlatformAdmin, services: ServicesDep
) -> FlagOut:
    flag = await services.flags.define(
        body.key,
        body.type,
        body.default,
        description=body.description,
        owner=body.owner,
        actor=actor(principal),
        reason=body.reason,
    )
    return FlagOut.model_validate(flag, from_attributes=True)


@router.patch("/flags/{key}", response_model=FlagOut)
async def update_flag(
    key: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_.-]{1,99}$")],
    body: FlagUpdate,
    principal: PlatformAdmin,
    services: ServicesDep,
) -> FlagOut:
    changes = {
        name: value
        for name, value in (
            ("default_value", body.default),
            ("description", body.description),
            ("owner", body.owner),
            ("status", body.status),
        )
        if value is not None
    }
    flag = await services.flags.update(key, actor=actor(principal), reason=body.reason, **changes)
    return FlagOut.model_validate(flag, from_attributes=True)


FlagKey = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_.-]{1,99}$")]


@router.put("/tenants/{slug}/flags/{key}", response_model=VersionOut)
async def override_flag(
    slug: Slug, key: FlagKey, body: OverrideChange, principal: PlatformAdmin, services: ServicesDep
) -> VersionOut:
    version = await services.flags.set_override(
        slug,
        key,
        body.value,
        app_slug=body.app,
        rollout_percent=body.rollout_percent,
        actor=actor(principal),
        reason=body.reason,
    )
    return VersionOut(version=version)


@router.post("/tenants/{slug}/flags/{key}/remove", response_model=VersionOut)
async def remove_override(
    slug: Slug, key: FlagKey, body: OverrideRemoval, principal: PlatformAdmin, services: ServicesDep
) -> VersionOut:
    version = await services.flags.remove_override(
        slug, key, app_slug=body.app, actor=actor(principal), reason=body.reason
    )
    return VersionOut(version=version)


@router.get("/tenants/{slug}/flags/{key}/versions")
async def override_versions(
    slug: Slug,
    key: FlagKey,
    principal: PlatformAdmin,
    services: ServicesDep,
    app: Annotated[str | None, Query(pattern=r"^[a-z][a-z0-9-]{1,39}$")] = None,
) -> list[dict[str, Any]]:
    return [asdict(v) for v in await services.flags.versions(slug, key, app_slug=app)]


@router.post("/tenants/{slug}/flags/{key}/rollback", response_model=VersionOut)
async def rollback_override(
    slug: Slug, key: FlagKey, body: Rollback, principal: PlatformAdmin, services: ServicesDep
) -> VersionOut:
    version = await services.flags.rollback(
        slug, key, body.version, app_slug=body.app, actor=actor(principal), reason=body.reason
    )
    return VersionOut(version=version)


@router.get("/deprecations")
async def deprecations(principal: PlatformAdmin, services: ServicesDep) -> list[dict[str, Any]]:
    """Who still uses deprecated flags, per tenant and app."""
    return await services.flags.deprecations()
