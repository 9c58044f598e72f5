"""Tenant move: move a tenant of 1M rows from the shared database into a silo and back, while a
client keeps writing and reading it.

    python benchmarks/tenant_move.py [--rows N] [--quick] [--json]
    (default: 1,000,000 rows; --quick: 50,000)

One embedded PostgreSQL server, two databases: the home database (placement `shared`) and a
silo, both freshly migrated. The tenant gets N rows: 70% AI cost events, 20% security events,
10% audit log entries (each one checked against the chain as it is copied), besides what
provisioning writes. During each move a writer inserts a security event every 20 ms and a reader
counts them, each through `platform_transaction(tenant_id=…)`, routed as the service routes:
the write downtime is the longest stretch of refused writes (503 `tenant_moving`), which the
move also reports (`frozen_seconds`, from the freeze to the target taking writes). Afterwards
every table's row count and checksum must equal the source's, and nothing may be left behind.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psycopg
from psycopg import conninfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._harness import ROLES, fresh_database, machine, role_url, stop
from tenantry.kit import migrate, silos
from tenantry.kit.actor import Actor
from tenantry.kit.config import Settings
from tenantry.kit.db import Database
from tenantry.kit.errors import TenantMoving
from tenantry.kit.metrics import Metrics
from tenantry.placements.moves import TenantMoves
from tenantry.services import Services, build_services

BY = Actor("benchmark", "move")
SILO = "silo"
SEED_CHUNK = 50_000
SEED = {
    "cost": """
        INSERT INTO ai.cost_events (tenant_id, app_id, id, occurred_at, service, model,
                                    input_tokens, output_tokens, cost_usd, metadata)
        SELECT %(tenant)s, %(app)s, gen_random_uuid(), now() - g * interval '1 second',
               'llm', 'small-1', g %% 900, g %% 300, (g %% 1000) / 100000.0,
               jsonb_build_object('request', g)
          FROM generate_series(1, %(rows)s) g""",
    "security": """
        INSERT INTO tenantry.security_events (tenant_id, id, kind, severity, ip, detail)
        SELECT %(tenant)s, gen_random_uuid(), 'login_failed', 'info', '203.0.113.7',
               jsonb_build_object('n', g, 'reason', 'bad password')
          FROM generate_series(1, %(rows)s) g""",
    "audit": """
        INSERT INTO tenantry.audit_log (tenant_id, actor, action, object_type, object_id,
                                        metadata)
        SELECT %(tenant)s, 'benchmark:seed', 'bench.seed', 'thing', g::text,
               jsonb_build_object('n', g, 'note', 'a row of a large tenant')
          FROM generate_series(1, %(rows)s) g""",
}
SHARES = {"cost": 0.7, "security": 0.2, "audit": 0.1}
WRITE = (
    "INSERT INTO tenantry.security_events (tenant_id, id, kind, severity)"
    " VALUES (%s, gen_random_uuid(), 'bench_write', 'info')"
)
READ = "SELECT count(*) AS n FROM tenantry.security_events WHERE tenant_id = %s"
INTERVAL = 0.02


def services_on(admin: str, data_dir: Path) -> tuple[Database, Services]:
    db = Database(role_url(admin, ROLES.runtime), role_url(admin, ROLES.platform), max_size=6)
    settings = Settings(database_url=admin, role_prefix=ROLES.prefix, data_dir=data_dir)
    return db, build_services(settings, db, Metrics())


def seed(db: Database, admin: str, tenant_id: object, app_id: object, rows: int) -> float:
    started = time.perf_counter()
    with psycopg.connect(role_url(admin, ROLES.platform)) as conn:
        for kind, share in SHARES.items():
            total = int(rows * share)
            for done in range(0, total, SEED_CHUNK):
                conn.execute(
                    "SELECT set_config('tenantry.context', %s, true)", [db.signer.sign_platform()]
                )
                count = min(SEED_CHUNK, total - done)
                conn.execute(SEED[kind], {"tenant": tenant_id, "app": app_id, "rows": count})
                conn.commit()
    return time.perf_counter() - started


def silo_database(home_admin: str) -> tuple[str, str]:
    """A second database on the same server, prepared as a placement: (admin URL, URL)."""
    migrate.ensure_database(silos.server_of(home_admin), "silo")
    admin = conninfo.make_conninfo(home_admin, dbname="silo")
    migrate.upgrade(admin, ROLES)
    silos.clear_catalogs(admin)
    params = conninfo.conninfo_to_dict(admin)
    where = {k: str(v) for k, v in params.items() if k in {"host", "port", "dbname"}}
    return admin, conninfo.make_conninfo("", **where)


def tenant_rows(admin: str, tenant_id: object) -> int:
    with psycopg.connect(admin) as conn:
        tables = conn.execute(
            "SELECT format('%I.%I', table_schema, table_name) FROM tenantry.scoped_tables"
        ).fetchall()
        return sum(
            conn.execute(
                f"SELECT count(*) FROM {name} WHERE tenant_id = %s", [tenant_id]
            ).fetchone()[0]
            for (name,) in tables
        )


class Client:
    """Writes and reads the tenant every 20 ms, routed wherever it lives."""

    def __init__(self, db: Database, tenant_id: object) -> None:
        self._db, self._tenant = db, tenant_id
        self.ok = self.refused = self.read_failures = 0
        self.longest_refusal = 0.0
        self._refused_since: float | None = None

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            now = time.perf_counter()
            try:
                async with self._db.platform_transaction(tenant_id=self._tenant) as tx:
                    await tx.execute(WRITE, [self._tenant])
                self.ok += 1
                if self._refused_since is not None:
                    self.longest_refusal = max(self.longest_refusal, now - self._refused_since)
                    self._refused_since = None
            except TenantMoving:
                self.refused += 1
                self._refused_since = self._refused_since or now
            try:
                async with self._db.platform_transaction(tenant_id=self._tenant) as tx:
                    await tx.fetch_one(READ, [self._tenant])
            except Exception:  # noqa: BLE001 - every failed read counts
                self.read_failures += 1
            await asyncio.sleep(INTERVAL)


async def timed_move(db: Database, tenant_id: object, to: str) -> dict[str, Any]:
    client, done = Client(db, tenant_id), asyncio.Event()
    writer = asyncio.create_task(client.run(done))
    await asyncio.sleep(0.5)
    steps: dict[str, float] = {}
    last = time.perf_counter()

    async def step(name: str) -> None:
        nonlocal last
        now = time.perf_counter()
        steps[name] = round(now - last, 2)
        last = now

    report = await TenantMoves(db, checkpoint=step).move("large", to, by=BY)
    await asyncio.sleep(0.5)
    done.set()
    await writer
    return {
        "move_s": round(report.seconds, 1),
        "rows": report.rows,
        "rows_per_s": round(report.rows / report.seconds),
        "frozen_s": round(report.frozen_seconds, 1),
        "client_longest_refusal_s": round(client.longest_refusal, 1),
        "client_writes_ok": client.ok,
        "client_writes_refused": client.refused,
        "client_read_failures": client.read_failures,
        "step_s": steps,
    }


async def run(rows: int, work: Path) -> dict[str, Any]:
    home = fresh_database()
    try:
        silo_admin, silo_url = silo_database(home.admin)
        db, services = services_on(home.admin, work)
        async with db:
            await services.placements.add(SILO, silo_url)
            tenant, _ = await services.tenant_admin.ensure_tenant(
                "large", "Large Co", "enterprise", ["thinktank"], by=BY
            )
            await services.apps.reload()
            app_id = services.apps.by_slug("thinktank").id
            seeded = seed(db, home.admin, tenant.id, app_id, rows)
            before = tenant_rows(home.admin, tenant.id)
            out = await timed_move(db, tenant.id, SILO)
            in_silo, left_home = (
                tenant_rows(silo_admin, tenant.id),
                tenant_rows(home.admin, tenant.id),
            )
            back = await timed_move(db, tenant.id, "shared")
            left_silo = tenant_rows(silo_admin, tenant.id)
        return {
            "tenant_rows": before,
            "seed_s": round(seeded, 1),
            "to_silo": out,
            "back_to_shared": back,
            "whole_in_silo": in_silo >= before and left_home == 0,
            "nothing_left_in_silo": left_silo == 0,
        }
    finally:
        stop(home)
        shutil.rmtree(home.data_dir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--quick", action="store_true", help="50,000 rows")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tenantry-move-bench-") as work:
        result = asyncio.run(run(50_000 if args.quick else args.rows, Path(work)))
    result["machine"] = machine()
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key}: {value}")
    if not (result["whole_in_silo"] and result["nothing_left_in_silo"]):
        sys.exit(1)


if __name__ == "__main__":
    main()
