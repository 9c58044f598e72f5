"""Groups of a tenant's users and the tenant's policy towards guests, managed by tenant
administrators under `/v1/apps/admin/…`.

Roles are assigned to a group through the assignments routes (`subject.kind = "group"`); its
members hold them while they belong to it. The policy (`/policy`) is read and written by holders
of `policies.manage` or `roles.manage` (the service decides; absent, it denies every guest).
"""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, status
from pydantic import BaseModel, ConfigDict, Field

from tenantry.access.models import Group, TenantPolicy
from tenantry.http.auth import RequiresPrivilege, TenantAdmin, resolve_route_app
from tenantry.http.platform import AppSlug
from tenantry.identity.principal import Principal
from tenantry.kit.problems import PROBLEM_RESPONSES
from tenantry.services import Services, ServicesDep

router = APIRouter(
    prefix="/v1/apps/{app}",
    tags=["groups"],
    responses=PROBLEM_RESPONSES,
    dependencies=[Depends(resolve_route_app)],
)
ManageGroups = Annotated[Principal, RequiresPrivilege("groups.manage")]


class GroupIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=500)


class GroupOut(BaseModel):
    id: UUID
    name: str
    description: str


class GroupMemberIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    app: AppSlug
    user_id: UUID


def _group(group: Group) -> GroupOut:
    return GroupOut(id=group.id, name=group.name, description=group.description)


@router.get("/groups", response_model=list[GroupOut])
async def groups(principal: ManageGroups, services: ServicesDep) -> list[GroupOut]:
    return [_group(g) for g in await services.groups.groups(principal)]


@router.post("/groups", status_code=status.HTTP_201_CREATED, response_model=GroupOut)
async def create_group(body: GroupIn, principal: ManageGroups, services: ServicesDep) -> GroupOut:
    created = await services.groups.create(
        principal, body.name, body.description, by=principal.actor
    )
    return _group(created)


@router.put("/groups/{group_id}", response_model=GroupOut)
async def change_group(
    group_id: UUID, body: GroupIn, principal: ManageGroups, services: ServicesDep
) -> GroupOut:
    changed = await services.groups.update(
        principal, group_id, body.name, body.description, by=principal.actor
    )
    return _group(changed)


@router.delete("/groups/{group_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_group(group_id: UUID, principal: ManageGroups, services: ServicesDep) -> None:
    await services.groups.delete(principal, group_id, by=principal.actor)


@router.get("/groups/{group_id}/members")
async def group_members(
    group_id: UUID, principal: ManageGroups, services: ServicesDep
) -> list[dict[str, Any]]:
    return await services.groups.members(principal, group_id)


@router.post("/groups/{group_id}/members", status_code=status.HTTP_204_NO_CONTENT)
async def add_group_member(
    group_id: UUID, body: GroupMemberIn, principal: ManageGroups, services: ServicesDep
) -> None:
    app_id = services.apps.by_slug(body.app).id
    await services.groups.add_member(principal, group_id, app_id, body.user_id, by=principal.actor)


@router.delete("/groups/{group_id}/members/{user_id}", status_code=status.HTTP_204_NO_CONTENT)
async def remove_group_member(
    group_id: UUID, user_id: UUID, principal: ManageGroups, services: ServicesDep
) -> None:
    await services.groups.remove_member(principal, group_id, user_id, by=principal.actor)


class PolicyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    guests_in: bool
    guests_out: bool
    guest_apps: list[AppSlug] = Field(default_factory=list, max_length=64)
    guest_max_role: str = Field(default="viewer", pattern=r"^[a-z][a-z0-9_]{1,63}$")


class PolicyOut(BaseModel):
    guests_in: bool
    guests_out: bool
    guest_apps: list[str]
    guest_max_role: str


def _policy(services: Services, policy: TenantPolicy) -> PolicyOut:
    return PolicyOut(
        guests_in=policy.guests_in,
        guests_out=policy.guests_out,
        guest_apps=services.policies.slugs(policy.guest_apps),
        guest_max_role=policy.guest_max_role,
    )


@router.get("/policy", response_model=PolicyOut)
async def policy(principal: TenantAdmin, services: ServicesDep) -> PolicyOut:
    return _policy(services, await services.policies.get(principal))


@router.put("/policy", response_model=PolicyOut)
async def set_policy(body: PolicyIn, principal: TenantAdmin, services: ServicesDep) -> PolicyOut:
    changed = await services.policies.set(
        principal,
        guests_in=body.guests_in,
        guests_out=body.guests_out,
        guest_apps=body.guest_apps,
        guest_max_role=body.guest_max_role,
        by=principal.actor,
    )
    return _policy(services, changed)
