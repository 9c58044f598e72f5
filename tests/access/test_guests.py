"""Guests from another tenant: admitted only when both policies allow, capped by the host's
guest_max_role, stopped at once when the host turns guests off, and never crossing tenants
in the database."""

from __future__ import annotations

import psycopg
import pytest

from tenantry.access.models import Subject, SubjectKind
from tenantry.identity.principal import Credential, Principal, Scope
from tenantry.kit.errors import InsufficientPrivilege
from tests.access.support import person, tenant_with_apps
from tests.support.wiring import FIXTURES, services_for

OPEN = {"guests_in": True, "guests_out": True, "guest_apps": ["thinktank"], "by": FIXTURES}


async def _setup(db):
    services = services_for(db)
    host, home = await tenant_with_apps(db), await tenant_with_apps(db)
    host_owner, home_owner = await person(db, host), await person(db, home)
    guest_home = await person(db, home, "thinktank")
    group = await services.groups.create(host_owner, "Partners", by=FIXTURES)
    await services.access.create_role(
        host_owner, "auditors", "Auditors", template="auditor", privileges=[], by=FIXTURES
    )
    await services.access.assign(
        host_owner, "auditors", Subject(SubjectKind.GROUP, group.id), by=FIXTURES
    )
    return services, host, host_owner, home_owner, guest_home, group


def _as(tenant_id, app_id, user_id) -> Principal:
    return Principal(
        tenant_id=tenant_id,
        app_id=app_id,
        app_slug="thinktank",
        app_user_id=user_id,
        credential=Credential.ACCESS_TOKEN,
        scopes=frozenset({Scope.PROFILE}),
    )


async def test_a_guest_needs_both_policies(db) -> None:
    services, _host, host_owner, home_owner, guest_home, group = await _setup(db)
    email = "partner@example.com"
    with pytest.raises(InsufficientPrivilege):  # both deny by default
        await services.guests.admit(host_owner, group.id, guest_home, email, by=FIXTURES)
    await services.policies.set(host_owner, guest_max_role="auditor", **OPEN)
    with pytest.raises(InsufficientPrivilege):  # the home tenant does not let its users out
        await services.guests.admit(host_owner, group.id, guest_home, email, by=FIXTURES)
    await services.policies.set(home_owner, guest_max_role="viewer", **OPEN)
    await services.policies.set(
        host_owner, guests_in=False, guests_out=False, guest_apps=[], guest_max_role="auditor",
        by=FIXTURES,
    )  # fmt: skip
    with pytest.raises(InsufficientPrivilege):  # the host does not let guests in
        await services.guests.admit(host_owner, group.id, guest_home, email, by=FIXTURES)
    await services.policies.set(host_owner, guest_max_role="auditor", **OPEN)
    guest_id = await services.guests.admit(host_owner, group.id, guest_home, email, by=FIXTURES)
    guest = _as(host_owner.tenant_id, guest_home.app_id, guest_id)
    assert "audit.read" in (await services.access.my_privileges(guest)).tenant_wide
    # The host turns guests off: the guest holds nothing, at once.
    await services.policies.set(
        host_owner, guests_in=False, guests_out=True, guest_apps=["thinktank"],
        guest_max_role="auditor", by=FIXTURES,
    )  # fmt: skip
    assert not (await services.access.my_privileges(guest)).grants


async def test_a_guests_roles_are_capped(db) -> None:
    services, _host, host_owner, home_owner, guest_home, group = await _setup(db)
    await services.policies.set(home_owner, guest_max_role="viewer", **OPEN)
    await services.policies.set(host_owner, guest_max_role="member", **OPEN)
    guest_id = await services.guests.admit(
        host_owner, group.id, guest_home, "capped@example.com", by=FIXTURES
    )
    guest = _as(host_owner.tenant_id, guest_home.app_id, guest_id)
    held = (await services.access.my_privileges(guest)).tenant_wide
    # The group gives the auditor template (audit.read, settings.read); member caps it.
    assert held == {"settings.read"}


async def test_guest_contexts_never_cross_tenants(db) -> None:
    services, host, host_owner, home_owner, guest_home, group = await _setup(db)
    await services.policies.set(home_owner, guest_max_role="viewer", **OPEN)
    await services.policies.set(host_owner, guest_max_role="auditor", **OPEN)
    guest_id = await services.guests.admit(
        host_owner, group.id, guest_home, "cross@example.com", by=FIXTURES
    )
    guest = _as(host.id, guest_home.app_id, guest_id)
    async with services.db.tenant_transaction(guest.context) as tx:
        seen = await tx.fetch_all("SELECT DISTINCT tenant_id FROM tenantry.app_users", [])
        assert {r["tenant_id"] for r in seen} == {host.id}
    # The link to the home identity is not readable by the runtime role at all.
    for context in (guest.context, guest_home.context):
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            async with services.db.tenant_transaction(context) as tx:
                await tx.fetch_all("SELECT * FROM tenantry.guest_links", [])
    async with services.db.tenant_transaction(guest_home.context) as tx:
        seen = await tx.fetch_all("SELECT DISTINCT tenant_id FROM tenantry.app_users", [])
        assert {r["tenant_id"] for r in seen} == {guest_home.tenant_id}
        rows = await tx.fetch_all("SELECT tenant_id FROM tenantry.guests", [])
        assert rows == []
