"""One tenant's roles and assignments: roles with their privileges (create one from a template,
grant or revoke a privilege), the tenant's template overrides, and who holds which role (assign
to a user or a department, optionally one app and an expiry; end an assignment). Pages act with
the tenant owner's authority (`PlatformAuthority`), through the same services as the API."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from tenantry.access.models import PlatformAuthority, Subject, SubjectKind
from tenantry.admin.auth import AdminDep, AdminPost
from tenantry.admin.rendering import changes_on, render
from tenantry.admin.session import Admin
from tenantry.identity.principal import ADMIN_APP
from tenantry.kit.errors import InvalidInput, NotFound, TenantryError
from tenantry.services import Services, ServicesDep

router = APIRouter()
Key = Annotated[str, Form(pattern=r"^[a-z][a-z0-9_.-]{1,63}$")]
PrivilegeKey = Annotated[str, Form(pattern=r"^[a-z][a-z0-9_.]{2,99}$")]


async def authority(services: Services, admin: Admin, slug: str) -> PlatformAuthority:
    """The signed-in platform administrator on tenant `slug`, with its owner's authority."""
    tenant = await services.tenants.by_slug(slug)
    if tenant is None:
        raise NotFound(f"no tenant {slug!r}")
    return PlatformAuthority.of(admin.principal, tenant.id, services.apps.by_slug(ADMIN_APP).id)


async def _page(
    request: Request,
    services: Services,
    admin: Admin,
    slug: str,
    status_code: int = 200,
    **ctx: object,
) -> HTMLResponse:
    acting = await authority(services, admin, slug)
    return render(
        request,
        "access.html",
        admin,
        status_code,
        slug=slug,
        roles=await services.access.roles(acting),
        overrides=await services.access.overrides(acting),
        templates=await services.privileges.templates(),
        privileges=await services.privileges.privileges(),
        assignments=await services.access.assignments(acting),
        apps={a.id: a.slug for a in services.apps.all()},
        **ctx,
    )


_changed = changes_on("access", _page)


@router.get("/tenants/{slug}/access", response_class=HTMLResponse)
async def access(
    request: Request, slug: str, admin: AdminDep, services: ServicesDep
) -> HTMLResponse:
    return await _page(request, services, admin, slug)


@router.post("/tenants/{slug}/roles", response_model=None)
async def create_role(
    request: Request,
    slug: str,
    admin: AdminPost,
    services: ServicesDep,
    key: Key,
    name: Annotated[str, Form(min_length=1, max_length=200)],
    template: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    acting = await authority(services, admin, slug)
    change = services.access.create_role(
        acting, key, name, template=template or None, privileges=[], by=acting.actor
    )
    return await _changed(request, services, admin, slug, change, f"role {key} created")


@router.post("/tenants/{slug}/roles/{key}/privileges", response_model=None)
async def role_privilege(
    request: Request,
    slug: str,
    key: str,
    admin: AdminPost,
    services: ServicesDep,
    privilege: PrivilegeKey,
    action: Annotated[str, Form(pattern=r"^(grant|revoke)$")],
) -> Response:
    acting = await authority(services, admin, slug)
    grant = action == "grant"
    change = services.access.change_role_privilege(
        acting, key, privilege, grant=grant, by=acting.actor
    )
    return await _changed(request, services, admin, slug, change, f"{privilege} {action}ed")


@router.post("/tenants/{slug}/overrides", response_model=None)
async def override(
    request: Request,
    slug: str,
    admin: AdminPost,
    services: ServicesDep,
    template: Key,
    privilege: PrivilegeKey,
    effect: Annotated[str, Form(pattern=r"^(grant|revoke|remove)$")],
) -> Response:
    acting = await authority(services, admin, slug)
    change = services.access.override_template(
        acting, template, privilege, None if effect == "remove" else effect, by=acting.actor
    )
    return await _changed(request, services, admin, slug, change, "template override saved")


@router.post("/tenants/{slug}/assignments", response_model=None)
async def assign(
    request: Request,
    slug: str,
    admin: AdminPost,
    services: ServicesDep,
    role: Key,
    subject_kind: Annotated[SubjectKind, Form()],
    subject_id: Annotated[UUID, Form()],
    user_app: Annotated[str, Form(max_length=40)] = "",
    only_app: Annotated[str, Form(max_length=40)] = "",
    expires: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    acting = await authority(services, admin, slug)
    try:
        user_app_id = services.apps.by_slug(user_app).id if user_app else None
        only_app_id = services.apps.by_slug(only_app).id if only_app else None
        expires_at = expiry(expires)
    except TenantryError as exc:
        return await _page(request, services, admin, slug, exc.status, error=exc.message)
    change = services.access.assign(
        acting,
        role,
        Subject(subject_kind, subject_id, user_app_id),
        only_app_id=only_app_id,
        expires_at=expires_at,
        by=acting.actor,
    )
    return await _changed(request, services, admin, slug, change, f"role {role} assigned")


@router.post("/tenants/{slug}/assignments/{assignment_id}/end", response_model=None)
async def end_assignment(
    request: Request, slug: str, assignment_id: UUID, admin: AdminPost, services: ServicesDep
) -> Response:
    acting = await authority(services, admin, slug)
    change = services.access.revoke(acting, assignment_id, by=acting.actor)
    return await _changed(request, services, admin, slug, change, "assignment ended")


def expiry(raw: str) -> datetime | None:
    """A `datetime-local` field, read as UTC; blank: never."""
    if not raw:
        return None
    try:
        return datetime.fromisoformat(raw).replace(tzinfo=UTC)
    except ValueError:
        raise InvalidInput("the expiry is not a date and time") from None
