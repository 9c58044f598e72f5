"""Guests from another tenant: invited by the host, accepted from the home tenant as the invited
address, admitted only while both policies allow, capped by the host's guest_max_role,
suspended when either tenant withdraws and resumed when both agree again, and never crossing
tenants in the database."""

from __future__ import annotations

import psycopg
import pytest

from tenantry.access.models import (
    GuestInvitationClosed,
    GuestInvitationNotFound,
    Subject,
    SubjectKind,
)
from tenantry.identity.principal import Credential, Principal, Scope
from tenantry.identity.repository import users
from tenantry.kit.errors import Conflict, InsufficientPrivilege, InvalidInput
from tests.access.support import person, tenant_with_apps
from tests.support.accounts import latest_mail, transition
from tests.support.wiring import FIXTURES, services_for

OPEN = {"guests_in": True, "guests_out": True, "guest_apps": ["thinktank"], "by": FIXTURES}
SHUT = {"guests_in": False, "guests_out": False, "guest_apps": [], "by": FIXTURES}


async def _proven(db, tenant, app: str = "thinktank") -> tuple[Principal, str]:
    """A user whose address Tenantry has proven, as a request principal, and that address."""
    member = await person(db, tenant, app)
    async with db.platform_transaction() as tx:
        await users.mark_email_verified(tx, member.app_user_id, tenant.id, member.app_id)
        user = await users.get(tx, tenant.id, member.app_id, member.app_user_id)
    assert user is not None
    return member, user.email


async def _setup(db):
    services = services_for(db)
    host, home = await tenant_with_apps(db), await tenant_with_apps(db)
    host_owner, home_owner = await person(db, host), await person(db, home)
    guest_home, email = await _proven(db, home)
    group = await services.groups.create(host_owner, "Partners", by=FIXTURES)
    await services.access.create_role(
        host_owner, "auditors", "Auditors", template="auditor", privileges=[], by=FIXTURES
    )
    await services.access.assign(
        host_owner, "auditors", Subject(SubjectKind.GROUP, group.id), by=FIXTURES
    )
    return services, host, home, host_owner, home_owner, guest_home, email, group


async def _invite(services, db, host_owner, group, app_id, email) -> str:
    await services.guests.invite(host_owner, group.id, app_id, email, by=FIXTURES)
    return await latest_mail(db, email)


def _as(tenant_id, app_id, user_id) -> Principal:
    return Principal(
        tenant_id=tenant_id,
        app_id=app_id,
        app_slug="thinktank",
        app_user_id=user_id,
        credential=Credential.ACCESS_TOKEN,
        scopes=frozenset({Scope.PROFILE}),
    )


async def _status(db, tenant_id, app_id, user_id) -> str:
    async with db.platform_transaction() as tx:
        user = await users.get(tx, tenant_id, app_id, user_id)
    assert user is not None
    return user.status


async def test_a_guest_needs_both_policies(db) -> None:
    services, host, _home, host_owner, home_owner, guest_home, email, group = await _setup(db)
    app_id = guest_home.app_id
    with pytest.raises(InsufficientPrivilege):  # the host denies by default
        await services.guests.invite(host_owner, group.id, app_id, email, by=FIXTURES)
    await services.policies.set(host_owner, guest_max_role="auditor", **OPEN)
    code = await _invite(services, db, host_owner, group, app_id, email)
    with pytest.raises(InsufficientPrivilege):  # the home tenant does not let its users out
        await services.guests.accept(guest_home, code)
    await services.policies.set(home_owner, guest_max_role="viewer", **OPEN)
    host_id, guest_id = await services.guests.accept(guest_home, code)
    assert host_id == host.id
    guest = _as(host.id, app_id, guest_id)
    assert "audit.read" in (await services.access.my_privileges(guest)).tenant_wide
    listed = await services.guests.guests(host_owner)
    assert [(g.app_user_id, g.email, g.groups) for g in listed] == [(guest_id, email, ["Partners"])]


async def test_a_guests_roles_are_capped(db) -> None:
    services, host, _home, host_owner, home_owner, guest_home, email, group = await _setup(db)
    await services.policies.set(home_owner, guest_max_role="viewer", **OPEN)
    await services.policies.set(host_owner, guest_max_role="member", **OPEN)
    code = await _invite(services, db, host_owner, group, guest_home.app_id, email)
    _, guest_id = await services.guests.accept(guest_home, code)
    held = (await services.access.my_privileges(_as(host.id, guest_home.app_id, guest_id))).grants
    # The group gives the auditor template (audit.read, settings.read); member caps it.
    assert {g.privilege for g in held} == {"settings.read"}


