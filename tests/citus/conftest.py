"""One Citus database for the `citus` tests: migrated on the coordinator, distributed, with the
world the isolation suites attack (`tests/isolation/world.py`), and the fixtures those suites
take (`urls`, `signer`, `runtime`, `world`) pointing at it."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import pytest

from tenantry.citus import service
from tenantry.kit import migrate
from tenantry.kit.dsn import as_role
from tenantry.kit.metrics import Metrics
from tenantry.services import build_services
from tests.isolation.conftest import runtime  # noqa: F401 - the same fixture, on this cluster
from tests.isolation.world import World, build_world
from tests.support.citus import citus_database, citus_url
from tests.support.database import ROLES, RUN, Urls, signer_for
from tests.support.wiring import (
    api_settings,
    forget_services,
    register_services,
    services_for,
)

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator

    from tenantry.kit.context import ContextSigner
    from tenantry.kit.db import Database

URL = citus_url()


@pytest.fixture(scope="session")
def cluster() -> Iterator[tuple[Urls, service.Distribution]]:
    if URL is None:
        pytest.skip("no Citus cluster: run `make citus` or set TENANTRY_CITUS_URL")
    # One database per test process: `pytest -n` runs a session in each.
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    with citus_database(URL, f"{RUN}_citus_{worker}") as admin:
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
async def world(citus_db: Database) -> World:
    return await build_world(services_for(citus_db), ("citus-a", "citus-b"))
