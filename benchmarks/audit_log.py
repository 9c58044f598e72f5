"""The audit log's hash chain: append throughput and verification speed.

    python benchmarks/audit_log.py [--quick] [--json]     (--quick: 100,000 rows to verify, else 1M)

a  single writer      one tenant, `AuditLog.record_in` (one statement) per entry, 100 entries
                      per transaction; and `record_many_in` (100 entries in one statement)
b  multi-tenant       four writers at once, each its own tenant, the same transactions
c  set-based insert   one INSERT … SELECT generate_series per transaction (50,000 rows),
                      through the chain trigger: what the database itself sustains
d  verify             `tenantry audit verify` for one tenant holding all the rows of (c)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._harness import ROLES, machine, role_url, with_fresh_database
from tenantry.kit.actor import Actor
from tenantry.kit.config import Settings
from tenantry.kit.db import Database
from tenantry.kit.metrics import Metrics
from tenantry.services import Services, build_services

if TYPE_CHECKING:
    from tenantry.kit.context import ContextSigner

BY = Actor("benchmark", "audit")
PER_TRANSACTION = 100
SEED_CHUNK = 50_000
SEED = """
INSERT INTO tenantry.audit_log (tenant_id, actor, action, object_type, object_id, metadata)
SELECT %s, 'benchmark:seed', 'bench.seed', 'thing', g::text, jsonb_build_object('n', g)
  FROM generate_series(1, %s) g
"""


async def append(services: Services, tenant_id: object, rows: int, *, batched: bool) -> None:
    for start in range(0, rows, PER_TRANSACTION):
        async with services.db.platform_transaction() as tx:
            if batched:
                entries = [
                    {
                        "action": "bench.write",
                        "object_type": "thing",
                        "object_id": n,
                        "metadata": {"n": n, "note": "benchmark"},
                    }
                    for n in range(start, min(rows, start + PER_TRANSACTION))
                ]
                await services.audit.record_many_in(tx, tenant_id=tenant_id, by=BY, entries=entries)
                continue
            for n in range(start, min(rows, start + PER_TRANSACTION)):
                await services.audit.record_in(
                    tx,
                    tenant_id=tenant_id,
                    action="bench.write",
                    object_type="thing",
                    object_id=n,
                    by=BY,
                    metadata={"n": n, "note": "benchmark"},
                )


def seed(admin: str, signer: ContextSigner, tenant_id: object, rows: int) -> float:
    started = time.perf_counter()
    with psycopg.connect(role_url(admin, ROLES.platform)) as conn:
        for done in range(0, rows, SEED_CHUNK):
            conn.execute(
                "SELECT set_config('tenantry.context', %s, true)", [signer.sign_platform()]
            )
            conn.execute(SEED, [tenant_id, min(SEED_CHUNK, rows - done)])
            conn.commit()
    return time.perf_counter() - started


async def run(admin: str, verify_rows: int, append_rows: int) -> dict[str, object]:
    async with Database(
        role_url(admin, ROLES.runtime), role_url(admin, ROLES.platform), min_size=2, max_size=8
    ) as db:
        services = build_services(
            Settings(database_url=admin, role_prefix=ROLES.prefix), db, Metrics()
        )
        tenants = [
            (
                await services.tenant_admin.ensure_tenant(
                    f"audit-{n}", "Bench", "business", [], by=BY
                )
            )[0]
            for n in range(5)
        ]
        figures: dict[str, object] = {}
        for batched, label in ((False, "record_in"), (True, "record_many_in")):
            started = time.perf_counter()
            await append(services, tenants[0].id, append_rows, batched=batched)
            figures[f"single_writer_{label}_rows_per_s"] = round(
                append_rows / (time.perf_counter() - started)
            )
            started = time.perf_counter()
            await asyncio.gather(
                *(append(services, t.id, append_rows, batched=batched) for t in tenants[1:])
            )
            figures[f"four_tenants_{label}_rows_per_s"] = round(
                4 * append_rows / (time.perf_counter() - started)
            )

        signer = db.signer
        verify_tenant = (
            await services.tenant_admin.ensure_tenant(
                "audit-verify", "Bench", "business", [], by=BY
            )
        )[0]
        seeded = seed(admin, signer, verify_tenant.id, verify_rows)

        started = time.perf_counter()
        statuses = [s async for s in services.audit.verify("audit-verify")]
        verified = time.perf_counter() - started
        assert statuses[0].ok, statuses[0].problem
    return {
        **figures,
        "set_based_insert_rows_per_s": round(verify_rows / seeded),
        "verify_rows": statuses[0].rows,
        "verify_s": round(verified, 2),
        "verify_rows_per_s": round(statuses[0].rows / verified),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    verify_rows = 100_000 if args.quick else 1_000_000
    append_rows = 2_000 if args.quick else 10_000
    result = with_fresh_database(lambda admin: asyncio.run(run(admin, verify_rows, append_rows)))
    result["machine"] = machine()
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key}: {value}")


if __name__ == "__main__":
    main()
