"""What the alert rules cost a security event, and the one-alert guarantee under load.

    python benchmarks/alerts.py [--quick] [--json]     (--quick: 400 events per measure, else 2,000)

a  unmatched   `SecurityEvents.record` of a kind no rule watches (`account_locked`): the event
               alone, the baseline
b  counted     `app_mismatch` from many addresses: the event plus one upsert into its window
c  one window  eight concurrent writers, one tenant, one address: every event queues on the
               same window's row; exactly one alert (and one mail per administrator) must come out
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
from tenantry.security_events.service import Origin
from tenantry.services import Services, build_services

if TYPE_CHECKING:
    from collections.abc import Callable
    from uuid import UUID

BY = Actor("benchmark", "alerts")
WRITERS = 8


async def _timed(
    services: Services, tenant_id: UUID, kind: str, n: int, ip: Callable[[int], str]
) -> dict[str, float]:
    latencies = []
    started = time.perf_counter()
    for i in range(n):
        t0 = time.perf_counter()
        await services.events.record(kind, tenant_id=tenant_id, origin=Origin(ip=ip(i)))
        latencies.append(time.perf_counter() - t0)
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "events_per_s": round(n / elapsed),
        "p50_ms": round(statistics.median(latencies) * 1000, 3),
        "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 3),
    }


async def run(admin: str, events: int) -> dict[str, object]:
    async with Database(
        role_url(admin, ROLES.runtime), role_url(admin, ROLES.platform), min_size=2, max_size=16
    ) as db:
        services = build_services(
            Settings(database_url=admin, role_prefix=ROLES.prefix), db, Metrics()
        )
        tenant, _ = await services.tenant_admin.ensure_tenant(
            "alerts-bench", "Bench", "business", ["admin"], by=BY
        )
        result: dict[str, object] = {"events": events}
        result["a_unmatched"] = await _timed(
            services, tenant.id, "account_locked", events, lambda i: f"10.0.{i // 250}.{i % 250}"
        )
        result["b_counted"] = await _timed(
            services, tenant.id, "app_mismatch", events, lambda i: f"10.1.{i // 250}.{i % 250}"
        )
        per_writer = events // WRITERS

        async def writer() -> None:
            for _ in range(per_writer):
                await services.events.record(
                    "tenant_mismatch", tenant_id=tenant.id, origin=Origin(ip="192.0.2.200")
                )

        started = time.perf_counter()
        await asyncio.gather(*(writer() for _ in range(WRITERS)))
        elapsed = time.perf_counter() - started
        raised = [
            a
            for a in await services.alerts.search(tenant.id, limit=500)
            if a.source == "192.0.2.200"
        ]
        result["c_one_window"] = {
            "writers": WRITERS,
            "events_per_s": round(per_writer * WRITERS / elapsed),
            "alerts": len(raised),
            "counted": sum(a.occurrences for a in raised),
        }
        return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    events = 400 if args.quick else 2_000
    result = with_fresh_database(lambda admin: asyncio.run(run(admin, events)))
    result["machine"] = machine()
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key}: {value}")


if __name__ == "__main__":
    main()
