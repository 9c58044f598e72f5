"""One Citus database for the `citus` tests: migrated on the coordinator, distributed, with the
world the isolation suites attack (`tests/isolation/world.py`), and the fixtures those suites
take (`urls`, `signer`, `runtime`, `world`) pointing at it."""

from __future__ import annotations

from typing import TYPE_CHECKING

import psycopg
import pytest
from psycopg.rows import dict_row

from tenantry.citus import service
from tenantry.kit import migrate
from tenantry.kit.dsn import as_role
from tenantry.kit.metrics import Metrics
from tenantry.services import build_services
from tests.isolation.world import APPS, World
from tests.support.citus import citus_database, citus_url
from tests.support.database import ROLES, RUN, Urls, signer_for
from tests.support.wiring import (
    FIXTURES,
    api_settings,
    forget_services,
    register_services,
    services_for,
)

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator
    from uuid import UUID

    from tenantry.kit.context import ContextSigner
    from tenantry.kit.db import Database

URL = citus_url()


@pytest.fixture(scope="session")
def cluster() -> Iterator[tuple[Urls, service.Distribution]]:
    if URL is None:
        pytest.skip("no Citus cluster: run `make citus` or set TENANTRY_CITUS_URL")
    with citus_database(URL, f"{RUN}_citus") as admin:
        migrate.upgrade(admin, ROLES)
        done = service.distribute(admin, ROLES)
        yield Urls(admin, as_role(admin, ROLES.runtime), as_role(admin, ROLES.platform)), done


@pytest.fixture(scope="session")
def urls(cluster) -> Urls:
    return cluster[0]


@pytest.fixture
def signer(urls: Urls) -> ContextSigner:
    """Read afresh: a test here rotates the keys."""
    return signer_for(urls.admin)


@pytest.fixture(scope="session")
async def citus_db(urls: Urls) -> AsyncIterator[Database]:
    async with urls.database() as db:
        register_services(db, build_services(api_settings(urls), db, Metrics()))
        yield db
        forget_services(db)


@pytest.fixture(scope="session")
def db(citus_db: Database) -> Database:
    return citus_db


@pytest.fixture(scope="session")
async def world(citus_db: Database, urls: Urls) -> World:
    """Two tenants with two apps each, the same email in all four, as `tests/isolation` has
    them: provisioned and signed up through the services."""
    services = services_for(citus_db)
    tenants = []
    for name in ("a", "b"):
        tenant, apps = await services.tenant_admin.ensure_tenant(
            f"citus-{name}", f"Tenant {name.upper()}", "free", APPS, by=FIXTURES
        )
        tenants.append(tenant)
    app_1, app_2 = (apps[slug] for slug in APPS)
    created: dict[tuple[UUID, UUID], list[UUID]] = {}
    for tenant in tenants:
        for app in (app_1, app_2):
            created[(tenant.id, app.id)] = [
                (
                    await services.users.add(
                        tenant.id, app.id, email, password_hash=None, preferences={"theme": "dark"}
                    )
                ).id
                for email in ("same@example.com", f"{app.slug}@{tenant.slug}.test")
            ]
    return World(tenants[0].id, tenants[1].id, app_1.id, app_2.id, created)


@pytest.fixture
def runtime(urls: Urls) -> Iterator[psycopg.Connection[dict]]:  # type: ignore[type-arg]
    with psycopg.connect(urls.runtime, row_factory=dict_row) as conn:
        yield conn
