"""Cost analytics at 10,000,000 cost events: aggregation latency and rollup throughput.

    python benchmarks/cost_analytics.py [--quick] [--json]     (--quick: 200,000 events)

Load  100 tenants with three apps each, of very different sizes (a Zipf-like spread: the largest
      holds about a fifth of the events, the smallest a few thousand), 10M cost events over the
      last 365 days in four services. Loaded in bulk on the platform path, 200,000 events per
      INSERT ... SELECT: each statement goes through the rollup trigger like any other insert,
      so the daily summaries and monthly totals are built by the production path, a batch at a
      time (never recomputed), then VACUUM ANALYZE.

Reads as the runtime role, each in a READ ONLY transaction of a signed context (BEGIN, context
      and the statement in one round trip, then COMMIT), through the costs service: per app
      (the app's context) by day over 30 days, by week over 12 weeks, by month over 12 months
      (each by service) and by day over 366 days; across apps (a tenant administrator's
      cross-app context) by day over 30 days by app and service, by week by app, by month by
      service and by day over 366 days; the budget status. Measured for the largest, a median
      and the smallest tenant: p50 / p95 / p99 in ms (p95 < 100 ms is the requirement). The
      plan of each read is checked too: no sequential scan, no cost_events at all.

Rollup throughput through the real insert path (`costs.service.record`: the INSERT with its
      trigger, the budget check, in a signed context, committed): one event per transaction,
      batches of 100 and 1,000, and 8 concurrent single-event writers in one tenant (all
      queueing on the month's total row) and in 8 tenants.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._harness import ROLES, machine, role_url, with_fresh_database
from tenantry.kit.actor import Actor
from tenantry.kit.config import Settings
from tenantry.kit.context import TenantContext
from tenantry.kit.db import Database
from tenantry.kit.metrics import Metrics
from tenantry.services import build_services
from tenantry.workloads.costs import service
from tenantry.workloads.costs.models import Granularity, NewCostEvent, Range

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable
    from uuid import UUID

    from tenantry.kit.db import Transaction

    Read = Callable[[Transaction], Awaitable[object]]

BY = Actor("benchmark", "cost-analytics")
APPS = ("thinktank", "launchboard", "alwaysme")
CHUNK = 200_000
LOAD = """
INSERT INTO ai.cost_events
       (tenant_id, app_id, id, occurred_at, service, model, input_tokens, output_tokens,
        units, unit, cost_usd)
SELECT %(tenant)s, %(app)s, gen_random_uuid(), s.at,
       (ARRAY['llm', 'llm', 'embedding', 'speech', 'image'])[1 + s.g %% 5],
       (ARRAY['small-chat', 'large-chat', 'text-embed', 'transcribe', 'draw'])[1 + s.g %% 5],
       (random() * 4000)::int, (random() * 800)::int,
       CASE WHEN s.g %% 5 = 3 THEN round((random() * 120)::numeric, 2) ELSE 0 END,
       CASE WHEN s.g %% 5 = 3 THEN 'seconds' END,
       round((random() * 0.05)::numeric, 9)
  FROM (SELECT g, now() - random() * interval '365 days' AS at
          FROM generate_series(1, %(n)s) g) s
