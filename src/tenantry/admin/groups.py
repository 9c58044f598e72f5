"""One tenant's groups and its policy towards guests: the groups with their members (create,
rename or describe, delete a group; add or remove a member of any of the tenant's apps), the
guest policy (guests in, guests out, for which apps, up to which role), and the tenant's guests
(invite an address into a group, revoke an open invitation, remove a guest). Pages act with
the tenant owner's authority, through the same services as the API."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated
from uuid import UUID

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from tenantry.access.models import OWNER
from tenantry.admin.access import authority
from tenantry.admin.auth import AdminDep, AdminPost
from tenantry.admin.rendering import changes_on, render
from tenantry.identity.principal import ADMIN_APP
from tenantry.identity.schemas import EMAIL_PATTERN
from tenantry.services import Services, ServicesDep

if TYPE_CHECKING:
    from tenantry.admin.session import Admin

router = APIRouter()
Name = Annotated[str, Form(min_length=1, max_length=200)]
Description = Annotated[str, Form(max_length=500)]
AppSlug = Annotated[str, Form(max_length=40)]


async def _page(
    request: Request,
    services: Services,
    admin: Admin,
    slug: str,
    status_code: int = 200,
    **ctx: object,
) -> HTMLResponse:
    acting = await authority(services, admin, slug)
    tenant = await services.tenants.by_slug(slug)
    app_ids = tenant.app_ids if tenant else frozenset()
    groups = await services.groups.groups(acting)
    # One read per group: a tenant's groups are few, and the page shows every member.
    members = {g.id: await services.groups.members(acting, g.id) for g in groups}
    policy = await services.policies.get(acting)
    return render(
        request,
        "groups.html",
        admin,
        status_code,
        slug=slug,
        groups=groups,
        group_names={g.id: g.name for g in groups},
        members=members,
        policy=policy,
        policy_apps=services.policies.slugs(policy.guest_apps),
        # The admin app last: members mostly come from the tenant's own apps.
        tenant_apps=sorted(
            (services.apps.slugs_by_id[a] for a in app_ids if a in services.apps.slugs_by_id),
            key=lambda a: (a == ADMIN_APP, a),
        ),
        guest_roles=sorted(t for t in await services.privileges.templates() if t != OWNER),
        apps={a.id: a.slug for a in services.apps.all()},
        admin_app=ADMIN_APP,
        guests=await services.guests.guests(acting),
        invitations=await services.guests.invitations(acting),
        **ctx,
    )


_changed = changes_on("groups", _page)


@router.get("/tenants/{slug}/groups", response_class=HTMLResponse)
async def groups(
    request: Request, slug: str, admin: AdminDep, services: ServicesDep
) -> HTMLResponse:
    return await _page(request, services, admin, slug)


@router.post("/tenants/{slug}/groups", response_model=None)
async def create(
    request: Request,
    slug: str,
    admin: AdminPost,
    services: ServicesDep,
    name: Name,
    description: Description = "",
) -> Response:
    acting = await authority(services, admin, slug)
    change = services.groups.create(acting, name, description, by=acting.actor)
    return await _changed(request, services, admin, slug, change, f"group {name} created")


@router.post("/tenants/{slug}/groups/{group_id}", response_model=None)
async def update(
    request: Request,
    slug: str,
    group_id: UUID,
    admin: AdminPost,
    services: ServicesDep,
    name: Name,
    description: Description = "",
) -> Response:
    acting = await authority(services, admin, slug)
    change = services.groups.update(acting, group_id, name, description, by=acting.actor)
    return await _changed(request, services, admin, slug, change, f"group {name} saved")


@router.post("/tenants/{slug}/groups/{group_id}/delete", response_model=None)
async def delete(
    request: Request, slug: str, group_id: UUID, admin: AdminPost, services: ServicesDep
) -> Response:
    acting = await authority(services, admin, slug)
    change = services.groups.delete(acting, group_id, by=acting.actor)
    return await _changed(request, services, admin, slug, change, "group deleted")


@router.post("/tenants/{slug}/groups/{group_id}/members", response_model=None)
async def add_member(
    request: Request,
    slug: str,
    group_id: UUID,
    admin: AdminPost,
    services: ServicesDep,
    app: AppSlug,
    user_id: Annotated[UUID, Form()],
) -> Response:
    acting = await authority(services, admin, slug)

    async def add() -> None:
        # Inside the change: an unknown app is refused on the page like any other mistake.
        app_id = services.apps.by_slug(app).id
        await services.groups.add_member(acting, group_id, app_id, user_id, by=acting.actor)

    return await _changed(request, services, admin, slug, add(), "member added")


@router.post("/tenants/{slug}/groups/{group_id}/members/{user_id}/remove", response_model=None)
async def remove_member(
    request: Request,
    slug: str,
    group_id: UUID,
    user_id: UUID,
    admin: AdminPost,
    services: ServicesDep,
) -> Response:
    acting = await authority(services, admin, slug)
    change = services.groups.remove_member(acting, group_id, user_id, by=acting.actor)
    return await _changed(request, services, admin, slug, change, "member removed")


@router.post("/tenants/{slug}/guest-policy", response_model=None)
async def guest_policy(
    request: Request,
    slug: str,
    admin: AdminPost,
    services: ServicesDep,
    guest_max_role: Annotated[str, Form(pattern=r"^[a-z][a-z0-9_]{1,63}$")],
    guests_in: Annotated[bool, Form()] = False,
    guests_out: Annotated[bool, Form()] = False,
    guest_apps: Annotated[list[str], Form(max_length=64)] = [],  # noqa: B006 - FastAPI copies it
) -> Response:
    acting = await authority(services, admin, slug)
    change = services.policies.set(
        acting,
        guests_in=guests_in,
        guests_out=guests_out,
        guest_apps=guest_apps,
        guest_max_role=guest_max_role,
        by=acting.actor,
    )
    return await _changed(request, services, admin, slug, change, "guest policy saved")


@router.post("/tenants/{slug}/guest-invitations", response_model=None)
async def invite_guest(
    request: Request,
    slug: str,
    admin: AdminPost,
    services: ServicesDep,
    group_id: Annotated[UUID, Form()],
    app: AppSlug,
    email: Annotated[str, Form(min_length=3, max_length=320, pattern=EMAIL_PATTERN)],
) -> Response:
    acting = await authority(services, admin, slug)

    async def invite() -> None:
        app_id = services.apps.by_slug(app).id
        await services.guests.invite(acting, group_id, app_id, email.strip(), by=acting.actor)

    return await _changed(request, services, admin, slug, invite(), f"{email} invited")


@router.post("/tenants/{slug}/guest-invitations/{invitation_id}/revoke", response_model=None)
async def revoke_guest_invitation(
    request: Request, slug: str, invitation_id: UUID, admin: AdminPost, services: ServicesDep
) -> Response:
    acting = await authority(services, admin, slug)
    change = services.guests.revoke_invitation(acting, invitation_id, by=acting.actor)
    return await _changed(request, services, admin, slug, change, "invitation revoked")


@router.post("/tenants/{slug}/guests/{user_id}/remove", response_model=None)
async def remove_guest(
    request: Request, slug: str, user_id: UUID, admin: AdminPost, services: ServicesDep
) -> Response:
    acting = await authority(services, admin, slug)
    change = services.guests.remove(acting, user_id, by=acting.actor)
    return await _changed(request, services, admin, slug, change, "guest removed")
