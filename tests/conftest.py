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

from tenantry.isolation.roles import Roles
from tenantry.kit import embedded, migrate
from tenantry.kit.context import ContextSigner
from tenantry.kit.db import Database
from tenantry.kit.dsn import as_role, with_database

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator

ROLES = Roles("tenantry_test")
TEMPLATE = "tenantry_test_template"
ROOT = Path(__file__).resolve().parent.parent


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
    migrate.upgrade(recreate_database(server, TEMPLATE), ROLES)


@dataclass(frozen=True)
class Urls:
    admin: str
    runtime: str
    platform: str


def clone(name: str) -> Urls:
    # Roles are cluster-wide: workers that alter them at once collide ("tuple concurrently
    # updated"), so clones are prepared one at a time.
    (ROOT / ".tenantry").mkdir(exist_ok=True)
    with fasteners.InterProcessLock(str(ROOT / ".tenantry" / "test-clone.lock")):
        admin = recreate_database(os.environ["TENANTRY_TEST_SERVER_URL"], name, TEMPLATE)
        # Database-level grants and per-database role settings are not copied from a template.
        migrate.upgrade(admin, ROLES)
    return Urls(admin, as_role(admin, ROLES.runtime), as_role(admin, ROLES.platform))


@pytest.fixture(scope="session")
def worker_name(worker_id: str) -> str:
    return f"tenantry_test_{worker_id}"


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


@pytest.fixture(scope="session")
async def db(urls: Urls) -> AsyncIterator[Database]:
    database = Database(urls.runtime, urls.platform, min_size=1, max_size=4)
    async with database:
        yield database


def signer_for(admin_url: str, ttl: int = 300) -> ContextSigner:
    with psycopg.connect(admin_url) as conn:
        return ContextSigner(migrate.read_signing_key(conn), ttl)


@pytest.fixture(scope="session")
def signer(urls: Urls) -> ContextSigner:
    return signer_for(urls.admin)
