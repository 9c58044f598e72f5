"""What observing the service costs: tracing off (the default), and tracing on.

Three measurements:

  statement   one `observe.statement` around an awaited no-op, in nanoseconds: `bare` (the
              no-op alone), `off` (no request observed: the CLI, the worker, library use),
              `untraced` (a request observed with the exporter off: per-tenant timings and
              metrics only) and `traced` (an SDK tracer, spans batched to an exporter that
              drops them)
  request     one request's observer (`RequestObserver.start` + `finish`: observation,
              per-tenant metrics, and with tracing the server span), in microseconds
  database    one tenant transaction (a point read by key, then COMMIT) against a fresh
              embedded PostgreSQL, the variants interleaved in random order over one pool,
              median and p99 in microseconds and the ratio to `off` (`off_again`, the same
              as `off`, shows how far two identical variants drift apart in the run)

    python benchmarks/observability_overhead.py [--quick] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import psycopg
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._harness import ROLES, machine, role_url, with_fresh_database
from tenantry.kit import observe
from tenantry.kit.context import TenantContext
from tenantry.kit.db import Database
from tenantry.kit.metrics import Metrics
from tenantry.kit.query_stats import QueryStats

if TYPE_CHECKING:
    from opentelemetry.trace import Tracer

QUERY = (
    "SELECT id, email, display_name, created_at FROM tenantry.app_users "
    "WHERE tenant_id = %s AND app_id = %s AND id = %s"
)
SCOPE = (uuid.uuid4(), uuid.uuid4())


class Discard(SpanExporter):
    """An exporter that drops what it is given: the cost measured is Tenantry's and the SDK's,
    not a collector's."""

    def export(self, spans: object) -> SpanExportResult:  # noqa: ARG002 - dropped on purpose
        return SpanExportResult.SUCCESS


def tracer() -> tuple[TracerProvider, Tracer]:
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(Discard()))
    return provider, provider.get_tracer("bench")


def observation(variant: str, traced: Tracer) -> observe.Observation | None:
    if variant in {"bare", "off", "off_again"}:
        return None
    return observe.Observation(traced if variant == "traced" else None, QueryStats())


async def noop() -> None:
    return None


async def statement_ns(n: int, traced: Tracer) -> dict[str, float]:
    """Nanoseconds per call, best of five rounds (the least disturbed by the machine)."""
    results = {}
    for variant in ("bare", "off", "untraced", "traced"):
        token = observe._current.set(observation(variant, traced))  # noqa: SLF001 - as a request would
        best = float("inf")
        for _ in range(5):
            started = time.perf_counter_ns()
            if variant == "bare":
                for _ in range(n):
                    await noop()
            else:
                for _ in range(n):
                    await observe.statement(SCOPE, QUERY, None, noop)
            best = min(best, (time.perf_counter_ns() - started) / n)
        observe._current.reset(token)  # noqa: SLF001 - as a request would
        results[variant] = round(best, 1)
    return results


def request_us(n: int, traced: Tracer) -> dict[str, float]:
    scope = {
        "type": "http",
        "method": "GET",
        "scheme": "http",
        "path": "/v1/apps/thinktank/context",
        "headers": [(b"host", b"example"), (b"authorization", b"Bearer x")],
    }
    results = {}
    variants: tuple[tuple[str, Tracer | None], ...] = (("untraced", None), ("traced", traced))
    for variant, tracer_ in variants:
        observer = observe.RequestObserver(tracer_, QueryStats(), Metrics())
        best = float("inf")
        for _ in range(5):
            started = time.perf_counter_ns()
            for _ in range(n):
                started_request = observer.start(scope)
                started_request.observation.tenant_id = SCOPE[0]
                observer.finish(started_request, "/v1/apps/{app}/context", 200, 0.002)
            best = min(best, (time.perf_counter_ns() - started) / n / 1000)
        results[variant] = round(best, 2)
    return results


def seed(admin: str) -> TenantContext:
    with psycopg.connect(admin) as conn:
        app = conn.execute("SELECT id FROM tenantry.apps WHERE slug = 'thinktank'").fetchone()[0]
        tenant = conn.execute(
            "INSERT INTO tenantry.tenants (id, slug, name, status) "
            "VALUES (gen_random_uuid(), 'bench', 'B', 'active') RETURNING id"
        ).fetchone()[0]
        conn.execute(
            "INSERT INTO tenantry.tenant_apps (tenant_id, app_id) VALUES (%s, %s)", [tenant, app]
        )
        user = conn.execute(
            "INSERT INTO tenantry.app_users (tenant_id, app_id, id, email) "
            "VALUES (%s, %s, gen_random_uuid(), 'u@example.com') RETURNING id",
            [tenant, app],
        ).fetchone()[0]
    return TenantContext(tenant, app, user)


async def database_us(admin: str, iterations: int, traced: Tracer) -> dict[str, list[float]]:
    context = seed(admin)
    params = [context.tenant_id, context.app_id, context.app_user_id]
    # `off_again` is `off` once more: the difference between the two is the run's noise.
    variants = ("off", "off_again", "untraced", "traced")
    samples: dict[str, list[float]] = {v: [] for v in variants}
    async with Database(
        role_url(admin, ROLES.runtime), role_url(admin, ROLES.platform), min_size=4, max_size=4
    ) as db:

        async def once(variant: str) -> float:
            token = observe._current.set(observation(variant, traced))  # noqa: SLF001 - as a request would
            started = time.perf_counter()
            async with db.tenant_transaction(context) as tx:
                assert await tx.fetch_one(QUERY, params)
            elapsed = time.perf_counter() - started
            observe._current.reset(token)  # noqa: SLF001 - as a request would
            return elapsed * 1e6

        for _ in range(300):  # warm every connection and plan
            for variant in variants:
                await once(variant)
        order = [v for v in variants for _ in range(iterations)]
        random.Random(7).shuffle(order)
        for variant in order:
            samples[variant].append(await once(variant))
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    calls = 20_000 if args.quick else 200_000
    iterations = 1000 if args.quick else 5000
    provider, traced = tracer()

    statement = asyncio.run(statement_ns(calls, traced))
    request = request_us(calls // 10, traced)
    samples = with_fresh_database(lambda admin: asyncio.run(database_us(admin, iterations, traced)))
    provider.shutdown()
    database = {
        name: {
            "median_us": round(statistics.median(values), 1),
            "p99_us": round(sorted(values)[int(len(values) * 0.99)], 1),
        }
        for name, values in samples.items()
    }
    off = database["off"]["median_us"]
    report = {
        "benchmark": "observability_overhead",
        "machine": machine(),
        "statement_ns": statement,
        "request_observer_us": request,
        "database_transactions_per_variant": iterations,
        "database": database,
        "database_ratio_to_off": {
            name: round(r["median_us"] / off, 3) for name, r in database.items()
        },
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print("One observed statement (ns per call, no I/O):")
    for name, ns in statement.items():
        print(f"  {name:<10}{ns:>10.1f}")
    print("One request's observer (µs, start + finish):")
    for name, us in request.items():
        print(f"  {name:<10}{us:>10.2f}")
    print(f"Tenant transaction, read + commit, {iterations} interleaved per variant (µs):")
    print(f"  {'variant':<10}{'median':>10}{'p99':>10}{'/off':>8}")
    for name, r in database.items():
        print(
            f"  {name:<10}{r['median_us']:>10.1f}{r['p99_us']:>10.1f}{r['median_us'] / off:>8.3f}"
        )


if __name__ == "__main__":
    main()
