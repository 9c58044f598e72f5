"""The tenant context in one call: cold load, warm load, cache hit, and invalidation delay.

cold      `ContextService.load` with an empty cache: one statement (user, tenant, settings,
          apps, flags) in one round trip
warm      cached context; the credential's session is still re-checked (one small statement)
hit       the in-memory lookup alone, without the session re-check
delay     from COMMIT returning in one app instance to another instance's listener dropping
          the tenant's cached contexts, with PostgreSQL NOTIFY and (when reachable) Redis
          pub/sub (published after commit)

  python benchmarks/tenant_context.py [--quick] [--json]
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
from tenantry.identity.passwords import hash_password
from tenantry.kit.actor import Actor
from tenantry.kit.config import Settings
from tenantry.kit.db import Database
from tenantry.kit.metrics import Metrics
from tenantry.security_events.service import Origin
from tenantry.services import build_services
from tenantry.tenants.lifecycle import ProvisionRequest

REDIS = "redis://127.0.0.1:6379/0"
BENCH = Actor("benchmark", "tenant_context")
PASSWORD = "benchmark-password-not-secret-7"


def summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50_us": round(statistics.median(ordered), 2),
        "p99_us": round(ordered[int(len(ordered) * 0.99)], 2),
    }


async def redis_reachable() -> bool:
    try:
        from redis.asyncio import Redis

        client = Redis.from_url(REDIS)
        await client.ping()
        await client.aclose()
    except Exception:  # noqa: BLE001 - any failure means "not available here"
        return False
    return True


async def run(admin: str, iterations: int) -> dict[str, object]:
    settings = Settings(database_url=admin, role_prefix=ROLES.prefix)
    async with Database(
        role_url(admin, ROLES.runtime), role_url(admin, ROLES.platform), min_size=2, max_size=4
    ) as db:
        services = build_services(settings, db, Metrics())
        await services.apps.reload()
        provisioned = await services.tenant_admin.provision(
            ProvisionRequest(
                slug="bench",
                name="Bench",
                plan="business",
                apps=["thinktank"],
                admin_email="a@bench.test",
            ),
            by=BENCH,
        )
        tenant = provisioned.tenant
        app = services.apps.by_slug("thinktank")
        await services.users.add(
            tenant.id, app.id, "u@bench.test", password_hash=await hash_password(PASSWORD)
        )
        for n in range(20):
            await services.flags.define(f"bench.flag{n}", "boolean", False, by=BENCH, reason="b")
            await services.flags.set_override("bench", f"bench.flag{n}", True, by=BENCH, reason="b")
        await services.keys.ensure_keys([app.id])
        tokens = await services.identity.login(
            app, "bench", "u@bench.test", PASSWORD, Origin(), None
        )
        principal = await services.identity.authenticate(app, tokens.access_token, Origin(), None)
        checks = services.identity.credential_checks(principal)
        context = services.context
        for _ in range(50):
            await context.load(principal, checks)
            context.invalidate(str(tenant.id))

        cold, warm, hit, statements = [], [], [], []
        for _ in range(iterations):
            context.invalidate(str(tenant.id))
            before = db.runtime_pool.get_stats().get("requests_num", 0)
            started = time.perf_counter()
            await context.load(principal, checks)
            cold.append((time.perf_counter() - started) * 1e6)
            statements.append(db.runtime_pool.get_stats().get("requests_num", 0) - before)
            started = time.perf_counter()
            await context.load(principal, checks)
            warm.append((time.perf_counter() - started) * 1e6)
            started = time.perf_counter()
            await context.load(principal, [])
            hit.append((time.perf_counter() - started) * 1e6)

        delays = {
            "postgres": await invalidation_delay(settings, db, "bench", iterations // 10 or 10)
        }
        if await redis_reachable():
            redis_settings = settings.model_copy(update={"redis_url": REDIS})
            delays["redis"] = await invalidation_delay(
                redis_settings, db, "bench", iterations // 10 or 10
            )
        return {
            "cold": summary(cold),
            "warm": summary(warm),
            "hit": summary(hit),
            "round_trips_per_cold_load": max(statements),
            "invalidation_delay": delays,
        }


async def invalidation_delay(
    settings: Settings, db: Database, slug: str, rounds: int
) -> dict[str, float]:
    """Commit in instance A; time until instance B's listener has dropped the tenant's entries."""
    writer = build_services(settings, db, Metrics())
    reader = build_services(settings, db, Metrics())
    for services in (writer, reader):
        await services.listener.start()
    committed: list[float] = []

    async def mark_commit(_: list[str]) -> None:
        committed.append(time.perf_counter())

    # The commit time is taken as soon as COMMIT returns, before the writer's own listeners run.
    db.commit_listeners.insert(0, mark_commit)
    db.commit_listeners.append(writer.listener.after_commit)
    samples = []
    heard_at: list[float] = []
    reader.listener.subscribe(lambda _: heard_at.append(time.perf_counter()))
    try:
        for n in range(rounds):
            committed.clear()
            heard_at.clear()
            await writer.settings_admin.set(
                slug, "timezone", f"Etc/GMT+{n % 12}", by=BENCH, reason="b"
            )
            deadline = time.perf_counter() + 5
            while not heard_at:
                assert time.perf_counter() < deadline, "invalidation never arrived"
                await asyncio.sleep(0)
            samples.append((heard_at[0] - committed[0]) * 1e6)
    finally:
        db.commit_listeners.remove(mark_commit)
        db.commit_listeners.remove(writer.listener.after_commit)
        for services in (writer, reader):
            await services.listener.stop()
    return summary(samples)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results = with_fresh_database(
        lambda admin: asyncio.run(run(admin, 300 if args.quick else 3000))
    )
    report = {"benchmark": "tenant_context", "machine": machine(), "results": results}
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print("Tenant context (20 flags with overrides, 8 settings)")
    for name in ("cold", "warm", "hit"):
        r = results[name]
        print(f"  {name:<6} p50 {r['p50_us']:>9.1f} µs   p99 {r['p99_us']:>9.1f} µs")
    print(f"  round trips per cold load: {results['round_trips_per_cold_load']}")
    for backend, r in results["invalidation_delay"].items():
        print(
            f"  invalidation delay ({backend}): p50 {r['p50_us'] / 1000:.2f} ms, p99 {r['p99_us'] / 1000:.2f} ms"
        )


if __name__ == "__main__":
    main()
