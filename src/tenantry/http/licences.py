"""Licences over HTTP: platform administrators issue, list, revoke, download and import a
tenant's licences; tenant administrators read their own licences and seat usage."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Path, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field

from tenantry.http.auth import PlatformAdmin, TenantAdmin, resolve_route_app
from tenantry.http.platform import AppSlug, Reason, Slug, platform_router
from tenantry.kit.errors import InvalidInput
from tenantry.kit.problems import PROBLEM_RESPONSES
from tenantry.licensing.document import MAX_DOCUMENT_BYTES
from tenantry.services import ServicesDep

if TYPE_CHECKING:
    from tenantry.licensing.models import SeatUsage, StoredLicence

platform = platform_router("licences")
router = APIRouter(
    prefix="/v1/apps/{app}",
    tags=["licences"],
    responses=PROBLEM_RESPONSES,
    dependencies=[Depends(resolve_route_app)],
)
Name = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_.-]{0,63}$")]
LicenceId = Annotated[UUID, Path()]


class IssueRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    app: AppSlug
    plan: Name
    seats: int | None = Field(default=None, ge=0, description="null: unlimited.")
    features: list[Name] = Field(default_factory=list, max_length=100)
    limits: dict[Name, Annotated[int, Field(ge=0)]] = Field(default_factory=dict)
    days: int = Field(default=365, ge=1, le=3660)
    grace_days: int = Field(default=14, ge=0, le=365)


class RevokeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Annotated[Reason, Field(max_length=500)]


class LicenceOut(BaseModel):
    id: UUID
    tenant: str
    app: str
    plan: str
    seats: int | None
    features: list[str]
    limits: dict[str, int]
    issued_at: datetime
    valid_from: datetime
    valid_until: datetime
    grace_days: int
    kid: str
    status: str
    source: str
    revoked_at: datetime | None
    revoked_reason: str | None


class UsageOut(BaseModel):
    tenant: str
    app: str
    plan: str
    seats: int | None
    seats_used: int
    active_users: int
    open_invitations: int
    state: str


def _out(stored: StoredLicence) -> LicenceOut:
    lic = stored.licence
    return LicenceOut(
        id=lic.id,
        tenant=lic.tenant_slug,
        app=lic.app,
        plan=lic.plan,
        seats=lic.seats,
        features=list(lic.features),
        limits=lic.limits,
        issued_at=lic.issued_at,
        valid_from=lic.valid_from,
        valid_until=lic.valid_until,
        grace_days=lic.grace_days,
        kid=lic.kid,
        status=stored.status,
        source=stored.source,
        revoked_at=stored.revoked_at,
        revoked_reason=stored.revoked_reason,
    )


def _usage(u: SeatUsage) -> UsageOut:
    return UsageOut(
        tenant=u.tenant,
        app=u.app,
        plan=u.plan,
        seats=u.seats,
        seats_used=u.used,
        active_users=u.active_users,
        open_invitations=u.open_invitations,
        state=u.state,
    )


@platform.post(
    "/tenants/{slug}/licences", response_model=LicenceOut, status_code=status.HTTP_201_CREATED
)
async def issue_licence(
    slug: Slug, body: IssueRequest, principal: PlatformAdmin, services: ServicesDep
) -> LicenceOut:
    """Issue a signed licence for one of the tenant's apps; it becomes the app's entitlement."""
    stored = await services.licences.issue(
        slug,
        body.app,
        plan=body.plan,
        seats=body.seats,
        features=body.features,
        limits=body.limits,
        days=body.days,
        grace_days=body.grace_days,
        by=principal.actor,
    )
    return _out(stored)


@platform.get("/tenants/{slug}/licences", response_model=list[LicenceOut])
async def tenant_licences(
    slug: Slug, principal: PlatformAdmin, services: ServicesDep
) -> list[LicenceOut]:
    return [_out(s) for s in await services.licences.listing(slug)]


@platform.post("/tenants/{slug}/licences/{licence_id}/revoke", response_model=LicenceOut)
async def revoke_licence(
    slug: Slug,
    licence_id: LicenceId,
    body: RevokeRequest,
    principal: PlatformAdmin,
    services: ServicesDep,
) -> LicenceOut:
    """Revoke a licence: if it is the tenant's current one, the app answers `licence_blocked`."""
    return _out(await services.licences.revoke(licence_id, body.reason, principal.actor, slug))


@platform.get(
    "/tenants/{slug}/licences/{licence_id}/file",
    response_class=Response,
    responses={200: {"content": {"application/json": {}}}},
)
async def download_licence(
    slug: Slug, licence_id: LicenceId, principal: PlatformAdmin, services: ServicesDep
) -> Response:
    """The licence file, as a verifier or an air-gapped installation reads it."""
    stored = await services.licences.show(licence_id, slug)
    return Response(
        stored.document,
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="licence-{licence_id}.json"'},
    )


@platform.post(
    "/tenants/{slug}/licences/import",
    response_model=LicenceOut,
    status_code=status.HTTP_201_CREATED,
    openapi_extra={"requestBody": {"content": {"application/json": {}}, "required": True}},
)
async def import_licence(
    slug: Slug, request: Request, principal: PlatformAdmin, services: ServicesDep
) -> LicenceOut:
    """Activate a licence file (the request body, as downloaded): it must verify against this
    installation's keys and name this tenant and one of its apps."""
    data = await request.body()
    if not data or len(data) > MAX_DOCUMENT_BYTES:
        raise InvalidInput("send the licence file as the request body")
    return _out(await services.licences.import_file(data, principal.actor, tenant_slug=slug))


@platform.get("/tenants/{slug}/entitlements", response_model=list[UsageOut])
async def tenant_entitlements(
    slug: Slug, principal: PlatformAdmin, services: ServicesDep
) -> list[UsageOut]:
    """Each licensed app's plan, state and seats used."""
    return [_usage(u) for u in await services.licences.usage(slug)]


@router.get("/licences", response_model=list[LicenceOut])
async def own_licences(principal: TenantAdmin, services: ServicesDep) -> list[LicenceOut]:
    """The caller's tenant's licences, newest first."""
    return [_out(s) for s in await services.licences.own(principal.tenant_id)]


@router.get("/entitlements", response_model=list[UsageOut])
async def own_entitlements(principal: TenantAdmin, services: ServicesDep) -> list[UsageOut]:
    """The caller's tenant's licensed apps: plan, state and seats used of seats."""
    return [_usage(u) for u in await services.licences.own_usage(principal.tenant_id)]
