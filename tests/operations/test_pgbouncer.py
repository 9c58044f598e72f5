"""Tenantry behind a real PgBouncer in transaction mode (docs/operations.md).

Each test here starts a PgBouncer of its own in front of the test database. The whole
isolation suite and the API flow also run through one: `TENANTRY_TEST_PGBOUNCER=1` (a step of
`make test`)."""

from __future__ import annotations

import asyncio
import os
import random
import sys
import time
from typing import TYPE_CHECKING

import httpx
import psycopg
import pytest
from psycopg import conninfo

from tenantry.kit.context import TenantContext
from tenantry.kit.db import Database
from tenantry.kit.errors import ConfigurationError
from tenantry.web import create_app
from tests.support import pgbouncer
from tests.support.accounts import login, make_tenant, signed_in
from tests.support.database import ROLES, SERVER_URL
from tests.support.http import client_for
from tests.support.live import free_port
from tests.support.wiring import api_settings

if TYPE_CHECKING:
    from collections.abc import Iterator


@pytest.fixture(scope="module")
def bouncer() -> Iterator[str]:
    """PgBouncer with two server connections per role, so that clients share them."""
    address, folder = pgbouncer.start(
        os.environ[SERVER_URL], [ROLES.runtime, ROLES.platform], pool_size=2
    )
    yield address
    pgbouncer.stop(folder)


async def test_interleaved_tenants_through_pgbouncer_see_only_their_own(
    client, db, urls, bouncer
) -> None:
    tenants = [await make_tenant(db, "thinktank") for _ in range(3)]
    users = {
        t.id: {(await signed_in(client, "thinktank", t, f"u{n}@example.com")).id for n in range(2)}
        for t in tenants
    }
    through = urls.through(bouncer)
    rng = random.Random(3)
    # Eight client connections over two server connections: every transaction lands on a
    # server connection that another tenant's transaction used just before.
    async with through.database(min_size=8, max_size=8) as pooled_db:
        app = await _thinktank(pooled_db)

        async def one(i: int) -> None:
            tenant = rng.choice(tenants)
            async with pooled_db.tenant_transaction(TenantContext(tenant.id, app)) as tx:
                await asyncio.sleep(0)
                rows = await tx.fetch_all("SELECT tenant_id, id FROM tenantry.app_users")
            assert {r["tenant_id"] for r in rows} == {tenant.id}, i
            assert {str(r["id"]) for r in rows} == {str(u) for u in users[tenant.id]}, i

        await asyncio.gather(*(one(i) for i in range(400)))


async def test_prepared_statements_must_be_off_behind_pgbouncer(db, urls, bouncer) -> None:
    """Why `TENANTRY_POOLER=pgbouncer` exists: psycopg prepares a statement on its fifth run,
    on one server connection, and PgBouncer 1.18 sends the next run to another one."""
    through = urls.through(bouncer)
    tenant = await make_tenant(db, "thinktank")

    async def run_many(database: Database) -> list[BaseException | None]:
        async with database:
            app = await _thinktank(database)

            async def one() -> None:
                async with database.tenant_transaction(TenantContext(tenant.id, app)) as tx:
                    await tx.fetch_all(
                        "SELECT id FROM tenantry.app_users WHERE tenant_id = %s", [tenant.id]
                    )
                    await asyncio.sleep(0)

            return await asyncio.gather(*(one() for _ in range(200)), return_exceptions=True)

    without = await run_many(through.database(min_size=6, max_size=6))
    assert [e for e in without if e is not None] == []
    prepared = Database(through.runtime, through.platform, min_size=6, max_size=6)
    failures = [e for e in await run_many(prepared) if e is not None]
    assert failures, "prepared statements through transaction pooling should have failed"
    assert all(isinstance(e, psycopg.Error) for e in failures)


