"""Tenants, administrators and users for the access tests, made through the services."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tenantry.access.models import Subject, SubjectKind
from tenantry.identity.principal import Credential, Principal, Scope
from tenantry.kit.ids import uuid7
from tests.support.accounts import make_tenant
from tests.support.wiring import services_for

if TYPE_CHECKING:
    from uuid import UUID

    from tenantry.kit.db import Database
    from tests.support.accounts import Tenant


async def tenant_with_apps(db: Database) -> Tenant:
    await services_for(db).apps.reload()
    return await make_tenant(db, "admin", "thinktank")


async def person(db: Database, tenant: Tenant, app: str = "admin") -> Principal:
    """A user of `app` as a request principal (admin-app users carry the admin scope)."""
    services = services_for(db)
    app_id = services.apps.by_slug(app).id
    user = await services.users.add(
        tenant.id, app_id, f"{uuid7().hex[-12:]}@example.com", password_hash=None
    )
    scopes = {Scope.PROFILE} | ({Scope.ADMIN} if app == "admin" else set())
    return Principal(
        tenant_id=tenant.id,
        app_id=app_id,
        app_slug=app,
        app_user_id=user.id,
        credential=Credential.ACCESS_TOKEN,
        scopes=frozenset(scopes),
    )


def subject(principal: Principal) -> Subject:
    return Subject(SubjectKind.USER, principal.app_user_id, principal.app_id)


def department(department_id: UUID) -> Subject:
    return Subject(SubjectKind.DEPARTMENT, department_id)
