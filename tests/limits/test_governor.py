"""The runtime pool's governor on a real database: a tenant at its share of the pool waits
while another tenant's transactions go on, and each plan's statement timeout cancels a runaway
statement of its tenants only, in the transaction's first round trip and in single reads."""

from __future__ import annotations

import asyncio

import pytest

from tenantry.kit.context import TenantContext
from tenantry.kit.db import Database
from tenantry.kit.errors import StatementTimeout
from tenantry.kit.metrics import Metrics
from tenantry.services import build_services
from tests.limits.conftest import tenant_on
from tests.support.wiring import api_settings

QUOTAS = {
    "free": {"statement_timeout_seconds": 0.2},
    "business": {"statement_timeout_seconds": 5},
}


async def test_a_tenant_at_its_share_waits_while_another_tenant_proceeds(urls, db, own_db) -> None:
    metrics = Metrics()
    build_services(
        api_settings(urls, tenant_pool_share=0.5, tenant_pool_wait_seconds=5), own_db, metrics
    )
    noisy, quiet = await tenant_on(db, "free"), await tenant_on(db, "free")
    release = asyncio.Event()
    started: list[int] = []

    async def hold(n: int) -> None:
        async with own_db.tenant_transaction(TenantContext(noisy.id)) as tx:
            await tx.execute("SELECT pg_backend_pid()")
            started.append(n)
            await release.wait()

    holders = [asyncio.create_task(hold(n)) for n in range(3)]
    await asyncio.sleep(0.3)
    assert sorted(started) == [0, 1]  # 2 of the pool's 4 connections: its cap
    # The quiet tenant is served at once, in a transaction and in a single read.
    async with asyncio.timeout(2):
        async with own_db.tenant_transaction(TenantContext(quiet.id)) as tx:
            assert (await tx.fetch_one("SELECT 1 AS one"))["one"] == 1
        assert await own_db.read(TenantContext(quiet.id), "SELECT 2 AS two") == [{"two": 2}]
    assert sorted(started) == [0, 1]
    release.set()
    async with asyncio.timeout(5):
        await asyncio.gather(*holders)
    assert sorted(started) == [0, 1, 2]
    exposed = metrics.registry.get_sample_value(
        "tenantry_pool_share_waits_total", {"tenant": metrics.tenants.label(noisy.id)}
    )
    assert exposed == 1


async def test_a_statement_timeout_cancels_one_plans_sleep_and_not_anothers(
    urls, db, own_db
) -> None:
    metrics = Metrics()
    services = build_services(api_settings(urls, plan_quotas=QUOTAS), own_db, metrics)
    free, business = await tenant_on(db, "free"), await tenant_on(db, "business")
    for tenant in (free, business):  # as the request path does, which caches the plan
        await services.tenants.get(tenant.id)
    with pytest.raises(StatementTimeout) as cancelled:
        async with own_db.tenant_transaction(TenantContext(free.id)) as tx:
            await tx.execute("SELECT pg_sleep(0.6)")
    assert (cancelled.value.status, cancelled.value.code) == (503, "statement_timeout")
    with pytest.raises(StatementTimeout):
        await own_db.read(TenantContext(free.id), "SELECT pg_sleep(0.6) AS slept")
    async with own_db.tenant_transaction(TenantContext(business.id)) as tx:
        await tx.execute("SELECT pg_sleep(0.6)")
        # Transaction-local, set with the context: each statement after the first is armed too.
        assert (await tx.fetch_one("SHOW statement_timeout"))["statement_timeout"] == "5s"
    rows = await own_db.read(TenantContext(business.id), "SELECT pg_sleep(0.6) AS slept")
    assert len(rows) == 1
    label = metrics.tenants.label(free.id)
    assert (
        metrics.registry.get_sample_value("tenantry_statement_timeouts_total", {"tenant": label})
        == 2
    )


async def test_a_statement_timeout_ends_with_its_transaction(urls, db) -> None:
    """The pooled connection goes back without the free plan's timeout: the next transaction
    on it, of an unlimited plan, runs as long as it needs."""
    async with Database(urls.runtime, urls.platform, min_size=1, max_size=1) as single:
        services = build_services(api_settings(urls, plan_quotas=QUOTAS), single, Metrics())
        free, internal = await tenant_on(db, "free"), await tenant_on(db, "internal")
        for tenant in (free, internal):
            await services.tenants.get(tenant.id)
        pid = "SELECT pg_backend_pid() AS pid"
        with pytest.raises(StatementTimeout):
            async with single.tenant_transaction(TenantContext(free.id)) as tx:
                cancelled_on = (await tx.fetch_one(pid))["pid"]
                await tx.execute("SELECT pg_sleep(0.5)")
        async with single.tenant_transaction(TenantContext(internal.id)) as tx:
            assert (await tx.fetch_one(pid))["pid"] == cancelled_on
            assert (await tx.fetch_one("SHOW statement_timeout"))["statement_timeout"] == "0"
            await tx.execute("SELECT pg_sleep(0.3)")
