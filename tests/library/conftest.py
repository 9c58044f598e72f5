"""A database of the library tests' own: a clone of the template with the tests' module
(`tests/support/library.py`) migrated into it, so that its tables never reach the shared
database (whose every-table suite would find them without rows). The app over it serves the
module's router beside Tenantry's own."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from tenantry.kit import migrate
from tenantry.kit.db import Database
from tenantry.kit.metrics import Metrics
from tenantry.services import build_services
from tenantry.web import create_app
from tests.support.database import ROLES, clone, drop_database
from tests.support.http import client_for
from tests.support.library import libtest_module, write_module
from tests.support.wiring import api_settings, forget_services, register_services

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator
    from pathlib import Path

    import httpx
    from fastapi import FastAPI

    from tenantry.kit.modules import Module
    from tests.support.database import Urls


@pytest.fixture(scope="session")
def module_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_module(tmp_path_factory.mktemp("modules"))


@pytest.fixture(scope="session")
def module(module_folder: Path) -> Module:
    return libtest_module(module_folder)


@pytest.fixture(scope="session")
def library_urls(worker_name: str, module: Module) -> Iterator[Urls]:
    name = f"{worker_name}_library"
    urls = clone(name)
    with migrate.owner_transaction(urls.admin, ROLES) as connection:
        migrate.upgrade_module(connection, ROLES, module)
    yield urls
    drop_database(name)


@pytest.fixture(scope="session")
async def library_db(library_urls: Urls) -> AsyncIterator[Database]:
    database = Database(library_urls.runtime, library_urls.platform, min_size=1, max_size=4)
    async with database:
        services = build_services(api_settings(library_urls), database, Metrics())
        await services.apps.reload()
        register_services(database, services)
        yield database
        forget_services(database)


@pytest.fixture(scope="session")
async def library_app(
    library_urls: Urls, library_db: Database, module: Module
) -> AsyncIterator[FastAPI]:
    application = create_app(api_settings(library_urls), database=library_db, modules=(module,))
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def library_client(library_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(library_app) as c:
        yield c
