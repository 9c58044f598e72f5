"""A platform administrator on a tenant (the admin UI) holds its owner's authority and nothing
more: only a platform principal gets it, changes are decided by the same service checks, and the
tenant's audit log names the platform administrator."""

from __future__ import annotations

import pytest

from tenantry.access.models import PlatformAuthority, Subject, SubjectKind
from tenantry.identity.principal import Credential, Principal, Scope
from tenantry.kit.errors import InsufficientPrivilege, InvalidInput
from tenantry.kit.ids import uuid7
from tests.support.accounts import make_tenant
from tests.support.wiring import services_for


def _principal(*scopes: Scope) -> Principal:
    return Principal(
        tenant_id=uuid7(),
        app_id=uuid7(),
        app_slug="admin",
        app_user_id=uuid7(),
        credential=Credential.ACCESS_TOKEN,
        scopes=frozenset(scopes),
    )


def test_only_a_platform_principal_gets_the_authority() -> None:
    with pytest.raises(InsufficientPrivilege):
        PlatformAuthority.of(_principal(Scope.ADMIN), uuid7(), uuid7())
    authority = PlatformAuthority.of(_principal(Scope.ADMIN, Scope.PLATFORM), uuid7(), uuid7())
    # The tenant's context without a user: the database's grant guard leaves it to the service.
    assert authority.context.app_user_id is None
    assert authority.actor.kind == "platform-admin"


async def test_changes_pass_the_service_checks_and_name_the_platform_admin(db) -> None:
    services = services_for(db)
    tenant = await make_tenant(db, "thinktank")
    await services.apps.reload()
    admin = _principal(Scope.ADMIN, Scope.PLATFORM)
    authority = PlatformAuthority.of(admin, tenant.id, services.apps.by_slug("admin").id)
    role = await services.access.create_role(
        authority, "auditors2", "Auditors", template="auditor", privileges=[], by=authority.actor
    )
    assert role.template_key == "auditor"
    department = await services.departments.create(authority, "Ops", None, by=authority.actor)
    assignment = await services.access.assign(
        authority,
        "auditors2",
        Subject(SubjectKind.DEPARTMENT, department.id),
        by=authority.actor,
    )
    assert assignment.granted_by == str(authority.actor)
    # Still decided by the checks: an unknown privilege is refused, whoever asks.
    with pytest.raises(InvalidInput, match="unknown privilege"):
        await services.access.change_role_privilege(
            authority, "auditors2", "no.such.privilege", grant=True, by=authority.actor
        )
    entries = await services.audit.search(tenant.id, action="role.assigned", limit=5)
    assert [e.actor for e in entries] == [str(authority.actor)]
