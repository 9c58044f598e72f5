"""Faults under load, on a PostgreSQL server of the test's own (stopping the shared one would
fail every other test): a 30-second outage answers 503 problems with Retry-After within 2 s,
the service recovers within 5 s of the server's return, and no acknowledged write is lost (a
client-side ledger of every 201). Redis stopping loses no invalidation: the listener hears
PostgreSQL too."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import psycopg
import pytest

from tenantry.kit import embedded, migrate
from tenantry.kit.dsn import as_role, with_database
from tenantry.web import create_app
from tests.support import pgbouncer
from tests.support.accounts import Tenant, login, signed_in
from tests.support.database import ROLES, ROOT, Urls
from tests.support.http import client_for
from tests.support.live import free_port
from tests.support.wiring import FIXTURES, api_settings

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator

    from fastapi import FastAPI

OUTAGE_SECONDS = 30
# What a request may take while the database is away (the service's default wait is 1.5 s).
ANSWER_WITHIN_SECONDS = 2.0
RECOVER_WITHIN_SECONDS = 5.0


@pytest.fixture(scope="module")
def own_server() -> Iterator[tuple[Path, Urls]]:
    # Beside the shared test server: PgBouncer (an unprivileged user) must reach its socket.
    folder = Path(tempfile.mkdtemp(prefix="faults-", dir=ROOT / ".tenantry"))
    folder.chmod(0o755)
    pgdata = folder / "pgdata"
    server = embedded.start(pgdata)
    migrate.ensure_database(server, "faults")
    admin = with_database(server, "faults")
    migrate.upgrade(admin, ROLES)
    yield pgdata, Urls(admin, as_role(admin, ROLES.runtime), as_role(admin, ROLES.platform))
    with contextlib.suppress(Exception):
        embedded.stop(pgdata)
    shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.parametrize("through", ["direct", "pgbouncer", "two-workers"])
async def test_an_outage_answers_503_fast_and_loses_no_acknowledged_write(
    own_server, through: str
) -> None:
    pgdata, urls = own_server
    async with contextlib.AsyncExitStack() as stack:
        if through == "pgbouncer":
            # Waiting clients get an error after a second instead of PgBouncer's 120 s.
            address, folder = pgbouncer.start(
                urls.admin, [ROLES.runtime, ROLES.platform], query_wait_timeout=1
            )
            stack.callback(pgbouncer.stop, folder)
            urls = urls.through(address)
        app = create_app(api_settings(urls))
        await stack.enter_async_context(app.router.lifespan_context(app))
        tenant = await _tenant(app, "outage")
        if through == "two-workers":
            # `tenantry serve` as deployed: two processes, each with its own pools.
            base = await stack.enter_async_context(_served(urls.admin, workers=2))
            api = httpx.AsyncClient(base_url=base, timeout=30)
        else:
            api = client_for(app)
        await _outage(pgdata, urls, await stack.enter_async_context(api), tenant)


@contextlib.asynccontextmanager
async def _served(admin: str, workers: int) -> AsyncIterator[str]:
    port = free_port()
    env = {
        **os.environ,
        "TENANTRY_DATABASE_URL": admin,
        "TENANTRY_ROLE_PREFIX": ROLES.prefix,
        "TENANTRY_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "TENANTRY_ACCESS_TOKEN_TTL_SECONDS": "900",
    }
    command = ["serve", "--port", str(port), "--workers", str(workers)]
    server = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tenantry.cli", *command, env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=base) as probe:
            deadline = time.monotonic() + 60
            while True:
                assert server.returncode is None, "tenantry serve exited"
                with contextlib.suppress(httpx.TransportError):
                    if (await probe.get("/readyz")).status_code == 200:
                        break
                assert time.monotonic() < deadline, "tenantry serve did not start"
                await asyncio.sleep(0.2)
        yield base
    finally:
        server.terminate()
        await asyncio.wait_for(server.wait(), 30)


async def _outage(pgdata: Path, urls: Urls, api: httpx.AsyncClient, tenant: Tenant) -> None:
    user = await signed_in(api, "thinktank", tenant, "o@example.com")
    ledger: list[str] = []
    answers: list[tuple[float, int, float, httpx.Response]] = []
    stop = asyncio.Event()

    async def writer(n: int) -> None:
        while not stop.is_set():
            started = time.monotonic()
            response = await api.post(
                "/v1/apps/thinktank/chats", headers=user.auth, json={"title": f"w{n}"}
            )
            answers.append((started, response.status_code, time.monotonic() - started, response))
            if response.status_code == 201:
                ledger.append(response.json()["id"])
            elif response.status_code == 401:  # the access token expired: sign in again
                await login(api, user)
            await asyncio.sleep(0.02)

    writers = [asyncio.create_task(writer(n)) for n in range(6)]
    await asyncio.sleep(2)
    await asyncio.to_thread(embedded.stop, pgdata)
    down_at = time.monotonic()  # the server is gone (a fast shutdown takes a moment)
    await asyncio.sleep(OUTAGE_SECONDS / 2)
    ready = await api.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["dependencies"]["database"] == "unreachable"
    await asyncio.sleep(OUTAGE_SECONDS / 2)
    starting_at = time.monotonic()
    await asyncio.to_thread(embedded.start, pgdata)
    up_at = time.monotonic()
    await asyncio.sleep(RECOVER_WITHIN_SECONDS + 2)
    stop.set()
    await asyncio.gather(*writers)
    assert (await api.get("/readyz")).status_code == 200

    statuses = {status for _, status, _, _ in answers}
    assert 500 not in statuses, [r.text for _, s, _, r in answers if s == 500][:3]
    assert statuses <= {201, 401, 503}, statuses
    during = [
        (s, took, r) for at, s, took, r in answers if down_at < at and at + took < starting_at
    ]
    assert len(during) > 50, "the writers kept asking during the outage"
    assert {s for s, _, _ in during} == {503}, [
        (s, r.text[:200]) for s, _, r in during if s != 503
    ][:3]
    assert max(took for _, took, _ in during) <= ANSWER_WITHIN_SECONDS
    for _, _, response in during:
        assert response.json()["code"] == "database_unavailable"
        assert int(response.headers["retry-after"]) >= 1
    recovered = min(at + took for at, s, took, _ in answers if s == 201 and at > up_at)
    assert recovered - up_at <= RECOVER_WITHIN_SECONDS
    with psycopg.connect(urls.admin) as conn:
        stored = {
            str(row[0])
            for row in conn.execute(
                "SELECT id FROM ai.chat_sessions WHERE id = ANY(%s::uuid[])", [ledger]
            )
        }
    assert len(ledger) > 100
    assert set(ledger) == stored


async def test_redis_stopping_loses_no_invalidation(own_server, tmp_path) -> None:
    """Two service processes (two apps, two pools) share a Redis that stops; a tenant suspended
    through one is refused by the other at once, heard through PostgreSQL."""
    _, urls = own_server
    redis = _PrivateRedis(tmp_path)
    try:
        settings = api_settings(urls, redis_url=redis.url)
        first, second = create_app(settings), create_app(settings)
        async with (
            first.router.lifespan_context(first),
            second.router.lifespan_context(second),
            client_for(first) as a,
            client_for(second) as b,
        ):
            tenant = await _tenant(first, "redis-stop")
            user = await signed_in(a, "thinktank", tenant, "r@example.com")
            assert (await b.get("/v1/apps/thinktank/me", headers=user.auth)).status_code == 200
            assert (await b.get("/readyz")).json()["dependencies"][
                "invalidation.redis"
            ] == "connected"
            redis.stop()
            await asyncio.sleep(1.5)
            ready = await b.get("/readyz")
            assert ready.status_code == 200  # PostgreSQL still carries invalidations
            assert ready.json()["dependencies"]["invalidation.redis"] == "disconnected"
            assert ready.json()["dependencies"]["invalidation.postgres"] == "connected"
            await first.state.services.tenant_admin.transition(
                tenant.slug, "suspend", reason="tests: redis stopped", by=FIXTURES
            )
            deadline = time.monotonic() + 2
            while (await b.get("/v1/apps/thinktank/me", headers=user.auth)).status_code == 200:
                assert time.monotonic() < deadline, "the other process still serves the tenant"
                await asyncio.sleep(0.05)
    finally:
        redis.stop()


async def _tenant(app: FastAPI, prefix: str) -> Tenant:
    slug = f"{prefix}-{os.urandom(3).hex()}"
    record, _ = await app.state.services.tenant_admin.ensure_tenant(
        slug, slug, "free", ["thinktank"], by=FIXTURES
    )
    return Tenant(record.id, slug)


class _PrivateRedis:
    def __init__(self, folder: Path) -> None:
        port = free_port()
        self.url = f"redis://127.0.0.1:{port}/0"
        self._process = subprocess.Popen(
            [
                shutil.which("redis-server") or "/usr/bin/redis-server",
                "--port",
                str(port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(folder),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
            except OSError:
                assert time.monotonic() < deadline, "redis-server did not start"
                time.sleep(0.05)
            else:
                break

    def stop(self) -> None:
        if self._process.poll() is None:
            self._process.terminate()
            self._process.wait(timeout=10)
