"""Test databases: one migrated template per run, one clone per xdist worker.

Tests talk to a real PostgreSQL: the embedded server under `.tenantry/test-pgdata` by default,
or any server given by `TENANTRY_TEST_DATABASE_URL` (a superuser URL; throw-away databases are
created on it). Roles use the `tenantry_test` prefix so a developer's install is never touched.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import fasteners
import psycopg
import pytest
from psycopg import sql

from tenantry.identity.principal import Actor
from tenantry.isolation.roles import Roles
from tenantry.kit import embedded, migrate
from tenantry.kit.config import Settings
from tenantry.kit.context import ContextSigner
from tenantry.kit.db import Database
from tenantry.kit.dsn import as_role, with_database
from tenantry.kit.metrics import Metrics
from tenantry.services import Services, build_services

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator

ROLES = Roles("tenantry_test")
# Database names; set TENANTRY_TEST_RUN to run two suites side by side on one server.
RUN = os.environ.get("TENANTRY_TEST_RUN", "tenantry_test")
TEMPLATE = f"{RUN}_template"
ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / ".tenantry" / "test-clone.lock"


def server_url() -> str:
    url = os.environ.get("TENANTRY_TEST_DATABASE_URL")
    if url:
        return url
    return embedded.running_url(ROOT / ".tenantry" / "test-pgdata") or embedded.start(
        ROOT / ".tenantry" / "test-pgdata"
    )


def recreate_database(server: str, name: str, template: str | None = None) -> str:
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        create = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template:
            create += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
        conn.execute(create)
    return with_database(server, name)


def pytest_configure(config: pytest.Config) -> None:
    # Only the controlling process builds the template; xdist workers clone it.
    if hasattr(config, "workerinput"):
        return
    server = server_url()
    os.environ["TENANTRY_TEST_SERVER_URL"] = server
    LOCK.parent.mkdir(exist_ok=True)
    with fasteners.InterProcessLock(str(LOCK)):
        migrate.upgrade(recreate_database(server, TEMPLATE), ROLES)


@dataclass(frozen=True)
class Urls:
    admin: str
    runtime: str
    platform: str


def clone(name: str) -> Urls:
    # Roles are cluster-wide: workers that alter them at once collide ("tuple concurrently
    # updated"), so clones are prepared one at a time.
    LOCK.parent.mkdir(exist_ok=True)
    with fasteners.InterProcessLock(str(LOCK)):
        admin = recreate_database(os.environ["TENANTRY_TEST_SERVER_URL"], name, TEMPLATE)
        # Database-level grants and per-database role settings are not copied from a template.
        migrate.upgrade(admin, ROLES)
    return Urls(admin, as_role(admin, ROLES.runtime), as_role(admin, ROLES.platform))


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
    with psycopg.connect(os.environ["TENANTRY_TEST_SERVER_URL"], autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


PASSWORD = "violet-harbour-lantern-93"
METRICS_TOKEN = "metrics-token-for-tests"
# Who the fixtures' changes are recorded as.
FIXTURES = Actor("tests", "fixture")


def api_settings(urls: Urls, **overrides: object) -> Settings:
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
    return Settings.model_validate(values)


_SERVICES: dict[int, Services] = {}


def services_for(db: Database) -> Services:
    """The services over a test database, wired as the app wires them: fixtures create
    tenants and users through them, never by writing rows themselves."""
    return _SERVICES[id(db)]


@pytest.fixture(scope="session")
async def db(urls: Urls) -> AsyncIterator[Database]:
    database = Database(urls.runtime, urls.platform, min_size=1, max_size=4)
    async with database:
        _SERVICES[id(database)] = build_services(api_settings(urls), database, Metrics())
        yield database
        del _SERVICES[id(database)]


def signer_for(admin_url: str, ttl: int = 300) -> ContextSigner:
    with psycopg.connect(admin_url) as conn:
        return ContextSigner(migrate.read_signing_key(conn), ttl)


@pytest.fixture(scope="session")
def signer(urls: Urls) -> ContextSigner:
    return signer_for(urls.admin)