async def test_a_context_left_in_a_session_never_reaches_the_next_client(
    client, db, urls, signer
) -> None:
    """A statement can store a context at session level (`set_config(…, false)`), which its
    commit keeps. With the documented `DISCARD ALL` after every transaction, the next client of
    that server connection starts clean; without it, PgBouncer hands the context over."""
    tenant = await make_tenant(db, "thinktank")
    await signed_in(client, "thinktank", tenant, "kept@example.com")
    app = await _thinktank(db)
    token = signer.sign_tenant(TenantContext(tenant.id, app))
    seen = {}
    for reset in (True, False):
        address, folder = pgbouncer.start(
            os.environ[SERVER_URL], [ROLES.runtime], reset=reset, pool_size=1
        )
        try:
            url = pgbouncer.through(urls.runtime, address)
            with psycopg.connect(url, autocommit=True) as planter, planter.transaction():
                planter.execute("SELECT set_config('tenantry.context', %s, true)", [token])
                planter.execute(
                    "SELECT set_config('tenantry.context', current_setting('tenantry.context'), false)"
                )
            with psycopg.connect(url, autocommit=True) as other:
                seen[reset] = other.execute("SELECT count(*) FROM tenantry.app_users").fetchone()[0]
        finally:
            pgbouncer.stop(folder)
    assert seen[True] == 0
    assert seen[False] >= 1  # the misconfiguration the documented settings prevent


async def test_the_api_behind_pgbouncer(db, urls, bouncer) -> None:
    app = create_app(api_settings(urls.through(bouncer)))
    tenant = await make_tenant(db, "thinktank")
    async with app.router.lifespan_context(app), client_for(app) as api:
        assert (await api.get("/readyz")).status_code == 200
        user = await signed_in(api, "thinktank", tenant, "a@example.com")
        for _ in range(6):  # past psycopg's prepare threshold
            assert (await login(api, user)).status_code == 200


def test_behind_a_pooler_the_listener_needs_a_session_of_its_own(urls, bouncer) -> None:
    settings = api_settings(urls.through(bouncer)).model_copy(update={"listen_database_url": ""})
    app = create_app(settings)

    async def start() -> None:
        async with app.router.lifespan_context(app):
            pass

    with pytest.raises(ConfigurationError, match="TENANTRY_LISTEN_DATABASE_URL"):
        asyncio.run(start())


async def test_tenantry_serve_with_database_url_at_pgbouncer(db, urls, bouncer) -> None:
    """The documented deployment: `tenantry serve --database-url` naming PgBouncer."""
    target = conninfo.conninfo_to_dict(pgbouncer.through(urls.admin, bouncer))
    at_pgbouncer = f"host={target['host']} port={target['port']} dbname={target['dbname']}"
    port = free_port()
    env = {
        **os.environ,
        "TENANTRY_ROLE_PREFIX": ROLES.prefix,
        "TENANTRY_POOLER": "pgbouncer",
        "TENANTRY_LISTEN_DATABASE_URL": urls.platform,
        "TENANTRY_PUBLIC_URL": f"http://127.0.0.1:{port}",
    }
    env.pop("TENANTRY_DATABASE_URL", None)
    command = ["serve", "--database-url", at_pgbouncer, "--port", str(port), "--workers", "1"]
    server = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tenantry.cli",
        *command,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    tenant = await make_tenant(db, "thinktank")
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as api:
            deadline = time.monotonic() + 30
            while True:
                if server.returncode is not None:
                    pytest.fail(await server.stderr.read() if server.stderr else b"")
                try:
                    ready = await api.get("/readyz")
                    break
                except httpx.TransportError:
                    assert time.monotonic() < deadline, "tenantry serve did not start"
                    await asyncio.sleep(0.2)
            assert ready.status_code == 200, ready.text
            user = await signed_in(api, "thinktank", tenant, "served@example.com")
            for _ in range(6):
                assert (await login(api, user)).status_code == 200
    finally:
        server.terminate()
        await asyncio.wait_for(server.wait(), 15)


async def _thinktank(database: Database):
    async with database.platform_transaction() as tx:
        row = await tx.fetch_one("SELECT id FROM tenantry.apps WHERE slug = 'thinktank'")
    assert row is not None
    return row["id"]
