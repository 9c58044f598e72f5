"""Secrets over HTTP: set, read (logged, with a reason), list metadata, rotate and disable.

- An app's own credentials (a user or an API token of the app holding `secrets.read` /
  `secrets.manage` in the tenant) reach the app's secrets: `/v1/apps/thinktank/secrets/…`.
- Tenant administrators (the admin app, `admin` scope and the same privileges) reach any of the
  tenant's apps, named by `{target}`: `/v1/apps/admin/apps/thinktank/secrets/…`.

A value appears in one response only, the read's."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, TypedDict

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from tenantry.http.auth import RequiresPrivilege, resolve_route_app
from tenantry.identity.principal import Credential, Principal, Scope
from tenantry.kit.problems import PROBLEM_RESPONSES
from tenantry.secrets.models import SecretScope
from tenantry.services import ServicesDep

if TYPE_CHECKING:
    from tenantry.kit.actor import Actor
    from tenantry.secrets.models import SecretInfo

router = APIRouter(
    prefix="/v1/apps/{app}/secrets",
    tags=["secrets"],
    responses=PROBLEM_RESPONSES,
    dependencies=[Depends(resolve_route_app)],
)
Name = Annotated[str, Path(pattern=r"^[A-Za-z][A-Za-z0-9_.-]{0,127}$")]
Reason = Annotated[str, Field(min_length=1, max_length=500)]
admin_router = APIRouter(
    prefix="/v1/apps/{app}/apps/{target}/secrets",
    tags=["secrets"],
    responses=PROBLEM_RESPONSES,
    dependencies=[Depends(resolve_route_app)],
)
Target = Annotated[
    str, Path(pattern=r"^[a-z][a-z0-9-]{1,39}$", description="The app managed, e.g. thinktank.")
]
Reads = Annotated[Principal, RequiresPrivilege("secrets.read", Scope.PROFILE)]
Manages = Annotated[Principal, RequiresPrivilege("secrets.manage", Scope.PROFILE)]
AdminReads = Annotated[Principal, RequiresPrivilege("secrets.read")]
AdminManages = Annotated[Principal, RequiresPrivilege("secrets.manage")]


class PutRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    value: str = Field(min_length=1, max_length=65536)
    reason: Reason


class ReasonRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Reason


class SecretOut(BaseModel):
    name: str
    current_version: int
    versions: int
    status: str
    created_at: datetime
    rotated_at: datetime


class ValueOut(BaseModel):
    name: str
    version: int
    value: str


def _out(info: SecretInfo) -> SecretOut:
    return SecretOut(
        name=info.name,
        current_version=info.current_version,
        versions=info.versions,
        status=info.status,
        created_at=info.created_at,
        rotated_at=info.rotated_at,
    )


class _Who(TypedDict):
    by: Actor
    principal: str
    request_id: str | None


def _who(principal: Principal, request: Request) -> _Who:
    """Who is asking, as the access log records it."""
    if principal.acting is not None:
        kind = principal.acting.mode.value
    elif principal.credential is Credential.API_TOKEN:
        kind = "api_token"
    else:
        kind = "user"
    return {
        "by": principal.actor,
        "principal": kind,
        "request_id": getattr(request.state, "request_id", None),
    }


def _scope(principal: Principal) -> SecretScope:
    return SecretScope(principal.tenant_id, principal.app_id)


@router.get("", response_model=list[SecretOut])
async def list_secrets(principal: Reads, services: ServicesDep) -> list[SecretOut]:
    """Names, versions and status; never a value."""
    return [_out(s) for s in await services.secrets.metadata(_scope(principal))]


@router.put("/{name}", response_model=SecretOut)
async def put_secret(
    name: Name, body: PutRequest, principal: Manages, request: Request, services: ServicesDep
) -> SecretOut:
    info = await services.secrets.put(
        _scope(principal),
        name,
        body.value.encode(),
        reason=body.reason,
        **_who(principal, request),
    )
    return _out(info)


@router.get("/{name}", response_model=ValueOut)
async def read_secret(
    name: Name,
    principal: Reads,
    request: Request,
    services: ServicesDep,
    reason: Annotated[str, Query(min_length=1, max_length=500)],
    version: Annotated[int | None, Query(ge=1)] = None,
) -> ValueOut:
    """The value of the current (or a given) version; logged with the reason."""
    info, number, value = await services.secrets.reveal(
        _scope(principal),
        name,
        reason=reason,
        version=version,
        **_who(principal, request),
    )
    return ValueOut(name=info.name, version=number, value=value.decode(errors="replace"))


@router.post("/{name}/rotate", response_model=SecretOut)
async def rotate_secret(
    name: Name, body: ReasonRequest, principal: Manages, request: Request, services: ServicesDep
) -> SecretOut:
    """A new version with a fresh random value (read it with GET, which is logged)."""
    info = await services.secrets.rotate(
        _scope(principal),
        name,
        reason=body.reason,
        **_who(principal, request),
    )
    return _out(info)


@router.post("/{name}/disable", response_model=SecretOut)
async def disable_secret(
    name: Name, body: ReasonRequest, principal: Manages, request: Request, services: ServicesDep
) -> SecretOut:
    info = await services.secrets.disable(
        _scope(principal),
        name,
        reason=body.reason,
        **_who(principal, request),
    )
    return _out(info)


# --- tenant administrators, for any of the tenant's apps ---------------------------------------


@admin_router.get("", response_model=list[SecretOut])
async def admin_list_secrets(
    target: Target, principal: AdminReads, services: ServicesDep
) -> list[SecretOut]:
    scope = await services.secrets.scope_of(principal.tenant_id, target)
    return [_out(s) for s in await services.secrets.metadata(scope)]


@admin_router.put("/{name}", response_model=SecretOut)
async def admin_put_secret(
    target: Target,
    name: Name,
    body: PutRequest,
    principal: AdminManages,
    request: Request,
    services: ServicesDep,
) -> SecretOut:
    scope = await services.secrets.scope_of(principal.tenant_id, target)
    info = await services.secrets.put(
        scope, name, body.value.encode(), reason=body.reason, **_who(principal, request)
    )
    return _out(info)


@admin_router.get("/{name}", response_model=ValueOut)
async def admin_read_secret(
    target: Target,
    name: Name,
    principal: AdminReads,
    request: Request,
    services: ServicesDep,
    reason: Annotated[str, Query(min_length=1, max_length=500)],
    version: Annotated[int | None, Query(ge=1)] = None,
) -> ValueOut:
    scope = await services.secrets.scope_of(principal.tenant_id, target)
    info, number, value = await services.secrets.reveal(
        scope, name, reason=reason, version=version, **_who(principal, request)
    )
    return ValueOut(name=info.name, version=number, value=value.decode(errors="replace"))


@admin_router.post("/{name}/rotate", response_model=SecretOut)
async def admin_rotate_secret(
    target: Target,
    name: Name,
    body: ReasonRequest,
    principal: AdminManages,
    request: Request,
    services: ServicesDep,
) -> SecretOut:
    scope = await services.secrets.scope_of(principal.tenant_id, target)
    return _out(
        await services.secrets.rotate(scope, name, reason=body.reason, **_who(principal, request))
    )


@admin_router.post("/{name}/disable", response_model=SecretOut)
async def admin_disable_secret(
    target: Target,
    name: Name,
    body: ReasonRequest,
    principal: AdminManages,
    request: Request,
    services: ServicesDep,
) -> SecretOut:
    scope = await services.secrets.scope_of(principal.tenant_id, target)
    return _out(
        await services.secrets.disable(scope, name, reason=body.reason, **_who(principal, request))
    )
