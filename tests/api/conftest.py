"""The HTTP API over ASGI, sharing the worker's database pool, with real tenants and users."""

from __future__ import annotations

import itertools
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from uuid import UUID

import httpx
import jwt
import pyotp
import pytest
from fastapi import FastAPI

from tenantry.identity import totp
from tenantry.identity.passwords import hash_password
from tenantry.kit.db import Database
from tenantry.kit.ids import uuid7
from tenantry.web import create_app
from tests.conftest import FIXTURES, METRICS_TOKEN, PASSWORD, api_settings, services_for

__all__ = ["METRICS_TOKEN", "PASSWORD", "api_settings"]  # shared with the other suites

_ips = itertools.count(1)


@pytest.fixture(scope="session")
async def app(urls, db: Database) -> AsyncIterator[FastAPI]:
    application = create_app(api_settings(urls), database=db)
    async with application.router.lifespan_context(application):
        yield application


def client_for(app: FastAPI, host: str = "testserver") -> httpx.AsyncClient:
    # Each client has its own address, so per-address login throttling of one test does not
    # spill into another.
    n = next(_ips)
    transport = httpx.ASGITransport(app=app, client=(f"10.9.{n // 250}.{n % 250 + 1}", 40000))
    return httpx.AsyncClient(transport=transport, base_url=f"http://{host}")


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(app) as c:
        yield c


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


async def set_status(app: FastAPI, db: Database, tenant: Tenant, status: str) -> None:
    """Change a tenant's status directly, and tell the app's tenant cache."""
    async with db.platform_transaction() as tx:
        await tx.execute(
            "UPDATE tenantry.tenants SET status = %s WHERE id = %s", [status, tenant.id]
        )
    app.state.services.tenants.invalidate_scope(str(tenant.id))


@pytest.fixture
async def tenant(db: Database) -> Tenant:
    return await make_tenant(db, "thinktank", "launchboard", "admin")


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


async def latest_mail(db: Database, to: str) -> str:
    async with db.platform_transaction() as tx:
        row = await tx.fetch_one(
            "SELECT body FROM tenantry.mail_outbox WHERE to_address = %s ORDER BY id DESC LIMIT 1",
            [to],
        )
    assert row is not None, f"no mail to {to}"
    return next(w for w in row["body"].split() if w.startswith("tenantry_ott_"))


def totp_now(secret: str) -> str:
    return pyotp.TOTP(secret).now()


def totp_next(secret: str) -> str:
    """The next time step's code, accepted as clock drift: a second sign-in within one
    30-second step cannot reuse the code that confirmed enrolment."""
    return pyotp.TOTP(secret).at(time.time() + totp.STEP_SECONDS)


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
