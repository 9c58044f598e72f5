"""Point read on Citus against a single server: one row by primary key, as the runtime role in
a signed tenant context, through `Database.read` as the service reads.

    python benchmarks/citus_point_read.py [--rows N] [--quick] [--json]
    (default: 1,000,000 rows; --quick: 100,000)

Single server: a fresh embedded PostgreSQL. Citus: a fresh database on the cluster `make
citus` starts (or `TENANTRY_CITUS_URL`), migrated and distributed (`tenantry citus
distribute`). Both get the same tenants (provisioned through the services) and the same rows
in `tenantry.security_events`, spread evenly over the tenants. Then, in interleaved rounds:

- `by key`: `WHERE tenant_id = $1 AND id = $2` — Citus routes it to the one shard;
- `by id only`: `WHERE id = $1`, the tenant left to the policy — Citus cannot route it and asks
  every shard (each shard's policy keeps other tenants' rows out).

Reported per case: median and 95th percentile latency, reads per second (one client), and the
Citus plan as the runtime role (tasks, and the shard's index). Without a Citus cluster the
benchmark stops with one line saying how to start one.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support.citus import citus_database, citus_url

from benchmarks._harness import ROLES, fresh_database, machine, role_url, stop
from tenantry.citus import service as citus
from tenantry.kit import migrate
from tenantry.kit.actor import Actor
from tenantry.kit.config import Settings
from tenantry.kit.context import TenantContext
from tenantry.kit.db import Database
from tenantry.kit.metrics import Metrics
from tenantry.services import build_services

BY = Actor("benchmark", "citus")
TENANTS = 10
ROUNDS = 5
READS_PER_ROUND = 400
SEED = """
INSERT INTO tenantry.security_events (tenant_id, id, kind, severity, ip, detail)
SELECT %(tenant)s, gen_random_uuid(), 'login_failed', 'info', '203.0.113.7',
       jsonb_build_object('n', g)
  FROM generate_series(1, %(rows)s) g"""
BY_KEY = "SELECT id, kind FROM tenantry.security_events WHERE tenant_id = %s AND id = %s"
BY_ID = "SELECT id, kind FROM tenantry.security_events WHERE id = %s"


async def prepare(admin: str, rows: int, work: Path) -> dict[str, Any]:
    """Tenants through the services, rows by the superuser; a sample of keys to read."""
    db = Database(role_url(admin, ROLES.runtime), role_url(admin, ROLES.platform))
    settings = Settings(database_url=admin, role_prefix=ROLES.prefix, data_dir=work)
    async with db:
        services = build_services(settings, db, Metrics())
        contexts = []
        for n in range(TENANTS):
            tenant, apps = await services.tenant_admin.ensure_tenant(
                f"t{n}", f"Tenant {n}", "free", ["thinktank"], by=BY
            )
            contexts.append(TenantContext(tenant_id=tenant.id, app_id=apps["thinktank"].id))
    started = time.perf_counter()
    with psycopg.connect(admin) as conn:
        for context in contexts:
            conn.execute(SEED, {"tenant": context.tenant_id, "rows": rows // TENANTS})
            conn.commit()
        conn.execute("ANALYZE tenantry.security_events")
        keys = conn.execute(
            "SELECT tenant_id, id FROM tenantry.security_events TABLESAMPLE SYSTEM (1) LIMIT 2000"
        ).fetchall()
    by_tenant = {c.tenant_id: c for c in contexts}
    return {
        "keys": [(by_tenant[tenant], row_id) for tenant, row_id in keys],
        "seed_s": round(time.perf_counter() - started, 1),
    }


async def read_rounds(admin: str, keys: list[tuple[TenantContext, uuid.UUID]]) -> dict[str, Any]:
    db = Database(role_url(admin, ROLES.runtime), role_url(admin, ROLES.platform))
    times: dict[str, list[float]] = {"by key": [], "by id only": []}
    async with db:
        for round_ in range(ROUNDS + 1):  # the first round warms caches and connections
            for case, samples in times.items():
                for context, row_id in keys[:READS_PER_ROUND]:
                    query, params = (
                        (BY_KEY, [context.tenant_id, row_id])
                        if case == "by key"
                        else (BY_ID, [row_id])
                    )
                    started = time.perf_counter()
                    found = await db.read(context, query, params)
                    took = time.perf_counter() - started
                    assert len(found) == 1, (case, row_id)
                    if round_:
                        samples.append(took)
        plan = await explain(db, keys[0])
    return {case: summary(samples) for case, samples in times.items()} | {"plan": plan}


async def explain(db: Database, key: tuple[TenantContext, uuid.UUID]) -> list[str]:
    """The point read's plan as the runtime role in the tenant's signed context."""
    context, row_id = key
    async with db.tenant_transaction(context) as tx:
        query = sql.SQL("EXPLAIN (COSTS OFF) ") + sql.SQL(BY_KEY)
        rows = await tx.fetch_all(query, [context.tenant_id, row_id])
    return [next(iter(row.values())) for row in rows]


def summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "median_ms": round(statistics.median(ordered) * 1000, 3),
        "p95_ms": round(ordered[int(len(ordered) * 0.95)] * 1000, 3),
        "reads_per_s": round(len(ordered) / sum(ordered)),
    }


async def measure(admin: str, rows: int, work: Path) -> dict[str, Any]:
    prepared = await prepare(admin, rows, work)
    return {"seed_s": prepared["seed_s"], **await read_rounds(admin, prepared["keys"])}


def run(rows: int, work: Path) -> dict[str, Any]:
    url = citus_url()
    if url is None:
        sys.exit("no Citus cluster: run `make citus` (or set TENANTRY_CITUS_URL)")
    single = fresh_database()
    try:
        alone = asyncio.run(measure(single.admin, rows, work / "single"))
    finally:
        stop(single)
        shutil.rmtree(single.data_dir, ignore_errors=True)
    with citus_database(url, f"bench_citus_{uuid.uuid4().hex[:8]}") as admin:
        migrate.upgrade(admin, ROLES)
        citus.distribute(admin, ROLES)
        with psycopg.connect(admin) as conn:
            workers = len(conn.execute("SELECT * FROM citus_get_active_worker_nodes()").fetchall())
        on_citus = asyncio.run(measure(admin, rows, work / "citus"))
    ratio = {
        case: round(on_citus[case]["median_ms"] / alone[case]["median_ms"], 2)
        for case in ("by key", "by id only")
    }
    return {
        "rows": rows,
        "tenants": TENANTS,
        "workers": workers,
        "single_server": alone,
        "citus": on_citus,
        "citus_over_single_median": ratio,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--quick", action="store_true", help="100,000 rows")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tenantry-citus-bench-") as work:
        result = run(100_000 if args.quick else args.rows, Path(work))
    result["machine"] = machine()
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key}: {value}")


if __name__ == "__main__":
    main()
