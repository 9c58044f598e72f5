"""Acting for another user over HTTP: administrators' impersonation, and users' delegations."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Request, status
from pydantic import BaseModel, ConfigDict, Field

from tenantry.http.auth import (
    Profile,
    Requires,
    RequiresPrivilege,
    RouteApp,
    origin,
    resolve_route_app,
)
from tenantry.http.platform import AppSlug, Reason, Slug
from tenantry.identity.acting import ImpersonationRequest
from tenantry.identity.models import ActingToken, Delegation, Impersonation
from tenantry.identity.principal import Principal, Scope
from tenantry.identity.schemas import Email
from tenantry.kit.problems import PROBLEM_RESPONSES
from tenantry.services import ServicesDep

# Impersonation is served as /v1/apps/admin/…: the admin scope belongs to admin-app users only.
router = APIRouter(
    prefix="/v1/apps/{app}",
    tags=["acting for others"],
    responses=PROBLEM_RESPONSES,
    dependencies=[Depends(resolve_route_app)],
)
Sessions = Annotated[Principal, Requires(Scope.SESSIONS)]
Account = Annotated[Principal, Requires(Scope.ACCOUNT)]
Impersonator = Annotated[Principal, RequiresPrivilege("impersonation.start")]


class ImpersonationStart(BaseModel):
    model_config = ConfigDict(extra="forbid")
    app: AppSlug
    email: Email
    reason: Reason
    tenant: Slug | None = Field(default=None, description="Platform administrators only.")
    read_only: bool = True
    minutes: int | None = Field(default=None, ge=1, le=8 * 60)


class ImpersonationEnd(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tenant: Slug | None = Field(default=None, description="Platform administrators only.")


class ActingTokenOut(BaseModel):
    access_token: str
    token_type: str = "Bearer"
    expires_in: int
    grant_id: UUID


class ImpersonationOut(BaseModel):
    id: UUID
    app_id: UUID
    target_user_id: UUID
    actor: str
    reason: str
    read_only: bool
    started_at: datetime
    expires_at: datetime
    ended_at: datetime | None


class ImpersonationStarted(BaseModel):
    token: ActingTokenOut
    impersonation: ImpersonationOut


class DelegationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: Email
    scopes: list[Scope] = Field(default_factory=lambda: [Scope.PROFILE], max_length=4)
    privileges: list[Annotated[str, Field(max_length=100)]] = Field(
        default_factory=list, max_length=100
    )
    reason: Reason
    minutes: int = Field(ge=1, le=30 * 24 * 60)


class DelegationOut(BaseModel):
    id: UUID
    grantor_id: UUID
    delegate_id: UUID
    scopes: list[str]
    privileges: list[str]
    reason: str
    starts_at: datetime
    ends_at: datetime
    revoked_at: datetime | None
    live: bool


def _token(token: ActingToken) -> ActingTokenOut:
    return ActingTokenOut(
        access_token=token.access_token, expires_in=token.expires_in, grant_id=token.grant_id
    )


def _impersonation(grant: Impersonation) -> ImpersonationOut:
    return ImpersonationOut.model_validate(grant, from_attributes=True)


def _delegation(grant: Delegation) -> DelegationOut:
    return DelegationOut.model_validate(grant, from_attributes=True)


@router.post(
    "/impersonations", response_model=ImpersonationStarted, status_code=status.HTTP_201_CREATED
)
async def start_impersonation(
    body: ImpersonationStart, principal: Impersonator, services: ServicesDep, request: Request
) -> ImpersonationStarted:
    """Act as a user of your tenant (platform administrators: of any tenant) for a while, with
    a reason; read-only unless asked. Off unless the tenant enables `impersonation_enabled`."""
    started = ImpersonationRequest(
        tenant_slug=body.tenant,
        app=services.apps.by_slug(body.app),
        email=body.email,
        reason=body.reason,
        read_only=body.read_only,
        minutes=body.minutes,
    )
    token, grant = await services.acting.impersonate(principal, started, origin(request))
    return ImpersonationStarted(token=_token(token), impersonation=_impersonation(grant))


@router.get("/impersonations", response_model=list[ImpersonationOut])
async def list_impersonations(
    principal: Impersonator, services: ServicesDep
) -> list[ImpersonationOut]:
    return [_impersonation(g) for g in await services.acting.impersonations(principal)]


@router.post("/impersonations/{grant_id}/end", status_code=status.HTTP_204_NO_CONTENT)
async def end_impersonation(
    grant_id: UUID,
    body: ImpersonationEnd,
    principal: Impersonator,
    services: ServicesDep,
    request: Request,
) -> None:
    await services.acting.end_impersonation(principal, grant_id, body.tenant, origin(request))


@router.post("/impersonation/end", status_code=status.HTTP_204_NO_CONTENT)
async def end_own_impersonation(
    principal: Profile, services: ServicesDep, request: Request
) -> None:
    """End the impersonation this token belongs to."""
    if principal.acting is None:
        return
    await services.acting.end_impersonation(
        principal, principal.acting.grant_id, None, origin(request)
    )


@router.post("/delegations", response_model=DelegationOut, status_code=status.HTTP_201_CREATED)
async def create_delegation(
    body: DelegationCreate, principal: Account, services: ServicesDep
) -> DelegationOut:
    """Let another user of this tenant and app act for you, within `scopes` (at most
    profile and admin, and only what you hold), until `minutes` from now."""
    grant = await services.acting.delegate(
        principal,
        body.email,
        frozenset(body.scopes),
        body.reason,
        body.minutes,
        tuple(body.privileges),
    )
    return _delegation(grant)


@router.get("/delegations", response_model=list[DelegationOut])
async def list_delegations(principal: Profile, services: ServicesDep) -> list[DelegationOut]:
    """Delegations you granted or hold."""
    return [_delegation(g) for g in await services.acting.delegations(principal)]


@router.delete("/delegations/{grant_id}", status_code=status.HTTP_204_NO_CONTENT)
async def revoke_delegation(grant_id: UUID, principal: Profile, services: ServicesDep) -> None:
    await services.acting.revoke_delegation(principal, grant_id)


@router.post(
    "/delegations/{grant_id}/token",
    response_model=ActingTokenOut,
    status_code=status.HTTP_201_CREATED,
)
async def delegation_token(
    grant_id: UUID, app: RouteApp, principal: Sessions, services: ServicesDep
) -> ActingTokenOut:
    """A short-lived token with which you act for the delegation's grantor."""
    return _token(await services.acting.act_for(principal, app, grant_id))
