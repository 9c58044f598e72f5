"""Groups of a tenant's users, the guests from other tenants in them, and the tenant's policy
towards guests, managed by tenant administrators under `/v1/apps/admin/…`; invited guests accept
under `/v1/apps/{their app}/guest-invitations/accept`, signed in to their own tenant.

Roles are assigned to a group through the assignments routes (`subject.kind = "group"`); its
members hold them while they belong to it. The policy (`/policy`) is read and written by holders
of `policies.manage` (absent, it denies every guest).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, status
from pydantic import BaseModel, ConfigDict, Field

from tenantry.access.models import Group, GuestInvitation, TenantPolicy
from tenantry.http.auth import Profile, RequiresPrivilege, require_live_session, resolve_route_app
from tenantry.http.platform import AppSlug
from tenantry.identity.principal import Principal
from tenantry.identity.schemas import Email, OpaqueValue
from tenantry.kit.problems import PROBLEM_RESPONSES
from tenantry.services import Services, ServicesDep

router = APIRouter(
    prefix="/v1/apps/{app}",
    tags=["groups"],
    responses=PROBLEM_RESPONSES,
    dependencies=[Depends(resolve_route_app)],
)
ManageGroups = Annotated[Principal, RequiresPrivilege("groups.manage")]
ManagePolicy = Annotated[Principal, RequiresPrivilege("policies.manage")]


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
async def policy(principal: ManagePolicy, services: ServicesDep) -> PolicyOut:
    return _policy(services, await services.policies.get(principal))


@router.put("/policy", response_model=PolicyOut)
async def set_policy(body: PolicyIn, principal: ManagePolicy, services: ServicesDep) -> PolicyOut:
    changed = await services.policies.set(
        principal,
        guests_in=body.guests_in,
        guests_out=body.guests_out,
        guest_apps=body.guest_apps,
        guest_max_role=body.guest_max_role,
        by=principal.actor,
    )
    return _policy(services, changed)


# Guests ---------------------------------------------------------------------------------------


class GuestInvitationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    app: AppSlug
    email: Email


class GuestInvitationOut(BaseModel):
    id: UUID
    group_id: UUID
    app: str
    email: str
    expires_at: datetime


class GuestOut(BaseModel):
    app_user_id: UUID
    app: str
    email: str
    status: str
    groups: list[str]
    created_at: datetime


class AcceptGuestInvitationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: OpaqueValue


class GuestAdmissionOut(BaseModel):
    """Where the caller is now a guest; switch there with `/auth/token-exchange`."""

    tenant_id: UUID
    tenant_slug: str
    app_user_id: UUID


def _invitation(services: Services, invitation: GuestInvitation) -> GuestInvitationOut:
    return GuestInvitationOut(
        id=invitation.id,
        group_id=invitation.group_id,
        app=services.apps.slugs_by_id[invitation.guest_app_id],
        email=invitation.email,
        expires_at=invitation.expires_at,
    )


@router.post(
    "/groups/{group_id}/guest-invitations",
    status_code=status.HTTP_201_CREATED,
    response_model=GuestInvitationOut,
)
async def invite_guest(
    group_id: UUID, body: GuestInvitationIn, principal: ManageGroups, services: ServicesDep
) -> GuestInvitationOut:
    """Invite a member of another tenant into the group as a guest; the code goes by mail."""
    app_id = services.apps.by_slug(body.app).id
    invitation = await services.guests.invite(
        principal, group_id, app_id, body.email, by=principal.actor
    )
    return _invitation(services, invitation)


@router.get("/guest-invitations", response_model=list[GuestInvitationOut])
async def guest_invitations(
    principal: ManageGroups, services: ServicesDep
) -> list[GuestInvitationOut]:
    return [_invitation(services, i) for i in await services.guests.invitations(principal)]


@router.delete("/guest-invitations/{invitation_id}", status_code=status.HTTP_204_NO_CONTENT)
async def revoke_guest_invitation(
    invitation_id: UUID, principal: ManageGroups, services: ServicesDep
) -> None:
    await services.guests.revoke_invitation(principal, invitation_id, by=principal.actor)


@router.post("/guest-invitations/accept", response_model=GuestAdmissionOut)
async def accept_guest_invitation(
    body: AcceptGuestInvitationIn, principal: Profile, services: ServicesDep
) -> GuestAdmissionOut:
    """Accept, signed in to your own tenant in the invited app as the invited address."""
    # Acceptance runs on the platform path: the session is checked live here first.
    await require_live_session(services, principal)
    host_id, user_id = await services.guests.accept(principal, body.code)
    host = await services.tenants.get(host_id)
    assert host is not None  # it admitted the guest in this very request
    return GuestAdmissionOut(tenant_id=host_id, tenant_slug=host.slug, app_user_id=user_id)


@router.get("/guests", response_model=list[GuestOut])
async def guests(principal: ManageGroups, services: ServicesDep) -> list[GuestOut]:
    return [
        GuestOut(
            app_user_id=g.app_user_id,
            app=services.apps.slugs_by_id[g.app_id],
            email=g.email,
            status=g.status,
            groups=g.groups,
            created_at=g.created_at,
        )
        for g in await services.guests.guests(principal)
    ]


@router.delete("/guests/{user_id}", status_code=status.HTTP_204_NO_CONTENT)
async def remove_guest(user_id: UUID, principal: ManageGroups, services: ServicesDep) -> None:
    await services.guests.remove(principal, user_id, by=principal.actor)
