"""Tenants and users for tests: created through the services (`services_for(db)`) or, for a
user of an app, through the HTTP API as the user would; never by writing rows."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import jwt
import pyotp

from tenantry.identity import totp
from tenantry.identity.passwords import hash_password
from tenantry.kit.ids import uuid7
from tests.support.wiring import FIXTURES, PASSWORD, services_for

if TYPE_CHECKING:
    from uuid import UUID

    import httpx

    from tenantry.kit.db import Database


@dataclass(frozen=True)
class Tenant:
    id: UUID
    slug: str


async def make_tenant(db: Database, *app_slugs: str) -> Tenant:
    slug = f"t-{uuid7().hex[-10:]}"
    tenant, _ = await services_for(db).tenant_admin.ensure_tenant(
        slug, slug, "free", app_slugs, by=FIXTURES
    )
    return Tenant(tenant.id, slug)


async def transition(db: Database, tenant: Tenant, action: str) -> None:
    """Suspend or resume a tenant as an operator does. Every app over `db` drops the tenant
    from its cache when the change commits, so the next request sees the new status."""
    await services_for(db).tenant_admin.transition(
        tenant.slug, action, reason=f"tests: {action}", by=FIXTURES
    )


@dataclass
class User:
    app: str
    tenant: Tenant
    email: str
    password: str
    id: str = ""
    access: str = ""
    refresh: str = ""

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access}"}


async def signup(
    client: httpx.AsyncClient, app: str, tenant: Tenant, email: str, password: str = PASSWORD
) -> User:
    response = await client.post(
        f"/v1/apps/{app}/auth/signup",
        json={"tenant": tenant.slug, "email": email, "password": password},
    )
    # Sign-up answers the same whether or not the account existed; the id arrives with login.
    assert response.status_code == 202, response.text
    return User(app, tenant, email, password)


async def login(client: httpx.AsyncClient, user: User) -> httpx.Response:
    response = await client.post(
        f"/v1/apps/{user.app}/auth/login",
        json={"tenant": user.tenant.slug, "email": user.email, "password": user.password},
    )
    if response.status_code == 200:
        user.access = response.json()["access_token"]
        user.refresh = response.json()["refresh_token"]
        user.id = jwt.decode(user.access, options={"verify_signature": False})["sub"]
    return response


async def signed_in(
    client: httpx.AsyncClient, app: str, tenant: Tenant, email: str, password: str = PASSWORD
) -> User:
    user = await signup(client, app, tenant, email, password)
    response = await login(client, user)
    assert response.status_code == 200, response.text
    return user


async def tenant_admin(client: httpx.AsyncClient, db: Database, tenant: Tenant, email: str) -> User:
    """A user of the tenant's admin app, created as an operator does (no self sign-up)."""
    services = services_for(db)
    _, apps = await services.tenant_admin.ensure_tenant(
        tenant.slug, tenant.slug, "free", ["admin"], by=FIXTURES
    )
    created = await services.users.add(
        tenant.id, apps["admin"].id, email, password_hash=await hash_password(PASSWORD)
    )
    user = User("admin", tenant, email, PASSWORD, id=str(created.id))
    response = await login(client, user)
    assert response.status_code == 200, response.text
    return user


async def latest_mail(db: Database, to: str) -> str:
    """The one-time code in the newest mail to `to`."""
    async with db.platform_transaction() as tx:
        row = await tx.fetch_one(
            "SELECT body FROM tenantry.mail_outbox WHERE to_address = %s ORDER BY id DESC LIMIT 1",
            [to],
        )
    assert row is not None, f"no mail to {to}"
    return next(w for w in row["body"].split() if w.startswith("tenantry_ott_"))


def totp_next(secret: str) -> str:
    """The next time step's code, accepted as clock drift: a second sign-in within one
    30-second step cannot reuse the code that confirmed enrolment."""
    return pyotp.TOTP(secret).at(time.time() + totp.STEP_SECONDS)


async def grant(client, admin: User, user: User, privilege: str) -> None:
    """`admin`, the tenant's administrator, gives `user` `privilege` through a role of its own."""
    key = "r_" + os.urandom(4).hex()
    role = await client.post(
        "/v1/apps/admin/roles",
        headers=admin.auth,
        json={"key": key, "name": f"Holders of {privilege}", "privileges": [privilege]},
    )
    assert role.status_code == 201, role.text
    assigned = await client.post(
        "/v1/apps/admin/assignments",
        headers=admin.auth,
        json={"role": key, "subject": {"kind": "user", "id": user.id, "app": user.app}},
    )
    assert assigned.status_code == 201, assigned.text


async def holding(client, db: Database, tenant: Tenant, email: str, privilege: str) -> User:
    """A signed-in thinktank user of `tenant` holding `privilege`."""
    admin = await tenant_admin(client, db, tenant, f"grantor-{os.urandom(3).hex()}@example.com")
    user = await signed_in(client, "thinktank", tenant, email)
    await grant(client, admin, user, privilege)
    return user
