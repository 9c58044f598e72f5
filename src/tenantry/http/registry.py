"""The app registry on the control plane (publish manifests, read versions, set gateway routes,
and each tenant's apps: enable, disable, pin, configure), and a tenant administrator's
read-only view of the tenant's apps."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Path, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field

from tenantry.http.auth import PlatformAdmin, TenantAdmin, resolve_route_app
from tenantry.http.platform import AppSlug, Reason, Slug, platform_router
from tenantry.kit.problems import PROBLEM_RESPONSES
from tenantry.registry.models import InvalidManifest
from tenantry.services import ServicesDep

if TYPE_CHECKING:
    from tenantry.registry.models import AppVersion, TenantApp

router = platform_router("app registry")
tenant_router = APIRouter(
    prefix="/v1/apps/{app}",
    tags=["app registry"],
    responses=PROBLEM_RESPONSES,
    dependencies=[Depends(resolve_route_app)],
)
Version = Annotated[str, Path(min_length=5, max_length=100, pattern=r"^[0-9A-Za-z.+-]+$")]
Prefix = Annotated[str, Field(pattern=r"^/[A-Za-z0-9._~/-]{0,199}$")]


class VersionOut(BaseModel):
    slug: str
    version: str
    manifest_hash: str
    min_platform_version: str
    published_at: datetime
    published_by: str


class VersionDetail(VersionOut):
    manifest: dict[str, Any]


class Published(VersionOut):
    outcome: Literal["published", "unchanged"]
    latest_version: str


class RouteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: str = Field(min_length=5, max_length=100)
    prefix: Prefix
    upstream: str = Field(min_length=8, max_length=2000)
    timeout_ms: int = Field(default=10_000, ge=100, le=300_000)


class RouteOut(BaseModel):
    version: str
    prefix: str
    upstream: str
    timeout_ms: int


class TenantAppOut(BaseModel):
    app: str
    name: str
    status: str
    pinned_version: str | None
    latest_version: str | None
    effective_version: str | None
    config: dict[str, Any]
    revision: int
    updated_at: datetime


class StatusChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: Literal["enabled", "disabled"]
    reason: Reason


class PinChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # null: follow the latest version.
    version: str | None = Field(max_length=100)
    reason: Reason


class ConfigChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    config: dict[str, Any]
    reason: Reason


class ChangeOut(BaseModel):
    revision: int
    status: str
    pinned_version: str | None
    config: dict[str, Any]
    changed_by: str
    reason: str
    changed_at: datetime


def _version(slug: str, found: AppVersion) -> dict[str, Any]:
    return {
        "slug": slug,
        "version": found.version,
        "manifest_hash": found.hash_hex,
        "min_platform_version": found.min_platform_version,
        "published_at": found.published_at,
        "published_by": found.published_by,
    }


def _tenant_app(found: TenantApp) -> TenantAppOut:
    return TenantAppOut(
        app=found.slug,
        name=found.name,
        status=found.status,
        pinned_version=found.pinned_version,
        latest_version=found.latest_version,
        effective_version=found.effective_version,
        config=found.config,
        revision=found.config_revision,
        updated_at=found.updated_at,
    )


@router.post("/apps/{slug}/versions", response_model=Published, status_code=201)
async def publish(
    slug: AppSlug,
    manifest: Annotated[dict[str, Any], Body()],
    principal: PlatformAdmin,
    services: ServicesDep,
    response: Response,
) -> Published:
    """Publish a manifest as its version: 201 when new, 200 `unchanged` for the same manifest
    again, 409 `version_immutable` for another manifest under a published version."""
    if manifest.get("slug") != slug:
        raise InvalidManifest(f"invalid manifest at $.slug: the path names {slug!r}")
    published = await services.registry.publish(manifest, by=principal.actor)
    if published.outcome == "unchanged":
        response.status_code = status.HTTP_200_OK
    return Published(
        **_version(slug, published.version),
        outcome="published" if published.outcome == "published" else "unchanged",
        latest_version=published.latest_version,
    )


@router.get("/apps/{slug}/versions", response_model=list[VersionOut])
async def versions(slug: AppSlug, principal: PlatformAdmin, services: ServicesDep) -> list[Any]:
    return [_version(slug, v) for v in await services.registry.versions(slug)]


@router.get("/apps/{slug}/versions/{version}", response_model=VersionDetail)
async def version(
    slug: AppSlug, version: Version, principal: PlatformAdmin, services: ServicesDep
) -> VersionDetail:
    found = await services.registry.version(slug, version)
    return VersionDetail(**_version(slug, found), manifest=found.manifest)


@router.get("/apps/{slug}/routes", response_model=list[RouteOut])
async def routes(slug: AppSlug, principal: PlatformAdmin, services: ServicesDep) -> list[RouteOut]:
    return [RouteOut(**asdict(r)) for r in await services.registry.routes(slug)]


@router.put("/apps/{slug}/routes", response_model=RouteOut)
async def put_route(
    slug: AppSlug, body: RouteIn, principal: PlatformAdmin, services: ServicesDep
) -> RouteOut:
    route = await services.registry.set_route(
        slug, body.version, body.prefix, body.upstream, body.timeout_ms
    )
    return RouteOut(**asdict(route))


@router.delete("/apps/{slug}/routes", status_code=204)
async def delete_route(
    slug: AppSlug,
    principal: PlatformAdmin,
    services: ServicesDep,
    version: Annotated[str, Query(min_length=5, max_length=100)],
    prefix: Annotated[str, Query(pattern=r"^/[A-Za-z0-9._~/-]{0,199}$")],
) -> Response:
    await services.registry.delete_route(slug, version, prefix)
    return Response(status_code=204)


@router.get("/tenants/{slug}/apps", response_model=list[TenantAppOut])
async def tenant_apps(
    slug: Slug, principal: PlatformAdmin, services: ServicesDep
) -> list[TenantAppOut]:
    return [_tenant_app(a) for a in await services.tenant_apps.of_tenant(slug)]


@router.put("/tenants/{slug}/apps/{app_slug}/status", response_model=TenantAppOut)
async def set_status(
    slug: Slug,
    app_slug: AppSlug,
    body: StatusChange,
    principal: PlatformAdmin,
    services: ServicesDep,
) -> TenantAppOut:
    change = (
        services.tenant_apps.enable if body.status == "enabled" else services.tenant_apps.disable
    )
    return _tenant_app(await change(slug, app_slug, by=principal.actor, reason=body.reason))


@router.put("/tenants/{slug}/apps/{app_slug}/pin", response_model=TenantAppOut)
async def pin(
    slug: Slug, app_slug: AppSlug, body: PinChange, principal: PlatformAdmin, services: ServicesDep
) -> TenantAppOut:
    changed = await services.tenant_apps.pin(
        slug, app_slug, body.version, by=principal.actor, reason=body.reason
    )
    return _tenant_app(changed)


@router.put("/tenants/{slug}/apps/{app_slug}/config", response_model=TenantAppOut)
async def configure(
    slug: Slug,
    app_slug: AppSlug,
    body: ConfigChange,
    principal: PlatformAdmin,
    services: ServicesDep,
) -> TenantAppOut:
    changed = await services.tenant_apps.configure(
        slug, app_slug, body.config, by=principal.actor, reason=body.reason
    )
    return _tenant_app(changed)


@router.get("/tenants/{slug}/apps/{app_slug}/history", response_model=list[ChangeOut])
async def history(
    slug: Slug, app_slug: AppSlug, principal: PlatformAdmin, services: ServicesDep
) -> list[ChangeOut]:
    return [ChangeOut(**asdict(c)) for c in await services.tenant_apps.history(slug, app_slug)]


@tenant_router.get("/apps", response_model=list[TenantAppOut])
async def own_apps(principal: TenantAdmin, services: ServicesDep) -> list[TenantAppOut]:
    """The tenant's apps with their status, effective version and config (read-only)."""
    return [_tenant_app(a) for a in await services.tenant_apps.own(principal.context)]
