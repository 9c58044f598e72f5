"""Roles, privileges, departments and delegated administrators.

Tenant administrators work under `/v1/apps/admin/…` (each route names the privilege it needs;
a delegated administrator holding it within a department subtree reaches that subtree only),
every user reads their own privileges at `/v1/apps/{app}/me/privileges`, and platform
administrators register an app's privileges in the catalog.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, status
from pydantic import BaseModel, ConfigDict, Field

from tenantry.access.models import Assignment, Department, Role, Subject, SubjectKind
from tenantry.http.auth import Requires, RequiresPrivilege, resolve_route_app
from tenantry.http.platform import AppSlug, platform_router
from tenantry.identity.principal import Principal, Scope
from tenantry.kit.errors import InvalidInput
from tenantry.kit.problems import PROBLEM_RESPONSES
from tenantry.services import Services, ServicesDep

# Served as /v1/apps/admin/…: the admin scope belongs to users of the admin app only.
router = APIRouter(
    prefix="/v1/apps/{app}",
    tags=["access"],
    responses=PROBLEM_RESPONSES,
    dependencies=[Depends(resolve_route_app)],
)
me_router = APIRouter(
    prefix="/v1/apps/{app}",
    tags=["access"],
    responses=PROBLEM_RESPONSES,
    dependencies=[Depends(resolve_route_app)],
)
catalog_router = platform_router("access")

PrivilegeKey = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*){1,4}$")]
RoleKey = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_.-]{1,63}$")]
ManageRoles = Annotated[Principal, RequiresPrivilege("roles.manage")]
AssignRoles = Annotated[Principal, RequiresPrivilege("roles.assign")]
Delegate = Annotated[Principal, RequiresPrivilege("delegation.grant")]
ManageDepartments = Annotated[Principal, RequiresPrivilege("departments.manage")]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RoleIn(Strict):
    key: RoleKey
    name: str = Field(min_length=1, max_length=200)
    template: RoleKey | None = None
    privileges: list[PrivilegeKey] = Field(default_factory=list, max_length=200)


class RoleOut(BaseModel):
    key: str
    name: str
    template_key: str | None
    privileges: list[str]


class OverrideIn(Strict):
    effect: Literal["grant", "revoke"] | None


class SubjectIn(Strict):
    kind: SubjectKind
    id: UUID
    app: AppSlug | None = Field(default=None, description="A user's app (users only).")


class AssignmentIn(Strict):
    role: RoleKey
    subject: SubjectIn
    only_app: AppSlug | None = None
    scope_department_id: UUID | None = None
    expires_at: datetime | None = None


class DelegationIn(Strict):
    user: SubjectIn
    department_id: UUID
    role: RoleKey = "admin"
    expires_at: datetime | None = None


class AssignmentOut(BaseModel):
    id: UUID
    role: str
    subject_kind: str
    subject_id: UUID
    only_app_id: UUID | None
    scope_department_id: UUID | None
    expires_at: datetime | None
    granted_by: str


class DepartmentIn(Strict):
    name: str = Field(min_length=1, max_length=200)
    parent_id: UUID | None = None


class DepartmentOut(BaseModel):
    id: UUID
    parent_id: UUID | None
    name: str
    path: list[UUID]


class MemberIn(Strict):
    app: AppSlug
    user_id: UUID


class PrivilegeIn(Strict):
    key: PrivilegeKey
    description: str = Field(default="", max_length=500)


class RegistrationIn(Strict):
    privileges: list[PrivilegeIn] = Field(min_length=1, max_length=200)
    templates: list[RoleKey] = Field(default_factory=list, max_length=10)


def _role(role: Role) -> RoleOut:
    return RoleOut(
        key=role.key, name=role.name, template_key=role.template_key, privileges=[*role.privileges]
    )


def _assignment(a: Assignment) -> AssignmentOut:
    return AssignmentOut(
        id=a.id,
        role=a.role_key,
        subject_kind=a.subject.kind.value,
        subject_id=a.subject.id,
        only_app_id=a.only_app_id,
        scope_department_id=a.scope_department_id,
        expires_at=a.expires_at,
        granted_by=a.granted_by,
    )


def _department(d: Department) -> DepartmentOut:
    return DepartmentOut(id=d.id, parent_id=d.parent_id, name=d.name, path=[*d.path])


def _subject(services: Services, subject: SubjectIn) -> Subject:
    if (subject.kind is SubjectKind.USER) != (subject.app is not None):
        raise InvalidInput("a user subject names its app, a department or group none")
    app_id = services.apps.by_slug(subject.app).id if subject.app else None
    return Subject(subject.kind, subject.id, app_id)


# The caller's own privileges ---------------------------------------------------------------


@me_router.get("/me/privileges")
async def my_privileges(
    principal: Annotated[Principal, Requires(Scope.PROFILE)], services: ServicesDep
) -> dict[str, Any]:
    """What the caller holds in this app: tenant-wide, and per department subtree."""
    return (await services.access.my_privileges(principal)).as_context()


# Roles and template overrides --------------------------------------------------------------


@router.get("/roles", response_model=list[RoleOut])
async def roles(principal: ManageRoles, services: ServicesDep) -> list[RoleOut]:
    return [_role(r) for r in await services.access.roles(principal)]


@router.post("/roles", status_code=status.HTTP_201_CREATED, response_model=RoleOut)
async def create_role(body: RoleIn, principal: ManageRoles, services: ServicesDep) -> RoleOut:
    role = await services.access.create_role(
        principal,
        body.key,
        body.name,
        template=body.template,
        privileges=body.privileges,
        by=principal.actor,
    )
    return _role(role)


@router.put("/roles/{role_key}/privileges/{privilege}", response_model=RoleOut)
async def grant_role_privilege(
    role_key: RoleKey, privilege: PrivilegeKey, principal: ManageRoles, services: ServicesDep
) -> RoleOut:
    role = await services.access.change_role_privilege(
        principal, role_key, privilege, grant=True, by=principal.actor
    )
    return _role(role)


@router.delete("/roles/{role_key}/privileges/{privilege}", response_model=RoleOut)
async def revoke_role_privilege(
    role_key: RoleKey, privilege: PrivilegeKey, principal: ManageRoles, services: ServicesDep
) -> RoleOut:
    role = await services.access.change_role_privilege(
        principal, role_key, privilege, grant=False, by=principal.actor
    )
    return _role(role)


@router.delete("/roles/{role_key}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_role(role_key: RoleKey, principal: ManageRoles, services: ServicesDep) -> None:
    await services.access.delete_role(principal, role_key, by=principal.actor)


@router.get("/role-overrides")
async def overrides(principal: ManageRoles, services: ServicesDep) -> list[dict[str, Any]]:
    return await services.access.overrides(principal)


@router.put("/role-templates/{template}/privileges/{privilege}", status_code=204)
async def override_template(
    template: RoleKey,
    privilege: PrivilegeKey,
    body: OverrideIn,
    principal: ManageRoles,
    services: ServicesDep,
) -> None:
    """Grant or revoke one privilege of a template in this tenant; `effect: null` removes it."""
    await services.access.override_template(
        principal, template, privilege, body.effect, by=principal.actor
    )


# Assignments and delegated administrators --------------------------------------------------


@router.get("/assignments", response_model=list[AssignmentOut])
async def assignments(principal: AssignRoles, services: ServicesDep) -> list[AssignmentOut]:
    return [_assignment(a) for a in await services.access.assignments(principal)]


@router.post("/assignments", status_code=status.HTTP_201_CREATED, response_model=AssignmentOut)
async def assign(
    body: AssignmentIn, principal: AssignRoles, services: ServicesDep
) -> AssignmentOut:
    created = await services.access.assign(
        principal,
        body.role,
        _subject(services, body.subject),
        only_app_id=services.apps.by_slug(body.only_app).id if body.only_app else None,
        scope_department_id=body.scope_department_id,
        expires_at=body.expires_at,
        by=principal.actor,
    )
    return _assignment(created)


@router.delete("/assignments/{assignment_id}", status_code=status.HTTP_204_NO_CONTENT)
async def revoke(assignment_id: UUID, principal: AssignRoles, services: ServicesDep) -> None:
    await services.access.revoke(principal, assignment_id, by=principal.actor)


@router.post("/delegated-admins", status_code=status.HTTP_201_CREATED, response_model=AssignmentOut)
async def delegate(body: DelegationIn, principal: Delegate, services: ServicesDep) -> AssignmentOut:
    """Make a user administrator of one department subtree only (the `admin` role by default)."""
    created = await services.access.delegate(
        principal,
        _subject(services, body.user),
        body.department_id,
        role_key=body.role,
        expires_at=body.expires_at,
        by=principal.actor,
    )
    return _assignment(created)


# Departments and members -------------------------------------------------------------------


@router.get("/departments", response_model=list[DepartmentOut])
async def departments(principal: ManageDepartments, services: ServicesDep) -> list[DepartmentOut]:
    return [_department(d) for d in await services.departments.tree(principal)]


@router.post("/departments", status_code=status.HTTP_201_CREATED, response_model=DepartmentOut)
async def create_department(
    body: DepartmentIn, principal: ManageDepartments, services: ServicesDep
) -> DepartmentOut:
    created = await services.departments.create(
        principal, body.name, body.parent_id, by=principal.actor
    )
    return _department(created)


@router.put("/departments/{department_id}", response_model=DepartmentOut)
async def change_department(
    department_id: UUID, body: DepartmentIn, principal: ManageDepartments, services: ServicesDep
) -> DepartmentOut:
    """Rename and/or move a department with its whole subtree (never under itself)."""
    changed = await services.departments.update(
        principal, department_id, name=body.name, parent_id=body.parent_id, by=principal.actor
    )
    return _department(changed)


@router.delete("/departments/{department_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_department(
    department_id: UUID, principal: ManageDepartments, services: ServicesDep
) -> None:
    await services.departments.delete(principal, department_id, by=principal.actor)


@router.get("/departments/{department_id}/members")
async def members(
    department_id: UUID, principal: ManageDepartments, services: ServicesDep
) -> list[dict[str, Any]]:
    return await services.departments.members(principal, department_id)


@router.post("/departments/{department_id}/members", status_code=204)
async def add_member(
    department_id: UUID, body: MemberIn, principal: ManageDepartments, services: ServicesDep
) -> None:
    app_id = services.apps.by_slug(body.app).id
    await services.departments.add_member(
        principal, department_id, app_id, body.user_id, by=principal.actor
    )


@router.delete("/departments/{department_id}/members/{user_id}", status_code=204)
async def remove_member(
    department_id: UUID, user_id: UUID, principal: ManageDepartments, services: ServicesDep
) -> None:
    await services.departments.remove_member(principal, department_id, user_id, by=principal.actor)


# The catalog (platform administrators) -----------------------------------------------------


@catalog_router.get("/privileges")
async def privilege_catalog(
    principal: Annotated[Principal, RequiresPrivilege("privileges.register", Scope.PLATFORM)],
    services: ServicesDep,
) -> dict[str, Any]:
    return {
        "privileges": [
            {"key": p.key, "description": p.description, "owner_app_id": p.owner_app_id}
            for p in await services.privileges.privileges()
        ],
        "templates": await services.privileges.templates(),
    }


@catalog_router.put("/apps/{app_slug}/privileges")
async def register_privileges(
    app_slug: AppSlug,
    body: RegistrationIn,
    principal: Annotated[Principal, RequiresPrivilege("privileges.register", Scope.PLATFORM)],
    services: ServicesDep,
) -> list[dict[str, Any]]:
    """Register (or describe again) an app's own privileges, named `<app>.<name>`."""
    registered = await services.privileges.register(
        services.apps.by_slug(app_slug),
        [(p.key, p.description) for p in body.privileges],
        templates=body.templates,
        by=principal.actor,
    )
    return [{"key": p.key, "description": p.description} for p in registered]
