"""One tenant's departments and delegated administrators: the tree (create, rename or move a
department with its subtree, its members), and who administers which subtree. Pages act with the
tenant owner's authority, through the same services as the API."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated
from uuid import UUID

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response

from tenantry.access.models import Subject, SubjectKind
from tenantry.admin.access import Key, authority, expiry
from tenantry.admin.auth import AdminDep, AdminPost
from tenantry.admin.rendering import changed, render
from tenantry.kit.errors import TenantryError
from tenantry.services import Services, ServicesDep

if TYPE_CHECKING:
    from collections.abc import Awaitable

    from tenantry.admin.session import Admin

router = APIRouter()
Name = Annotated[str, Form(min_length=1, max_length=200)]


def _parent(raw: str) -> UUID | None:
    return UUID(raw) if raw else None


ParentId = Annotated[str, Form(pattern=r"^([0-9a-fA-F-]{36})?$")]


async def _page(
    request: Request,
    services: Services,
    admin: Admin,
    slug: str,
    status_code: int = 200,
    department: UUID | None = None,
    **ctx: object,
) -> HTMLResponse:
    acting = await authority(services, admin, slug)
    departments = await services.departments.tree(acting)
    names = {d.id: d.name for d in departments}
    chosen = next((d for d in departments if d.id == department), None)
    members = await services.departments.members(acting, chosen.id) if chosen else []
    delegated = [a for a in await services.access.assignments(acting) if a.scope_department_id]
    return render(
        request,
        "departments.html",
        admin,
        status_code,
        slug=slug,
        departments=sorted(departments, key=lambda d: [names[p] for p in d.path]),
        names=names,
        chosen=chosen,
        members=members,
        delegated=delegated,
        apps={a.id: a.slug for a in services.apps.all()},
        **ctx,
    )


async def _changed(
    request: Request,
    services: Services,
    admin: Admin,
    slug: str,
    change: Awaitable[object],
    notice: str,
    department: UUID | None = None,
) -> Response:
    """Back to this page (on `department`) with the notice, or the page again with the reason."""
    query = {"department": str(department)} if department else {}
    return await changed(
        change,
        done_url=f"/admin/tenants/{slug}/departments",
        notice=notice,
        on_error=lambda exc: _page(
            request, services, admin, slug, exc.status, department, error=exc.message
        ),
        **query,
    )


@router.get("/tenants/{slug}/departments", response_class=HTMLResponse)
async def departments(
    request: Request,
    slug: str,
    admin: AdminDep,
    services: ServicesDep,
    department: Annotated[UUID | None, Query()] = None,
) -> HTMLResponse:
    return await _page(request, services, admin, slug, department=department)


@router.post("/tenants/{slug}/departments", response_model=None)
async def create(
    request: Request,
    slug: str,
    admin: AdminPost,
    services: ServicesDep,
    name: Name,
    parent_id: ParentId = "",
) -> Response:
    acting = await authority(services, admin, slug)
    change = services.departments.create(acting, name, _parent(parent_id), by=acting.actor)
    return await _changed(request, services, admin, slug, change, f"department {name} created")


@router.post("/tenants/{slug}/departments/{department_id}", response_model=None)
async def move(
    request: Request,
    slug: str,
    department_id: UUID,
    admin: AdminPost,
    services: ServicesDep,
    name: Name,
    parent_id: ParentId = "",
) -> Response:
    acting = await authority(services, admin, slug)
    change = services.departments.update(
        acting, department_id, name=name, parent_id=_parent(parent_id), by=acting.actor
    )
    return await _changed(request, services, admin, slug, change, "department saved", department_id)


@router.post("/tenants/{slug}/departments/{department_id}/members", response_model=None)
async def add_member(
    request: Request,
    slug: str,
    department_id: UUID,
    admin: AdminPost,
    services: ServicesDep,
    app: Annotated[str, Form(max_length=40)],
    user_id: Annotated[UUID, Form()],
) -> Response:
    acting = await authority(services, admin, slug)
    try:
        app_id = services.apps.by_slug(app).id
    except TenantryError as exc:
        return await _page(
            request, services, admin, slug, exc.status, department_id, error=exc.message
        )
    change = services.departments.add_member(
        acting, department_id, app_id, user_id, by=acting.actor
    )
    return await _changed(request, services, admin, slug, change, "member added", department_id)


@router.post(
    "/tenants/{slug}/departments/{department_id}/members/{user_id}/remove", response_model=None
)
async def remove_member(
    request: Request,
    slug: str,
    department_id: UUID,
    user_id: UUID,
    admin: AdminPost,
    services: ServicesDep,
) -> Response:
    acting = await authority(services, admin, slug)
    change = services.departments.remove_member(acting, department_id, user_id, by=acting.actor)
    return await _changed(request, services, admin, slug, change, "member removed", department_id)


@router.post("/tenants/{slug}/delegated-admins", response_model=None)
async def delegate(
    request: Request,
    slug: str,
    admin: AdminPost,
    services: ServicesDep,
    user_app: Annotated[str, Form(max_length=40)],
    user_id: Annotated[UUID, Form()],
    department_id: Annotated[UUID, Form()],
    role: Key = "admin",
    expires: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    acting = await authority(services, admin, slug)
    try:
        subject = Subject(SubjectKind.USER, user_id, services.apps.by_slug(user_app).id)
        expires_at = expiry(expires)
    except TenantryError as exc:
        return await _page(request, services, admin, slug, exc.status, error=exc.message)
    change = services.access.delegate(
        acting, subject, department_id, role_key=role, expires_at=expires_at, by=acting.actor
    )
    return await _changed(request, services, admin, slug, change, "administrator delegated")
