"""Invitations and user deactivation, under `/v1/apps/{app}`.

Tenant administrators (the tenant's admin app) holding `users.invite` (invitations) or
`users.manage` (deactivation) manage one of the tenant's apps, named by `{target}`:
`/v1/apps/admin/apps/thinktank/invitations`. The invited person accepts at the invitation's own
app: `POST /v1/apps/thinktank/invitations/accept`.
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Path, Query, status

from tenantry.http.auth import RequiresPrivilege, RouteApp, resolve_route_app
from tenantry.identity.principal import Principal
from tenantry.invitations.schemas import (
    AcceptanceOut,
    Deactivation,
    InvitationAccept,
    InvitationCreate,
    InvitationOut,
    InvitationRevoke,
    InvitationStatus,
    UserStatusOut,
)
from tenantry.kit.problems import PROBLEM_RESPONSES
from tenantry.services import ServicesDep

router = APIRouter(
    prefix="/v1/apps/{app}",
    tags=["invitations"],
    responses=PROBLEM_RESPONSES,
    dependencies=[Depends(resolve_route_app)],
)
Target = Annotated[
    str, Path(pattern=r"^[a-z][a-z0-9-]{1,39}$", description="The app managed, e.g. thinktank.")
]
InviteUsers = Annotated[Principal, RequiresPrivilege("users.invite")]
ManageUsers = Annotated[Principal, RequiresPrivilege("users.manage")]


def _out(invitation: object) -> InvitationOut:
    return InvitationOut.model_validate(invitation, from_attributes=True)


@router.post(
    "/apps/{target}/invitations",
    status_code=status.HTTP_201_CREATED,
    response_model=InvitationOut,
)
async def invite(
    target: Target, body: InvitationCreate, principal: InviteUsers, services: ServicesDep
) -> InvitationOut:
    """Invite an address into the app with role keys; the invitation is mailed (outbox)."""
    invitation = await services.invitations.invite(
        principal,
        target,
        body.email,
        display_name=body.display_name,
        role_keys=list(body.roles),
        by=principal.actor,
    )
    return _out(invitation)


@router.get("/apps/{target}/invitations", response_model=list[InvitationOut])
async def invitations(
    target: Target,
    principal: InviteUsers,
    services: ServicesDep,
    state: Annotated[InvitationStatus | None, Query(alias="status")] = None,
) -> list[InvitationOut]:
    """The app's invitations, newest first, with their status."""
    return [_out(i) for i in await services.invitations.list(principal, target, state)]


@router.post("/apps/{target}/invitations/{invitation_id}/revoke", response_model=InvitationOut)
async def revoke_invitation(
    target: Target,
    invitation_id: UUID,
    body: InvitationRevoke,
    principal: InviteUsers,
    services: ServicesDep,
) -> InvitationOut:
    invitation = await services.invitations.revoke(
        principal, target, invitation_id, by=principal.actor, reason=body.reason
    )
    return _out(invitation)


@router.post("/apps/{target}/invitations/{invitation_id}/resend", response_model=InvitationOut)
async def resend_invitation(
    target: Target, invitation_id: UUID, principal: InviteUsers, services: ServicesDep
) -> InvitationOut:
    """Mail a new token (the previous one stops working); limited in pace and number."""
    invitation = await services.invitations.resend(
        principal, target, invitation_id, by=principal.actor
    )
    return _out(invitation)


@router.post(
    "/invitations/accept", status_code=status.HTTP_201_CREATED, response_model=AcceptanceOut
)
async def accept_invitation(
    body: InvitationAccept, app: RouteApp, services: ServicesDep
) -> AcceptanceOut:
    """Accept an invitation to this app: the account is created (or the address's existing
    one reused) and its email is verified. Sign in afterwards."""
    done = await services.invitations.accept(app, body.token, body.password, body.display_name)
    return AcceptanceOut(
        invitation_id=done.invitation.id,
        tenant_id=done.tenant_id,
        app_user_id=done.app_user_id,
        created=done.created,
    )


@router.post("/apps/{target}/users/{user_id}/deactivate", response_model=UserStatusOut)
async def deactivate_user(
    target: Target,
    user_id: UUID,
    body: Deactivation,
    principal: ManageUsers,
    services: ServicesDep,
) -> UserStatusOut:
    """The user can no longer sign in; their sessions and API tokens stop at once."""
    user = await services.user_admin.deactivate(
        principal, target, user_id, reason=body.reason, by=principal.actor
    )
    return UserStatusOut(id=user.id, email=user.email, status=user.status)


@router.post("/apps/{target}/users/{user_id}/reactivate", response_model=UserStatusOut)
async def reactivate_user(
    target: Target, user_id: UUID, principal: ManageUsers, services: ServicesDep
) -> UserStatusOut:
    """The user can sign in again (old sessions and tokens stay revoked)."""
    user = await services.user_admin.reactivate(principal, target, user_id, by=principal.actor)
    return UserStatusOut(id=user.id, email=user.email, status=user.status)