async def test_an_invitation_is_single_use_and_bound_to_its_address(db) -> None:
    services, _host, home, host_owner, home_owner, guest_home, email, group = await _setup(db)
    await services.policies.set(home_owner, guest_max_role="viewer", **OPEN)
    await services.policies.set(host_owner, guest_max_role="viewer", **OPEN)
    app_id = guest_home.app_id
    code = await _invite(services, db, host_owner, group, app_id, email)
    someone_else, _ = await _proven(db, home)
    with pytest.raises(InvalidInput):  # a forwarded code is no use to another address
        await services.guests.accept(someone_else, code)
    unproven = await person(db, home, "thinktank")  # the address was never proven
    with pytest.raises(InvalidInput):
        await services.guests.accept(unproven, code)
    admin_app = await person(db, home)  # the same code from another app: no such invitation
    with pytest.raises(GuestInvitationNotFound):
        await services.guests.accept(admin_app, code)
    forged = code[:-6] + ("A" if code[-6] != "A" else "B") + code[-5:]
    with pytest.raises(GuestInvitationNotFound):
        await services.guests.accept(guest_home, forged)
    await services.guests.accept(guest_home, code)
    with pytest.raises(GuestInvitationClosed):
        await services.guests.accept(guest_home, code)
    # A revoked invitation is closed too.
    other, other_email = await _proven(db, home)
    revoked = await services.guests.invite(host_owner, group.id, app_id, other_email, by=FIXTURES)
    revoked_code = await latest_mail(db, other_email)
    await services.guests.revoke_invitation(host_owner, revoked.id, by=FIXTURES)
    with pytest.raises(GuestInvitationClosed):
        await services.guests.accept(other, revoked_code)


async def test_a_member_cannot_be_a_guest_of_their_own_tenant(db) -> None:
    services, host, _home, host_owner, _home_owner, _guest_home, _email, group = await _setup(db)
    await services.policies.set(host_owner, guest_max_role="viewer", **OPEN)
    insider, address = await _proven(db, host)
    code = await _invite(services, db, host_owner, group, insider.app_id, address)
    with pytest.raises(InvalidInput):
        await services.guests.accept(insider, code)


async def test_either_tenant_withdrawing_suspends_the_guest_until_both_agree(db) -> None:
    services, host, home, host_owner, home_owner, guest_home, email, group = await _setup(db)
    await services.policies.set(home_owner, guest_max_role="viewer", **OPEN)
    await services.policies.set(host_owner, guest_max_role="auditor", **OPEN)
    app_id = guest_home.app_id
    code = await _invite(services, db, host_owner, group, app_id, email)
    _, guest_id = await services.guests.accept(guest_home, code)

    # The home tenant stops letting its users out: the guest identity stops at once...
    await services.policies.set(home_owner, guest_max_role="viewer", **SHUT)
    assert await _status(db, host.id, app_id, guest_id) == "inactive"
    # ...and the host cannot overrule the home tenant.
    with pytest.raises(Conflict):
        await services.user_admin.reactivate(host_owner, "thinktank", guest_id, by=FIXTURES)
    await services.policies.set(home_owner, guest_max_role="viewer", **OPEN)
    assert await _status(db, host.id, app_id, guest_id) == "active"

    # The host stops admitting guests: the same.
    await services.policies.set(host_owner, guest_max_role="auditor", **SHUT)
    assert await _status(db, host.id, app_id, guest_id) == "inactive"
    await services.policies.set(host_owner, guest_max_role="auditor", **OPEN)
    assert await _status(db, host.id, app_id, guest_id) == "active"

    # The home identity deactivated, or its tenant suspended: the guest follows.
    await services.user_admin.deactivate(
        home_owner, "thinktank", guest_home.app_user_id, reason="left", by=FIXTURES
    )
    assert await _status(db, host.id, app_id, guest_id) == "inactive"
    await services.user_admin.reactivate(
        home_owner, "thinktank", guest_home.app_user_id, by=FIXTURES
    )
    assert await _status(db, host.id, app_id, guest_id) == "active"
    await transition(db, home, "suspend")
    assert await _status(db, host.id, app_id, guest_id) == "inactive"
    await transition(db, home, "resume")
    assert await _status(db, host.id, app_id, guest_id) == "active"

    # A guest the host removed stays removed whatever the policies do.
    await services.guests.remove(host_owner, guest_id, by=FIXTURES)
    await services.policies.set(home_owner, guest_max_role="viewer", **SHUT)
    await services.policies.set(home_owner, guest_max_role="viewer", **OPEN)
    assert await _status(db, host.id, app_id, guest_id) == "inactive"
    assert [(g.status, g.groups) for g in await services.guests.guests(host_owner)] == [
        ("inactive", [])
    ]


async def test_guest_contexts_never_cross_tenants(db) -> None:
    services, host, _home, host_owner, home_owner, guest_home, email, group = await _setup(db)
    await services.policies.set(home_owner, guest_max_role="viewer", **OPEN)
    await services.policies.set(host_owner, guest_max_role="auditor", **OPEN)
    code = await _invite(services, db, host_owner, group, guest_home.app_id, email)
    _, guest_id = await services.guests.accept(guest_home, code)
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
        assert await tx.fetch_all("SELECT tenant_id FROM tenantry.guests", []) == []
        assert await tx.fetch_all("SELECT tenant_id FROM tenantry.guest_invitations", []) == []
