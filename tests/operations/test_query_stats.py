"""Per-tenant statement timings: the service times what each tenant runs, writes it to the
database, and `tenantry doctor --tenant` (a real process) reports it while the service runs."""

from __future__ import annotations

import asyncio
import json
import time
import uuid

import httpx
import psycopg
import pytest

from tenantry.kit.query_stats import QueryStats, shape_of
from tenantry.operations.query_stats.service import QueryStatsFlusher, tenant_report
from tenantry.web import create_app
from tests.support.accounts import make_tenant, signed_in
from tests.support.cli import tenantry
from tests.support.http import context_of
from tests.support.live import live_server
from tests.support.wiring import api_settings


async def doctor_report(urls, slug: str, *, wanted: int) -> list[dict]:
    """`doctor --tenant` once the service has written at least `wanted` calls (it writes every
    fraction of a second here)."""
    deadline = time.monotonic() + 30
    while True:
        done = await asyncio.to_thread(tenantry, urls, "doctor", "--tenant", slug, "--json")
        assert done.returncode == 0, done.stderr
        report = json.loads(done.stdout)
        if sum(r["calls"] for r in report) >= wanted or time.monotonic() > deadline:
            return report
        await asyncio.sleep(0.3)


async def test_doctor_reports_the_statements_each_tenant_ran_through_the_api(urls, db) -> None:
    busy, quiet = await make_tenant(db, "thinktank"), await make_tenant(db, "thinktank")
    settings = api_settings(urls, query_stats_flush_seconds=0.2)
    with live_server(lambda _: create_app(settings)) as url:
        async with httpx.AsyncClient(base_url=url) as client:
            ada = await signed_in(client, "thinktank", busy, "ada.stats@example.com")
            bob = await signed_in(client, "thinktank", quiet, "bob.stats@example.com")
            for _ in range(8):
                await context_of(client, ada)
            await context_of(client, bob)
        busy_report = await doctor_report(urls, busy.slug, wanted=10)
        quiet_report = await doctor_report(urls, quiet.slug, wanted=3)
        readable = await asyncio.to_thread(tenantry, urls, "doctor", "--tenant", busy.slug)

    assert busy_report, "no statements reported"
    for row in busy_report:
        assert row["calls"] >= 1
        assert row["p95_ms"] > 0
        assert row["total_ms"] >= row["mean_ms"] > 0
        assert len(row["fingerprint"]) == 16
        assert row["keyword"] in {"SELECT", "INSERT", "UPDATE", "DELETE", "WITH", "COMMIT"}
    # Sorted by total time, the busiest statement first.
    assert [r["total_ms"] for r in busy_report] == sorted(
        (r["total_ms"] for r in busy_report), reverse=True
    )
    # The first context call reads the whole context; the next ones, answered from the cache,
    # only check the session is still live: 7 more for one tenant than for the other.
    busy_calls = {r["fingerprint"]: r["calls"] for r in busy_report}
    quiet_calls = {r["fingerprint"]: r["calls"] for r in quiet_report}
    assert any(calls - quiet_calls.get(f, 0) >= 7 for f, calls in busy_calls.items())
    # Shapes, never values: no email, no tenant id, no slug.
    text = json.dumps(busy_report + quiet_report)
    for value in ("ada.stats", "bob.stats", str(busy.id), str(quiet.id), busy.slug, quiet.slug):
        assert value not in text
    assert "?" in text
    assert readable.returncode == 0, readable.stderr
    assert f"statements of {busy.slug} in the last 24 h" in readable.stdout
    assert "p95_ms" in readable.stdout


def test_doctor_names_an_unknown_tenant_in_one_line(urls) -> None:
    done = tenantry(urls, "doctor", "--tenant", "no-such-tenant")
    assert done.returncode == 1
    assert done.stderr.strip() == "error: no tenant 'no-such-tenant'"


async def test_timings_of_several_processes_add_up_hour_by_hour(db) -> None:
    """Two processes time the same statement for the same tenant: the report adds their calls
    and reads the p95 from their merged histograms."""
    tenant = uuid.uuid4()
    shape = shape_of("SELECT name FROM tenantry.tenants WHERE id = %s")
    fast, slow = QueryStats(), QueryStats()
    for _ in range(90):
        fast.record(tenant, shape, 0.001)
    for _ in range(10):
        slow.record(tenant, shape, 0.050)
    for stats in (fast, slow):
        assert await QueryStatsFlusher(db, stats, interval=60, retention_hours=48).flush() == 1
    [report] = await tenant_report(db, tenant, 1)
    assert report.calls == 100
    assert report.keyword == "SELECT"
    assert report.statement == "SELECT name FROM tenantry.tenants WHERE id = ?"
    assert abs(report.total_ms - (90 * 1 + 10 * 50)) < 0.01
    assert 45 <= report.p95_ms <= 55  # the slow process's calls are the top 10 %
    assert report.p95_ms != report.mean_ms


async def test_rows_older_than_the_retention_are_deleted(urls, db) -> None:
    tenant = uuid.uuid4()
    shape = shape_of("SELECT 1")
    with psycopg.connect(urls.admin, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO tenantry_private.query_shapes (fingerprint, keyword, statement) "
            "VALUES (%s, 'SELECT', 'SELECT ?') ON CONFLICT DO NOTHING",
            [shape.fingerprint],
        )
        conn.execute(
            "INSERT INTO tenantry_private.query_stats VALUES "
            "(%s, date_trunc('hour', now()) - interval '5 hours', %s, 1, 0.001, '{\"10\": 1}'), "
            "(%s, date_trunc('hour', now()) - interval '1 hour', %s, 1, 0.001, '{\"10\": 1}')",
            [tenant, shape.fingerprint, tenant, shape.fingerprint],
        )
    await QueryStatsFlusher(db, QueryStats(), interval=60, retention_hours=2).flush()
    with psycopg.connect(urls.admin) as conn:
        hours = conn.execute(
            "SELECT date_trunc('hour', now()) - hour FROM tenantry_private.query_stats "
            "WHERE tenant_id = %s",
            [tenant],
        ).fetchall()
    assert [str(h) for (h,) in hours] == ["1:00:00"]


def test_the_runtime_role_cannot_read_the_timings(urls) -> None:
    """Platform data: the role that serves tenants cannot even reach its schema."""
    with psycopg.connect(urls.runtime) as conn:
        for table in ("query_stats", "query_shapes"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(f"SELECT count(*) FROM tenantry_private.{table}")
            conn.rollback()
