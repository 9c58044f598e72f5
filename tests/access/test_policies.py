"""Tenant policies towards guests: the defaults deny, only a tenant-wide holder of
policies.manage or roles.manage writes them, and each tenant sees only its own."""

from __future__ import annotations

import pytest

from tenantry.access.models import TenantPolicy
from tenantry.kit.errors import InsufficientPrivilege, InvalidInput
from tests.access.support import person, subject, tenant_with_apps
from tests.support.wiring import FIXTURES, services_for


async def test_policies_deny_by_default(db) -> None:
    services = services_for(db)
    tenant = await tenant_with_apps(db)
    owner = await person(db, tenant)
    policy = await services.policies.get(owner)
    assert policy == TenantPolicy()
    thinktank = services.apps.by_slug("thinktank").id
    assert not policy.admits(thinktank)
    assert not policy.lets_out(thinktank)
    assert policy.guest_max_role == "viewer"


async def test_policy_is_written_by_its_tenant_only(db) -> None:
    services = services_for(db)
    tenant = await tenant_with_apps(db)
    other = await tenant_with_apps(db)
    owner = await person(db, tenant)
    stranger = await person(db, other)
    written = await services.policies.set(
        owner,
        guests_in=True,
        guests_out=False,
        guest_apps=["thinktank"],
        guest_max_role="member",
        by=FIXTURES,
    )
    thinktank = services.apps.by_slug("thinktank").id
    assert written.admits(thinktank)
    assert not written.lets_out(thinktank)
    assert await services.policies.get(owner) == written
    # The other tenant still has the defaults.
    assert await services.policies.get(stranger) == TenantPolicy()
    # Switched off again: denied at once.
    await services.policies.set(
        owner, guests_in=False, guests_out=False, guest_apps=[], guest_max_role="viewer",
        by=FIXTURES,
    )  # fmt: skip
    assert not (await services.policies.get(owner)).admits(thinktank)


async def test_policy_needs_the_privilege_and_refuses_bad_input(db) -> None:
    services = services_for(db)
    tenant = await tenant_with_apps(db)
    owner = await person(db, tenant)
    admin = await person(db, tenant)
    await services.access.create_role(
        owner, "admins", "Admins", template="admin", privileges=[], by=FIXTURES
    )
    await services.access.assign(owner, "admins", subject(admin), by=FIXTURES)
    user = await person(db, tenant, "thinktank")
    allowed = {"guests_in": True, "guests_out": True, "guest_max_role": "viewer", "by": FIXTURES}
    for refused in (user, admin):  # administrators without roles.manage neither
        with pytest.raises(InsufficientPrivilege):
            await services.policies.set(refused, guest_apps=["thinktank"], **allowed)
    with pytest.raises(InvalidInput):
        await services.policies.set(owner, guest_apps=["admin"], **allowed)
    with pytest.raises(InvalidInput):
        await services.policies.set(owner, guest_apps=["nosuchapp"], **allowed)
    with pytest.raises(InvalidInput):
        await services.policies.set(
            owner, guests_in=True, guests_out=True, guest_apps=[], guest_max_role="owner",
            by=FIXTURES,
        )  # fmt: skip
