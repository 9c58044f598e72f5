"""Roles, assignments, departments and delegation through the services: expiry, cycles,
the context's privileges and their invalidation, subtree limits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tenantry.kit.errors import InsufficientPrivilege, InvalidInput, NotFound
from tests.access.support import department, person, subject, tenant_with_apps
from tests.support.wiring import FIXTURES, services_for


async def test_an_administrator_never_assigned_a_role_is_the_owner(db) -> None:
    tenant = await tenant_with_apps(db)
    owner = await person(db, tenant)
    held = await services_for(db).access.my_privileges(owner)
    assert {"roles.manage", "roles.assign", "delegation.grant"} <= held.tenant_wide
    # A user of another app holds nothing by default.
    user = await person(db, tenant, "thinktank")
    assert not (await services_for(db).access.my_privileges(user)).grants


async def test_expired_assignment_gives_nothing(db) -> None:
    services = services_for(db)
    tenant = await tenant_with_apps(db)
    owner = await person(db, tenant)
    user = await person(db, tenant, "thinktank")
    await services.access.create_role(
        owner, "reader", "Reader", template=None, privileges=["settings.read"], by=FIXTURES
    )
    soon = datetime.now(UTC) + timedelta(seconds=1)
    await services.access.assign(owner, "reader", subject(user), expires_at=soon, by=FIXTURES)
    assert "settings.read" in (await services.access.my_privileges(user)).tenant_wide
    await _sleep_until(soon)
    assert "settings.read" not in (await services.access.my_privileges(user)).tenant_wide


async def _sleep_until(moment: datetime) -> None:
    import asyncio

    await asyncio.sleep(max(0.0, (moment - datetime.now(UTC)).total_seconds()) + 0.2)


async def test_department_tree_refuses_cycles_and_moves_subtrees(db) -> None:
    services = services_for(db)
    tenant = await tenant_with_apps(db)
    owner = await person(db, tenant)
    root = await services.departments.create(owner, "Root", None, by=FIXTURES)
    a = await services.departments.create(owner, "A", root.id, by=FIXTURES)
    b = await services.departments.create(owner, "B", a.id, by=FIXTURES)
    other = await services.departments.create(owner, "Other", None, by=FIXTURES)
    with pytest.raises(InvalidInput, match="under itself"):
        await services.departments.update(owner, a.id, name="A", parent_id=b.id, by=FIXTURES)
    with pytest.raises(InvalidInput, match="under itself"):
        await services.departments.update(owner, a.id, name="A", parent_id=a.id, by=FIXTURES)
    await services.departments.update(owner, a.id, name="A", parent_id=other.id, by=FIXTURES)
    paths = {d.id: d.path for d in await services.departments.tree(owner)}
    assert paths[b.id] == (other.id, a.id, b.id)


async def test_department_role_reaches_members_of_sub_departments(db) -> None:
    services = services_for(db)
    tenant = await tenant_with_apps(db)
    owner = await person(db, tenant)
    user = await person(db, tenant, "thinktank")
    top = await services.departments.create(owner, "Top", None, by=FIXTURES)
    sub = await services.departments.create(owner, "Sub", top.id, by=FIXTURES)
    await services.departments.add_member(owner, sub.id, user.app_id, user.app_user_id, by=FIXTURES)
    await services.access.create_role(
        owner, "auditors", "Auditors", template="auditor", privileges=[], by=FIXTURES
    )
    await services.access.assign(owner, "auditors", department(top.id), by=FIXTURES)
    assert "audit.read" in (await services.access.my_privileges(user)).tenant_wide


async def test_context_shows_privileges_and_forgets_them_when_a_role_changes(db) -> None:
    services = services_for(db)
    tenant = await tenant_with_apps(db)
    owner = await person(db, tenant)
    user = await person(db, tenant, "thinktank")
    checks: list = []

    async def invalidate(scopes: list[str]) -> None:  # what the app's listener does
        for scope in scopes:
            services.context.invalidate(scope)

    db.commit_listeners.append(invalidate)
    try:
        assert (await services.context.load(user, checks))["privileges"] == []
        await services.access.create_role(
            owner, "reader", "Reader", template=None, privileges=[], by=FIXTURES
        )
        await services.access.assign(owner, "reader", subject(user), by=FIXTURES)
        assert (await services.context.load(user, checks))["privileges"] == []
        misses = services.context.misses
        await services.access.change_role_privilege(
            owner, "reader", "settings.read", grant=True, by=FIXTURES
        )
        assert (await services.context.load(user, checks))["privileges"] == ["settings.read"]
        assert services.context.misses == misses + 1
    finally:
        db.commit_listeners.remove(invalidate)


async def test_a_delegated_admin_stays_in_their_subtree(db) -> None:
    services = services_for(db)
    tenant = await tenant_with_apps(db)
    owner = await person(db, tenant)
    sales = await services.departments.create(owner, "Sales", None, by=FIXTURES)
    north = await services.departments.create(owner, "North", sales.id, by=FIXTURES)
    finance = await services.departments.create(owner, "Finance", None, by=FIXTURES)
    boss = await person(db, tenant)
    await services.departments.add_member(
        owner, sales.id, boss.app_id, boss.app_user_id, by=FIXTURES
    )
    inside = await person(db, tenant, "thinktank")
    outside = await person(db, tenant, "thinktank")
    await services.departments.add_member(
        owner, north.id, inside.app_id, inside.app_user_id, by=FIXTURES
    )
    await services.departments.add_member(
        owner, finance.id, outside.app_id, outside.app_user_id, by=FIXTURES
    )
    await services.access.delegate(owner, subject(boss), sales.id, by=FIXTURES)
    held = await services.access.my_privileges(boss)
    assert not held.tenant_wide  # no longer the implicit owner
    assert held.subtrees("roles.assign") == {sales.id}
    # Inside: a grant limited to the subtree, of privileges the admin holds there.
    await services.access.assign(
        boss, "admin", subject(inside), scope_department_id=north.id, by=FIXTURES
    )
    # Outside the subtree: as if the user did not exist.
    with pytest.raises(NotFound):
        await services.access.assign(
            boss, "admin", subject(outside), scope_department_id=north.id, by=FIXTURES
        )
    # Tenant-wide grants, and privileges not held there, are refused.
    with pytest.raises(InsufficientPrivilege):
        await services.access.assign(boss, "admin", subject(inside), by=FIXTURES)
    await services.access.create_role(
        owner, "managers", "Managers", template=None, privileges=["roles.manage"], by=FIXTURES
    )
    with pytest.raises(InsufficientPrivilege):
        await services.access.assign(
            boss, "managers", subject(inside), scope_department_id=north.id, by=FIXTURES
        )
    with pytest.raises(NotFound):
        await services.departments.create(boss, "Mine", finance.id, by=FIXTURES)
    with pytest.raises(InsufficientPrivilege):
        await services.access.create_role(
            boss, "mine", "Mine", template=None, privileges=[], by=FIXTURES
        )
    # Pulling an outsider into the subtree is refused too.
    with pytest.raises(NotFound):
        await services.departments.add_member(
            boss, north.id, outside.app_id, outside.app_user_id, by=FIXTURES
        )
