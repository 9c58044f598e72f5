"""Groups: roles assigned to a group reach its members (of any app) and stop on removal."""

from __future__ import annotations

import pytest

from tenantry.access.models import Subject, SubjectKind
from tenantry.kit.errors import Conflict, InsufficientPrivilege, NotFound
from tests.access.support import person, tenant_with_apps
from tests.support.wiring import FIXTURES, services_for


async def test_group_roles_apply_to_members_and_stop_on_removal(db) -> None:
    services = services_for(db)
    tenant = await tenant_with_apps(db)
    owner = await person(db, tenant)
    user = await person(db, tenant, "thinktank")
    other = await person(db, tenant, "thinktank")
    group = await services.groups.create(owner, "Auditors", by=FIXTURES)
    await services.access.create_role(
        owner, "auditors", "Auditors", template="auditor", privileges=[], by=FIXTURES
    )
    await services.access.assign(
        owner, "auditors", Subject(SubjectKind.GROUP, group.id), by=FIXTURES
    )
    await services.groups.add_member(owner, group.id, user.app_id, user.app_user_id, by=FIXTURES)
    assert "audit.read" in (await services.access.my_privileges(user)).tenant_wide
    assert "audit.read" not in (await services.access.my_privileges(other)).tenant_wide
    members = await services.groups.members(owner, group.id)
    assert [m["app_user_id"] for m in members] == [user.app_user_id]
    with pytest.raises(Conflict):
        await services.groups.delete(owner, group.id, by=FIXTURES)
    await services.groups.remove_member(owner, group.id, user.app_user_id, by=FIXTURES)
    assert "audit.read" not in (await services.access.my_privileges(user)).tenant_wide


async def test_group_members_come_from_several_apps(db) -> None:
    services = services_for(db)
    tenant = await tenant_with_apps(db)
    owner = await person(db, tenant)
    user = await person(db, tenant, "thinktank")
    admin_user = await person(db, tenant)
    group = await services.groups.create(owner, "Everyone", by=FIXTURES)
    await services.groups.add_member(owner, group.id, user.app_id, user.app_user_id, by=FIXTURES)
    await services.groups.add_member(
        owner, group.id, admin_user.app_id, admin_user.app_user_id, by=FIXTURES
    )
    assert len(await services.groups.members(owner, group.id)) == 2


async def test_groups_need_the_privilege_and_stay_in_their_tenant(db) -> None:
    services = services_for(db)
    tenant = await tenant_with_apps(db)
    other_tenant = await tenant_with_apps(db)
    owner = await person(db, tenant)
    stranger = await person(db, other_tenant)
    user = await person(db, tenant, "thinktank")
    group = await services.groups.create(owner, "Team", by=FIXTURES)
    with pytest.raises(InsufficientPrivilege):
        await services.groups.create(user, "Mine", by=FIXTURES)
    with pytest.raises(NotFound):
        await services.groups.members(stranger, group.id)
    with pytest.raises(NotFound):
        await services.groups.add_member(
            stranger, group.id, stranger.app_id, stranger.app_user_id, by=FIXTURES
        )
    # A user of another tenant cannot be put into a group.
    with pytest.raises(NotFound):
        await services.groups.add_member(
            owner, group.id, stranger.app_id, stranger.app_user_id, by=FIXTURES
        )
    await services.access.create_role(
        stranger, "readers", "Readers", template=None, privileges=[], by=FIXTURES
    )
    with pytest.raises(NotFound):
        await services.access.assign(
            stranger, "readers", Subject(SubjectKind.GROUP, group.id), by=FIXTURES
        )
    with pytest.raises(Conflict):
        await services.groups.create(owner, "Team", by=FIXTURES)
    await services.groups.delete(owner, group.id, by=FIXTURES)
    assert await services.groups.groups(owner) == []
