"""Provisioning: latency of one atomic provision (tenant, settings, apps, first admin and its
invitation, lifecycle trail), and the time to provision many tenants in a row.

    python benchmarks/provisioning.py [--quick] [--json]      (--quick: 300 tenants, else 10,000)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._harness import ROLES, machine, role_url, with_fresh_database
from tenantry.kit.actor import Actor
from tenantry.kit.config import Settings
from tenantry.kit.db import Database
from tenantry.kit.metrics import Metrics
from tenantry.services import build_services
from tenantry.tenants.lifecycle import ProvisionRequest


async def run(admin: str, count: int) -> dict[str, object]:
    async with Database(
        role_url(admin, ROLES.runtime), role_url(admin, ROLES.platform), min_size=2, max_size=4
    ) as db:
        service = build_services(
            Settings(database_url=admin, role_prefix=ROLES.prefix), db, Metrics()
        ).tenant_admin
        samples = []
        started = time.perf_counter()
        for n in range(count):
            request = ProvisionRequest(
                slug=f"bulk-{n:06d}",
                name=f"Bulk {n}",
                plan="business",
                apps=["thinktank", "launchboard"],
                admin_email=f"admin@bulk-{n}.test",
                settings={"locale": "en-GB", "max_users": 50},
            )
            one = time.perf_counter()
            await service.provision(
                request, by=Actor("benchmark", "provisioning"), idempotency_key=f"bench:{n}"
            )
            samples.append((time.perf_counter() - one) * 1000)
        total = time.perf_counter() - started
    ordered = sorted(samples)
    return {
        "tenants": count,
        "p50_ms": round(statistics.median(ordered), 2),
        "p99_ms": round(ordered[int(len(ordered) * 0.99)], 2),
        "total_s": round(total, 1),
        "tenants_per_s": round(count / total, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results = with_fresh_database(
        lambda admin: asyncio.run(run(admin, 300 if args.quick else 10_000))
    )
    report = {"benchmark": "provisioning", "machine": machine(), "results": results}
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(
        f"Provisioning {results['tenants']} tenants one after another: p50 {results['p50_ms']} ms, "
        f"p99 {results['p99_ms']} ms, total {results['total_s']} s ({results['tenants_per_s']} tenants/s)"
    )


if __name__ == "__main__":
    main()
