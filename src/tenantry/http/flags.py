"""Feature flags on the control plane: definitions, per-tenant overrides with versions and
rollback, and who still uses deprecated flags."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any, Literal

from fastapi import Query, status
from pydantic import BaseModel, ConfigDict, Field

from tenantry.http.auth import PlatformAdmin
from tenantry.http.platform import AppSlug, FlagKey, Reason, Slug, platform_router
from tenantry.kit.jsonvalue import BoundedJson
from tenantry.services import ServicesDep

router = platform_router("flags")


class FlagDefinition(BaseModel):
    model_config = ConfigDict(extra="forbid")
    key: FlagKey
    type: Literal["boolean", "string", "number", "json"]
    default: BoundedJson
    description: str = Field(default="", max_length=1000)
    owner: str = Field(default="", max_length=200)
    reason: Reason


class FlagUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    default: BoundedJson = None
    description: str | None = Field(default=None, max_length=1000)
    owner: str | None = Field(default=None, max_length=200)
    status: Literal["active", "deprecated"] | None = None
    reason: Reason


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
    app: AppSlug | None = None
    rollout_percent: int | None = Field(default=None, ge=0, le=100)
    reason: Reason


class OverrideRemoval(BaseModel):
    model_config = ConfigDict(extra="forbid")
    app: AppSlug | None = None
    reason: Reason


class Rollback(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: int = Field(ge=1)
    app: AppSlug | None = None
    reason: Reason


class VersionOut(BaseModel):
    version: int


def _out(flag: object) -> FlagOut:
    return FlagOut.model_validate(flag, from_attributes=True)


@router.get("/flags", response_model=list[FlagOut])
async def list_flags(principal: PlatformAdmin, services: ServicesDep) -> list[FlagOut]:
    return [_out(f) for f in await services.flags.all()]


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
        by=principal.actor,
        reason=body.reason,
    )
    return _out(flag)


@router.patch("/flags/{key}", response_model=FlagOut)
async def update_flag(
    key: FlagKey, body: FlagUpdate, principal: PlatformAdmin, services: ServicesDep
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
    flag = await services.flags.update(key, by=principal.actor, reason=body.reason, **changes)
    return _out(flag)


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
        by=principal.actor,
        reason=body.reason,
    )
    return VersionOut(version=version)


@router.post("/tenants/{slug}/flags/{key}/remove", response_model=VersionOut)
async def remove_override(
    slug: Slug, key: FlagKey, body: OverrideRemoval, principal: PlatformAdmin, services: ServicesDep
) -> VersionOut:
    version = await services.flags.remove_override(
        slug, key, app_slug=body.app, by=principal.actor, reason=body.reason
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
        slug, key, body.version, app_slug=body.app, by=principal.actor, reason=body.reason
    )
    return VersionOut(version=version)


@router.get("/deprecations")
async def deprecations(principal: PlatformAdmin, services: ServicesDep) -> list[dict[str, Any]]:
    """Who still uses deprecated flags, per tenant and app."""
    return await services.flags.deprecations()
