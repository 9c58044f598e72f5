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

from tenantry.apps import repository as apps_repo
from tenantry.identity import totp
from tenantry.kit.config import Settings
from tenantry.kit.db import Database
from tenantry.kit.ids import uuid7
from tenantry.tenants import repository as tenants_repo
from tenantry.web import create_app
from tests.conftest import ROLES

PASSWORD = "violet-harbour-lantern-93"
METRICS_TOKEN = "metrics-token-for-tests"
_ips = itertools.count(1)


def api_settings(urls, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "database_url": urls.admin,
        "role_prefix": ROLES.prefix,
        "public_url": "http://testserver",
        "login_free_failures": 3,
        "login_lockout_failures": 6,
        "login_lockout_seconds": 60,
        # The tests' OIDC issuer serves its keys over http on loopback.
        "external_issuers_allow_private": True,
        "metrics_token": METRICS_TOKEN,
        **overrides,
    }
    return Settings(**values)  # type: ignore[arg-type]


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
    async with db.platform_transaction() as tx:
        tenant = await tenants_repo.create(tx, slug=slug, name=slug, status="active", plan="free")
        for app_slug in app_slugs:
            app = await apps_repo.get_by_slug(tx, app_slug)
            assert app is not None
            await tenants_repo.enable_app(tx, tenant.id, app.id)
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
    """A user of the tenant's admin app, created as provisioning does (no self sign-up)."""
    from tenantry.identity import repository as users
    from tenantry.identity.passwords import hash_password

    async with db.platform_transaction() as tx:
        admin_app = await apps_repo.get_by_slug(tx, "admin")
        assert admin_app is not None
        await tenants_repo.enable_app(tx, tenant.id, admin_app.id)
        created = await users.create(
            tx, tenant.id, admin_app.id, email, password_hash=await hash_password(PASSWORD)
        )
    user = User("admin", tenant, email, PASSWORD, id=str(created.id))
    response = await login(client, user)
    assert response.status_code == 200, response.text
    return user
