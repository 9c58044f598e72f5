"""Fixtures every folder shares: the worker's database, the API app and its client, a tenant,
and the control app (operators' tenant, DNS stub) with its client and a platform administrator.

Two apps over one database, so each suite keeps the settings it was written for: `app` and
`client` use the defaults; `control_app` and `control_client` name the operators' tenant
(`PLATFORM`) and resolve domains through the loopback DNS stub. Helpers that are not fixtures
live in `tests/support/`.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import pytest

from tenantry.identity.passwords import hash_password
from tenantry.kit.db import Database
from tenantry.kit.metrics import Metrics
from tenantry.services import build_services
from tenantry.tenants.domains import DnsTxtResolver
from tenantry.web import create_app
from tests.support import pgbouncer
from tests.support.accounts import Tenant, User, login, make_tenant, tenant_admin
from tests.support.database import RUN, build_template, clone, drop_database, signer_for
from tests.support.dns import DnsStub
from tests.support.http import client_for
from tests.support.wiring import (
    FIXTURES,
    PASSWORD,
    PLATFORM,
    api_settings,
    forget_services,
    register_services,
)

POOLER = pytest.StashKey["Path | None"]()

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator

    import httpx
    from fastapi import FastAPI

    from tenantry.kit.context import ContextSigner
    from tests.support.database import Urls


def pytest_configure(config: pytest.Config) -> None:
    # Only the controlling process builds the template (and starts PgBouncer, if asked);
    # xdist workers clone it.
    if not hasattr(config, "workerinput"):
        config.stash[POOLER] = build_template()


def pytest_unconfigure(config: pytest.Config) -> None:
    folder = config.stash.get(POOLER, None)
    if folder is not None:
        pgbouncer.stop(folder)


# The database ---------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def worker_name(worker_id: str) -> str:
    return f"{RUN}_{worker_id}"


@pytest.fixture(scope="session")
def urls(worker_name: str) -> Urls:
    return clone(worker_name)


@pytest.fixture
def scratch_urls(worker_name: str) -> Iterator[Urls]:
    """A fresh database for tests that change keys or the schema for real."""
    name = f"{worker_name}_scratch"
    yield clone(name)
    drop_database(name)


@pytest.fixture(scope="session")
async def db(urls: Urls) -> AsyncIterator[Database]:
    database = urls.database(min_size=1, max_size=4)
    async with database:
        register_services(database, build_services(api_settings(urls), database, Metrics()))
        yield database
        forget_services(database)


@pytest.fixture(scope="session")
def signer(urls: Urls) -> ContextSigner:
    return signer_for(urls.admin)


# The API app ----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
async def app(urls: Urls, db: Database) -> AsyncIterator[FastAPI]:
    application = create_app(api_settings(urls), database=db)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(app) as c:
        yield c


@pytest.fixture
async def tenant(db: Database) -> Tenant:
    return await make_tenant(db, "thinktank", "launchboard", "admin")


@pytest.fixture
async def admin(client: httpx.AsyncClient, db: Database, tenant: Tenant) -> User:
    """The `tenant`'s administrator (a user of its admin app), signed in through `client`."""
    return await tenant_admin(client, db, tenant, "root@example.com")


# The control app: operators' tenant, domains ----------------------------------------------------


@pytest.fixture(scope="session")
def dns_stub() -> Iterator[DnsStub]:
    stub = DnsStub()
    yield stub
    stub.close()


@pytest.fixture(scope="session")
async def control_app(urls: Urls, db: Database, dns_stub: DnsStub) -> AsyncIterator[FastAPI]:
    application = create_app(
        api_settings(urls, platform_tenant=PLATFORM),
        database=db,
        resolver=DnsTxtResolver([dns_stub.address]),
    )
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def control_client(control_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(control_app) as c:
        yield c


OPERATOR_TOKEN_REFRESH_SECONDS = 600


@pytest.fixture(scope="session")
async def operator_account(control_app: FastAPI, db: Database) -> tuple[User, list[float]]:
    """A platform administrator (a user of the admin app in the operators' tenant), signed
    in, and when."""
    services = control_app.state.services
    admin = await services.tenant_admin.add_platform_admin(
        "ops@example.com", await hash_password(PASSWORD), by=FIXTURES, exist_ok=True
    )
    user = User("admin", Tenant(admin.tenant_id, PLATFORM), "ops@example.com", PASSWORD)
    async with client_for(control_app) as c:
        assert (await login(c, user)).status_code == 200
    return user, [time.monotonic()]


@pytest.fixture
async def operator(control_app: FastAPI, operator_account: tuple[User, list[float]]) -> User:
    """The platform administrator, signed in again once its access token (15 minutes in
    tests) is ten minutes old: a long run outlives it."""
    user, signed = operator_account
    if time.monotonic() - signed[0] > OPERATOR_TOKEN_REFRESH_SECONDS:
        async with client_for(control_app) as c:
            assert (await login(c, user)).status_code == 200
        signed[0] = time.monotonic()
    return user
