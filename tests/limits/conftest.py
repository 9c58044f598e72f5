"""Apps with limits of their own, each over a database of its own (the governor a build sets
on its database must not reach the suites sharing `db`), and tenants on a chosen plan."""

from __future__ import annotations

import os
import socket
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Annotated, Any

import pytest
from fastapi import APIRouter

from tenantry.kit.db import Database
from tenantry.kit.ids import uuid7
from tenantry.library import Module, Scope, Scoped, TenantTransaction
from tenantry.web import create_app
from tests.support.accounts import Tenant
from tests.support.wiring import FIXTURES, api_settings, services_for

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from fastapi import FastAPI

    from tests.support.database import Urls

REDIS_URL = os.environ.get("TENANTRY_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")

router = APIRouter()


@router.get("/v1/apps/{app}/limits-test/sleep")
async def sleep(
    scoped: Annotated[Scoped, TenantTransaction(Scope.PROFILE, read_only=True)], seconds: float
) -> dict[str, Any]:
    """A request as heavy as its caller asks: one statement that takes `seconds`."""
    await scoped.tx.execute("SELECT pg_sleep(%s)", [seconds])
    return {"slept": seconds}


SLEEPER = Module("limits_test", routers=lambda: (router,))


@pytest.fixture
async def own_db(urls: Urls) -> AsyncIterator[Database]:
    database = Database(urls.runtime, urls.platform, min_size=1, max_size=4)
    async with database:
        yield database


@asynccontextmanager
async def serving(urls: Urls, database: Database, **settings: object) -> AsyncIterator[FastAPI]:
    """The product app over `database` with `settings`, plus the sleeper route, running."""
    app = create_app(api_settings(urls, **settings), database=database, modules=[SLEEPER])
    async with app.router.lifespan_context(app):
        yield app


async def tenant_on(db: Database, plan: str) -> Tenant:
    slug = f"t-{uuid7().hex[-10:]}"
    tenant, _ = await services_for(db).tenant_admin.ensure_tenant(
        slug, slug, plan, ["thinktank"], by=FIXTURES
    )
    return Tenant(tenant.id, slug)


def closed_port() -> int:
    """A loopback port nothing listens on (connections are refused at once)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def redis_url() -> str:
    """The tests' Redis (`TENANTRY_TEST_REDIS_URL`, else the local one): buckets are named by
    tenant ids, unique to each test, and expire on their own."""
    return REDIS_URL
