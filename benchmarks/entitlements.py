"""The entitlement check on the request path: warm (the snapshot in memory) and cold (loaded).

warm     `Entitlements.admit` (the licence state for a write) plus `require_feature` — what
         every request of a licensed app and every `RequiresFeature` route pay — with the
         tenant's snapshot cached; timed per call and as a tight loop
cold     the same after dropping the tenant's snapshot: one read of `tenantry.entitlements` as
         the runtime role in a signed context

The licences are issued through the product (`Licences.issue`) for 200 tenants.

  python benchmarks/entitlements.py [--quick] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._harness import ROLES, machine, role_url, with_fresh_database
from tenantry.kit.actor import Actor
from tenantry.kit.config import Settings
from tenantry.kit.db import Database
from tenantry.kit.metrics import Metrics
from tenantry.services import build_services

if TYPE_CHECKING:
    from uuid import UUID

BY = Actor("benchmark", "entitlements")


def summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50_us": round(statistics.median(ordered), 2),
        "p99_us": round(ordered[int(len(ordered) * 0.99)], 2),
    }


async def measure(admin: str, tenants: int, rounds: int) -> dict[str, object]:
    settings = Settings(database_url=admin, role_prefix=ROLES.prefix)
    async with Database(
        role_url(admin, ROLES.runtime), role_url(admin, ROLES.platform), min_size=2, max_size=4
    ) as db:
        services = build_services(settings, db, Metrics())
        await services.apps.reload()
        await services.licences.keys.rotate()
        app = services.apps.by_slug("thinktank")
        ids = []
        for n in range(tenants):
            tenant, _ = await services.tenant_admin.ensure_tenant(
                f"ent-{n}", f"Ent {n}", "free", ["thinktank"], by=BY
            )
            await services.licences.issue(
                tenant.slug,
                "thinktank",
                plan="pro",
                seats=50,
                features=["reports", "exports", "sso"],
                limits={"boards": 10},
                days=365,
                grace_days=14,
                by=BY,
            )
            ids.append(tenant.id)
        check = services.entitlements

        async def once(tenant_id: UUID) -> None:
            await check.admit(tenant_id, app.id, "thinktank", "POST")
            await check.require_feature(tenant_id, app.id, "thinktank", "reports")

        cold, warm = [], []
        for n in range(rounds):
            tenant_id = ids[n % len(ids)]
            check.invalidate(str(tenant_id))
            started = time.perf_counter()
            await once(tenant_id)
            cold.append((time.perf_counter() - started) * 1e6)
            started = time.perf_counter()
            await once(tenant_id)
            warm.append((time.perf_counter() - started) * 1e6)
        loop = rounds * 100
        started = time.perf_counter()
        for n in range(loop):
            await once(ids[n % len(ids)])
        mean = (time.perf_counter() - started) * 1e6 / loop
        return {
            "tenants": tenants,
            "warm": summary(warm),
            "warm_loop_mean_us": round(mean, 2),
            "cold": summary(cold),
        }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    tenants, rounds = (20, 500) if args.quick else (200, 5000)
    results = with_fresh_database(lambda admin: asyncio.run(measure(admin, tenants, rounds)))
    report = {"benchmark": "entitlements", "machine": machine(), "results": results}
    if args.json:
        print(json.dumps(report, indent=2, default=str))
        return
    print(f"Entitlement check: {tenants} licensed tenants, {rounds} rounds")
    for name in ("warm", "cold"):
        p = results[name]
        print(f"  {name:<5} p50 {p['p50_us']:>9.2f} µs   p99 {p['p99_us']:>9.2f} µs")
    print(f"  warm, tight loop: {results['warm_loop_mean_us']} µs per check")


if __name__ == "__main__":
    main()