"""


@dataclass(frozen=True)
class Scope:
    name: str
    tenant_id: UUID
    app_id: UUID
    events: int


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def sizes(total: int, tenants: int) -> list[int]:
    """Events per tenant, largest first: weights 1/(rank+1)^1.1, at least 3,000 each."""
    weights = [1 / (rank + 1) ** 1.1 for rank in range(tenants)]
    scale = total / sum(weights)
    counts = [max(3_000, int(w * scale)) for w in weights]
    counts[0] += total - sum(counts)
    return counts


async def load(
    db: Database, admin: str, tenants: int, total: int
) -> list[tuple[UUID, dict[str, UUID], int]]:
    services = build_services(Settings(database_url=admin, role_prefix=ROLES.prefix), db, Metrics())
    made = []
    for rank, count in enumerate(sizes(total, tenants)):
        tenant, apps = await services.tenant_admin.ensure_tenant(
            f"cost-{rank:03d}", f"Cost {rank}", "business", [*APPS, "admin"], by=BY
        )
        made.append((tenant.id, {slug: apps[slug].id for slug in APPS}, count))
    started = time.perf_counter()
    loaded = 0
    for tenant_id, apps, count in made:
        # The largest app of a tenant gets half of its events, the others a quarter each.
        for app, share in zip(APPS, (0.5, 0.25, 0.25), strict=True):
            remaining = int(count * share)
            while remaining > 0:
                n = min(CHUNK, remaining)
                async with db.platform_transaction() as tx:
                    await tx.execute(LOAD, {"tenant": tenant_id, "app": apps[app], "n": n})
                remaining -= n
                loaded += n
        print(
            f"loaded {loaded:,} events ({loaded / (time.perf_counter() - started):,.0f}/s)",
            file=sys.stderr,
        )
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(
            "VACUUM (ANALYZE) ai.cost_events, ai.cost_daily_summaries, ai.cost_monthly_totals"
        )
    return made


async def timed(db: Database, context: TenantContext, read: Read, n: int) -> dict[str, float]:
    latencies = []
    for _ in range(n):
        t0 = time.perf_counter()
        async with db.tenant_transaction(context) as tx:
            await read(tx)
        latencies.append((time.perf_counter() - t0) * 1000)
    return {
        "p50_ms": round(statistics.median(latencies), 2),
        "p95_ms": round(percentile(latencies, 95), 2),
        "p99_ms": round(percentile(latencies, 99), 2),
    }


def reads(scope: Scope, today: date) -> dict[str, tuple[bool, Read]]:
    """name -> (cross-app, read)."""
    tenant, app = scope.tenant_id, scope.app_id

    def per_app(granularity: Granularity, since: date | None, *, by_service: bool) -> Read:
        span = Range.of(granularity, since, today)
        return lambda tx: service.app_summary(tx, tenant, app, span, by_service=by_service)

    def across(
        granularity: Granularity, since: date | None, *, by_app: bool, by_service: bool
    ) -> Read:
        span = Range.of(granularity, since, today)
        return lambda tx: service.tenant_summary(
            tx, tenant, span, by_app=by_app, by_service=by_service
        )

    year = today - timedelta(days=365)
    return {
        "app_day_30d_by_service": (False, per_app("day", None, by_service=True)),
        "app_week_12w_by_service": (False, per_app("week", None, by_service=True)),
        "app_month_12m_by_service": (False, per_app("month", None, by_service=True)),
        "app_day_366d_total": (False, per_app("day", year, by_service=False)),
        "tenant_day_30d_by_app_service": (True, across("day", None, by_app=True, by_service=True)),
        "tenant_week_12w_by_app": (True, across("week", None, by_app=True, by_service=False)),
        "tenant_month_12m_by_service": (True, across("month", None, by_app=False, by_service=True)),
        "tenant_day_366d_total": (True, across("day", year, by_app=False, by_service=False)),
        "budget_status": (True, lambda tx: service.budget_status(tx, tenant, service.this_month())),
    }


async def plans(db: Database, scope: Scope, today: date) -> dict[str, str]:
    """Each aggregation's plan as the runtime role sees it: its scans, checked for sequential
    scans and for cost_events (the events are never read to aggregate)."""
    found = {}
    span = Range.of("day", today - timedelta(days=365), today)
    queries = {
        "app": ("ai.cost_daily_summaries s WHERE s.tenant_id = %(t)s AND s.app_id = %(a)s", False),
        "tenant": ("ai.cost_daily_summaries s WHERE s.tenant_id = %(t)s", True),
    }
    for name, (source, cross) in queries.items():
        context = TenantContext(
            scope.tenant_id, None if cross else scope.app_id, cross_app=cross, read_only=True
        )
        async with db.tenant_transaction(context) as tx:
            rows = await tx.fetch_all(
                "EXPLAIN (ANALYZE, FORMAT JSON) SELECT s.day, sum(s.cost_usd) FROM "
                + source
                + " AND s.day BETWEEN %(since)s AND %(until)s GROUP BY 1",
                {"t": scope.tenant_id, "a": scope.app_id, "since": span.since, "until": span.until},
            )
        plan = rows[0]["QUERY PLAN"][0]["Plan"]
        scans = _scans(plan)
        # The verifier's own reads (the key, the apps catalog) are tiny and not ours to judge.
        scans = [s for s in scans if " on cost_" in s or " on budget_" in s]
        assert not any(s.startswith("Seq Scan") for s in scans), scans
        assert not any("cost_events" in s for s in scans), scans
        found[name] = "; ".join(scans)
    return found


def _scans(node: dict[str, Any]) -> list[str]:
    here = []
    if "Scan" in node["Node Type"]:
        here.append(
            f"{node['Node Type']} on {node.get('Relation Name', '?')} using {node.get('Index Name', '-')}: {node.get('Actual Rows')} rows x {node.get('Actual Loops')}"
        )
    for child in node.get("Plans", []):
        here += _scans(child)
    return here


async def throughput(
    db: Database, made: list[tuple[UUID, dict[str, UUID], int]], n: int
) -> dict[str, Any]:
    result: dict[str, Any] = {}
    tenant_id, apps, _ = made[-1]
    app = apps["thinktank"]
    context = TenantContext(tenant_id, app)

    def events(k: int) -> list[NewCostEvent]:
        return [
            NewCostEvent("llm", Decimal("0.000420"), input_tokens=900, output_tokens=120)
            for _ in range(k)
        ]

    for batch in (1, 100, 1000):
        rounds = max(3, n // batch)
        started = time.perf_counter()
        for _ in range(rounds):
            async with db.tenant_transaction(context) as tx:
                await service.record(db, tx, tenant_id, app, events(batch))
        elapsed = time.perf_counter() - started
        result[f"batch_{batch}"] = {
            "events_per_s": round(rounds * batch / elapsed),
            "ms_per_transaction": round(elapsed / rounds * 1000, 2),
        }

    async def writer(tenant: UUID, app_id: UUID, count: int) -> None:
        for _ in range(count):
            async with db.tenant_transaction(TenantContext(tenant, app_id)) as tx:
                await service.record(db, tx, tenant, app_id, events(1))

    per_writer = max(50, n // 8)
    for name, targets in (
        ("concurrent_8_one_tenant", [(tenant_id, app)] * 8),
        ("concurrent_8_tenants", [(t, a["thinktank"]) for t, a, _ in made[-8:]]),
    ):
        started = time.perf_counter()
        await asyncio.gather(*(writer(t, a, per_writer) for t, a in targets))
        elapsed = time.perf_counter() - started
        result[name] = {"events_per_s": round(8 * per_writer / elapsed)}
    return result


async def run(admin: str, total: int, tenants: int, samples: int, writes: int) -> dict[str, Any]:
    async with Database(
        role_url(admin, ROLES.runtime),
        role_url(admin, ROLES.platform),
        min_size=2,
        max_size=16,
        context_ttl_seconds=3600,
    ) as db:
        started = time.perf_counter()
        made = await load(db, admin, tenants, total)
        load_seconds = time.perf_counter() - started
        with psycopg.connect(admin) as conn:
            counts = conn.execute(
                "SELECT (SELECT count(*) FROM ai.cost_events) AS events, "
                "(SELECT count(*) FROM ai.cost_daily_summaries) AS summaries"
            ).fetchone()
        result: dict[str, Any] = {
            "events": counts[0],
            "daily_summaries": counts[1],
            "tenants": tenants,
            "load_seconds": round(load_seconds),
            "load_events_per_s": round(counts[0] / load_seconds),
        }
        today = datetime.now(UTC).date()
        median = len(made) // 2
        picks = {"largest": made[0], "median": made[median], "smallest": made[-1]}
        latency: dict[str, Any] = {}
        for label, (tenant_id, apps, count) in picks.items():
            scope = Scope(label, tenant_id, apps["thinktank"], count)
            per_read = {}
            for name, (cross, read) in reads(scope, today).items():
                context = TenantContext(
                    tenant_id, None if cross else scope.app_id, cross_app=cross, read_only=True
                )
                await timed(db, context, read, 5)  # warm
                per_read[name] = await timed(db, context, read, samples)
            latency[f"{label} ({count:,} events)"] = per_read
        result["latency"] = latency
        result["worst_p95_ms"] = max(r["p95_ms"] for per in latency.values() for r in per.values())
        result["plans_largest"] = await plans(
            db, Scope("largest", made[0][0], made[0][1]["thinktank"], made[0][2]), today
        )
        result["rollup"] = await throughput(db, made, writes)
        return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    total, tenants, samples, writes = (
        (200_000, 20, 40, 300) if args.quick else (10_000_000, 100, 200, 2_000)
    )
    result = with_fresh_database(
        lambda admin: asyncio.run(run(admin, total, tenants, samples, writes))
    )
    result["machine"] = machine()
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key}: {json.dumps(value, indent=2) if isinstance(value, dict) else value}")


if __name__ == "__main__":
    main()
