"""What the isolation engine costs at the database layer, without HTTP.

Interleaves, over a pool of connections and in random order (a slow connection on a shared
machine then hurts every variant alike), the same single-row read done three ways:

  owner        the superuser (the cluster owner), pooled, autocommit, no context, no
               row-level security — the floor
  tenant_read  `Database.read`: runtime role, signed context verified by the policies, one
               message
  tenant_tx    `Database.tenant_transaction`: explicit transaction, context pipelined with the
               first statement, commit

and reports median and p99 microseconds per read and the ratios to `owner`. It also measures the
server-side cost of one context verification with a server loop.

    python benchmarks/isolation_overhead.py [--quick] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import time
from pathlib import Path

import psycopg
from psycopg_pool import AsyncConnectionPool

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._harness import ROLES, machine, role_url, with_fresh_database
from tenantry.kit.context import ContextSigner, TenantContext
from tenantry.kit.db import Database
from tenantry.kit.migrate import read_signing_key

QUERY = (
    "SELECT id, email, display_name, created_at FROM tenantry.app_users "
    "WHERE tenant_id = %s AND app_id = %s AND id = %s"
)


def seed(admin: str) -> tuple[TenantContext, ContextSigner]:
    with psycopg.connect(admin) as conn:
        conn.execute(f'SET ROLE "{ROLES.owner}"')
        key = read_signing_key(conn)
        conn.execute("RESET ROLE")  # seeding as the superuser, past row-level security
        app = conn.execute("SELECT id FROM tenantry.apps WHERE slug = 'thinktank'").fetchone()[0]
        tenants = []
        for n in range(50):  # other tenants' rows in the same tables and indexes
            tenant = conn.execute(
                "INSERT INTO tenantry.tenants (id, slug, name, status) "
                "VALUES (gen_random_uuid(), %s, 'T', 'active') RETURNING id",
                [f"t{n}"],
            ).fetchone()[0]
            conn.execute(
                "INSERT INTO tenantry.tenant_apps (tenant_id, app_id) VALUES (%s, %s)",
                [tenant, app],
            )
            conn.execute(
                "INSERT INTO tenantry.app_users (tenant_id, app_id, id, email) "
                "SELECT %s, %s, gen_random_uuid(), 'u' || g || '@example.com' FROM generate_series(1, 200) g",
                [tenant, app],
            )
            tenants.append(tenant)
        user = conn.execute(
            "SELECT id FROM tenantry.app_users WHERE tenant_id = %s LIMIT 1", [tenants[0]]
        ).fetchone()[0]
    return TenantContext(tenants[0], app, user), ContextSigner(key, 300)


def server_side_verify_us(
    admin: str, signer: ContextSigner, context: TenantContext, n: int
) -> float:
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'SET ROLE "{ROLES.owner}"')
        conn.execute(
            "SELECT set_config('tenantry.context', %s, false)", [signer.sign_tenant(context)]
        )
        # A correlated sub-select re-evaluates the verifier view once per row (hot: without
        # the per-statement executor start-up, which `rls_overhead` prices).
        started = time.perf_counter()
        conn.execute(
            f"SELECT count(*) FROM generate_series(1, {n}) g "
            "WHERE (SELECT s.tenant_id FROM tenantry.current_scope s WHERE g > 0) IS NOT NULL"
        )
        with_verify = time.perf_counter() - started
        started = time.perf_counter()
        conn.execute(
            f"SELECT count(*) FROM generate_series(1, {n}) g WHERE (SELECT g WHERE g > 0) IS NOT NULL"
        )
        baseline = time.perf_counter() - started
    return (with_verify - baseline) / n * 1e6


async def measure(admin: str, context: TenantContext, iterations: int) -> dict[str, list[float]]:
    # The floor uses a pool too, so both sides pay for checkout and return alike.
    owners = AsyncConnectionPool(
        admin, min_size=4, max_size=4, kwargs={"autocommit": True}, open=False
    )
    await owners.open(wait=True)
    params = [context.tenant_id, context.app_id, context.app_user_id]
    samples: dict[str, list[float]] = {"owner": [], "tenant_read": [], "tenant_tx": []}
    async with Database(
        role_url(admin, ROLES.runtime), role_url(admin, ROLES.platform), min_size=4, max_size=4
    ) as db:

        async def owner() -> None:
            async with owners.connection() as conn:
                await (await conn.execute(QUERY, params)).fetchall()

        async def tenant_read() -> None:
            rows = await db.read(context, QUERY, params)
            assert len(rows) == 1

        async def tenant_tx() -> None:
            async with db.tenant_transaction(context) as tx:
                assert await tx.fetch_one(QUERY, params)

        variants = {"owner": owner, "tenant_read": tenant_read, "tenant_tx": tenant_tx}
        for _ in range(200):  # warm up every connection and plan
            for fn in variants.values():
                await fn()
        order = [name for name in variants for _ in range(iterations)]
        random.Random(7).shuffle(order)
        for name in order:
            started = time.perf_counter()
            await variants[name]()
            samples[name].append((time.perf_counter() - started) * 1e6)
    await owners.close()
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    iterations = 1000 if args.quick else 5000

    def work(admin: str) -> tuple[float, dict[str, list[float]]]:
        context, signer = seed(admin)
        verify = server_side_verify_us(admin, signer, context, 20_000)
        return verify, asyncio.run(measure(admin, context, iterations))

    verify_us, samples = with_fresh_database(work)
    results = {
        name: {
            "median_us": round(statistics.median(values), 1),
            "p99_us": round(sorted(values)[int(len(values) * 0.99)], 1),
        }
        for name, values in samples.items()
    }
    owner = results["owner"]["median_us"]
    report = {
        "benchmark": "isolation_overhead",
        "machine": machine(),
        "iterations_per_variant": iterations,
        "results": results,
        "throughput_ratio_to_owner": {
            name: round(owner / r["median_us"], 3) for name, r in results.items()
        },
        "server_side_verify_us": round(verify_us, 2),
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"Isolation overhead, {iterations} interleaved reads per variant")
    print(f"{'variant':<14}{'median µs':>12}{'p99 µs':>10}{'owner/variant':>15}")
    for name, r in results.items():
        print(
            f"{name:<14}{r['median_us']:>12.1f}{r['p99_us']:>10.1f}{owner / r['median_us']:>15.2f}"
        )
    print(f"server-side cost of one context verification: {verify_us:.1f} µs")


if __name__ == "__main__":
    main()
