"""The runtime role cannot reach another tenant's roles nor grant what its user lacks; routes
answer a missing privilege with 403 on collections and 404 on objects."""

from __future__ import annotations

from uuid import UUID

import psycopg
import pytest
from psycopg.rows import dict_row

from tenantry.identity.principal import Credential, Principal, Scope
from tenantry.kit.context import TenantContext
from tenantry.kit.ids import uuid7
from tests.access.support import person, subject, tenant_with_apps
from tests.support.accounts import make_tenant, tenant_admin
from tests.support.wiring import FIXTURES, services_for


async def test_runtime_role_cannot_read_or_assign_across_tenants(db, urls, signer) -> None:
    services = services_for(db)
    mine, theirs = await tenant_with_apps(db), await tenant_with_apps(db)
    me, them = await person(db, mine), await person(db, theirs)
    await services.access.create_role(
        them, "secret", "Secret", template=None, privileges=["audit.read"], by=FIXTURES
    )
    their_role = (await services.access.roles(them))[0].id
    context = TenantContext(mine.id, me.app_id, me.app_user_id)
    with psycopg.connect(urls.runtime, row_factory=dict_row) as conn:
        conn.execute(
            "SELECT set_config('tenantry.context', %s, true)", [signer.sign_tenant(context)]
        )
        assert conn.execute("SELECT count(*) AS n FROM tenantry.roles").fetchone()["n"] == 0
        # Pointing an assignment of my tenant at their role: the composite key refuses it.
        with pytest.raises(psycopg.errors.ForeignKeyViolation):
            conn.execute(
                """INSERT INTO tenantry.role_assignments (tenant_id, id, role_id, subject_kind,
                          subject_id, subject_app_id, granted_by, granted_by_user)
                   VALUES (%s, %s, %s, 'user', %s, %s, 'attack', %s)""",
                [mine.id, uuid7(), their_role, me.app_user_id, me.app_id, me.app_user_id],
            )
        conn.rollback()
        conn.execute(
            "SELECT set_config('tenantry.context', %s, true)", [signer.sign_tenant(context)]
        )
        # Writing into their tenant: row-level security refuses it.
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(
                """INSERT INTO tenantry.roles (tenant_id, id, key, name)
                   VALUES (%s, %s, 'evil', 'Evil')""",
                [theirs.id, uuid7()],
            )
        conn.rollback()


async def test_sql_in_a_users_context_cannot_grant_what_the_user_lacks(db, urls, signer) -> None:
    services = services_for(db)
    tenant = await tenant_with_apps(db)
    owner = await person(db, tenant)
    user = await person(db, tenant, "thinktank")
    await services.access.create_role(
        owner, "auditors", "Auditors", template="auditor", privileges=[], by=FIXTURES
    )
    role_id = next(r.id for r in await services.access.roles(owner) if r.key == "auditors")
    context = TenantContext(tenant.id, user.app_id, user.app_user_id)
    with psycopg.connect(urls.runtime, row_factory=dict_row) as conn:
        conn.execute(
            "SELECT set_config('tenantry.context', %s, true)", [signer.sign_tenant(context)]
        )
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="does not hold"):
            conn.execute(
                """INSERT INTO tenantry.role_assignments (tenant_id, id, role_id, subject_kind,
                          subject_id, subject_app_id, granted_by, granted_by_user)
                   VALUES (%s, %s, %s, 'user', %s, %s, 'me', %s)""",
                [tenant.id, uuid7(), role_id, user.app_user_id, user.app_id, user.app_user_id],
            )
        conn.rollback()
    assert not (await services.access.my_privileges(user)).grants


async def test_missing_privilege_is_403_on_collections_and_404_on_objects(client, db) -> None:
    tenant = await make_tenant(db, "admin", "thinktank")
    owner = await tenant_admin(client, db, tenant, "owner@example.com")
    viewer = await tenant_admin(client, db, tenant, "viewer@example.com")
    services = services_for(db)
    await services.apps.reload()
    owner_principal = await _principal(services, tenant, owner)
    await services.access.assign(
        owner_principal,
        await _viewer_role(services, owner_principal),
        subject(await _principal(services, tenant, viewer)),
        by=FIXTURES,
    )
    listed = await client.get("/v1/apps/admin/roles", headers=viewer.auth)
    assert listed.status_code == 403, listed.text
    assert listed.json()["code"] == "insufficient_privilege"
    named = await client.delete(f"/v1/apps/admin/departments/{uuid7()}", headers=viewer.auth)
    assert named.status_code == 404, named.text
    # The owner reaches both; another tenant's department is simply not found.
    assert (await client.get("/v1/apps/admin/roles", headers=owner.auth)).status_code == 200
    other = await tenant_with_apps(db)
    their = await services.departments.create(await person(db, other), "X", None, by=FIXTURES)
    stolen = await client.delete(f"/v1/apps/admin/departments/{their.id}", headers=owner.auth)
    assert stolen.status_code == 404, stolen.text
    mine = await client.get("/v1/apps/admin/me/privileges", headers=viewer.auth)
    assert mine.json() == {"privileges": [], "department_privileges": {}}


async def _viewer_role(services, owner) -> str:
    await services.access.create_role(
        owner, "viewers", "Viewers", template="viewer", privileges=[], by=FIXTURES
    )
    return "viewers"


async def _principal(services, tenant, user) -> Principal:
    app = services.apps.by_slug("admin")
    return Principal(
        tenant_id=tenant.id,
        app_id=app.id,
        app_slug="admin",
        app_user_id=UUID(user.id),
        credential=Credential.ACCESS_TOKEN,
        scopes=frozenset({Scope.PROFILE, Scope.ADMIN}),
    )
