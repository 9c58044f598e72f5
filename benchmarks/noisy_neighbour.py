"""Noisy neighbour: a victim tenant's p99 latency while another tenant saturates the service,
with and without the fair-share limits.

Two copies of the real service (uvicorn in their own processes, the same database) run side by
side on loopback:

  off  rate limits off, no cap on a tenant's share of the runtime pool, the built-in statement
       timeouts (10 s for the free plan: the noise's slow queries run to the end)
  on   rate limits on (the built-in quotas: free 20 requests/s, burst 40), a tenant may hold
       half of the runtime pool, and the free plan's statements are cut after 0.25 s

The victim (business plan) sends GET /v1/apps/thinktank/me at a steady 40 requests/s from one
client and records each latency. The noisy tenant (free plan) runs `wrk` with many connections:
nine in ten requests are the same GET, one in ten a slow request (one statement of 1 s, like a
runaway report), all as fast as the answers come back. Each figure is the victim's p99, idle
and under the noise, on the same server; rounds interleave the four cases in random order so
that drifting machine load hits each alike. The ratio noisy/idle is the figure of merit
(target: at most 1.5 with the limits on).

    python benchmarks/noisy_neighbour.py [--quick] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Annotated, Any

import httpx
from fastapi import APIRouter

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._harness import (
    ROLES,
    free_port,
    fresh_database,
    machine,
    role_url,
    stop,
    wait_ready,
)
from tenantry.library import Module, Scope, Scoped, TenantTransaction

PASSWORD = "benchmark-passphrase-correct-horse"
ME = "/v1/apps/thinktank/me"
SLOW = "/v1/apps/thinktank/bench/slow"
VICTIM_RATE = 40  # requests a second
POOL_SIZE = 8  # per worker
CONFIGS: dict[str, dict[str, Any]] = {
    "off": {},
    "on": {
        "rate_limits": True,
        "tenant_pool_share": 0.5,
        "tenant_pool_wait_seconds": 2,
        "plan_quotas": {"free": {"statement_timeout_seconds": 0.25}},
    },
}
# The noise: `connections` clients, each sending as fast as answers come back, one request in
# `slow_every` the slow one, the rest the same GET as the victim's; `polite` clients wait as a
# 429's Retry-After asks, with jitter (as client libraries do), the others ignore it.
PROFILES: dict[str, dict[str, int]] = {
    "heavy": {"connections": 16, "slow_every": 2, "polite": 0},  # the pool
    "flood": {"connections": 64, "slow_every": 10, "polite": 0},  # the CPU and the pool
    "polite": {"connections": 64, "slow_every": 10, "polite": 1},  # its whole quota, no more
}
NOISE_LUA = """
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args)
  n, statuses, polite, backoff_until = 0, {}, %(polite)d == 1, 0
  light = wrk.format("GET", "%(me)s")
  slow = wrk.format("GET", "%(slow)s")
end
function request()
  n = n + 1
  if n %% %(slow_every)d == 0 then return slow end
  return light
end
function delay()
  -- As client libraries do: the wait asked for, plus up to half a second of jitter.
  if polite and backoff_until > os.time() then
    return (backoff_until - os.time()) * 1000 + math.random(0, 500)
  end
  return 0
end
function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  if polite and status == 429 then
    backoff_until = os.time() + (tonumber(headers["Retry-After"]) or 1)
  end
end
function done(summary, latency, requests)
  local total, parts = {}, {}
  for _, t in ipairs(threads) do
    for code, count in pairs(t:get("statuses")) do total[code] = (total[code] or 0) + count end
  end
  for code, count in pairs(total) do
    table.insert(parts, string.format('"%%d": %%d', code, count))
  end
  io.write(string.format('{"requests": %%d, "duration_us": %%d, "socket_errors": %%d, '
    .. '"statuses": {%%s}}\\n', summary.requests, summary.duration,
    summary.errors.connect + summary.errors.read + summary.errors.write
      + summary.errors.timeout, table.concat(parts, ", ")))
end
"""


def serve(admin: str, port: int, workers: int, config: str) -> None:
    """Child process: the product app plus the slow route, served by uvicorn."""
    import uvicorn

    os.environ["BENCH_ADMIN_URL"] = admin
    os.environ["BENCH_PORT"] = str(port)
    os.environ["BENCH_CONFIG"] = config
    uvicorn.run(
        "benchmarks.noisy_neighbour:bench_app",
        factory=True,
        host="127.0.0.1",
        port=port,
        workers=workers,
        log_level="warning",
        access_log=False,
    )


router = APIRouter()


@router.get(SLOW.replace("thinktank", "{app}"))
async def slow(
    scoped: Annotated[Scoped, TenantTransaction(Scope.PROFILE, read_only=True)],
) -> dict[str, bool]:
    """A runaway report: one statement of a second."""
    await scoped.tx.execute("SELECT pg_sleep(1)")
    return {"done": True}


def bench_app() -> object:
    """The product app with the slow route (a module's, as a team would add it)."""
    from tenantry.kit.config import Settings
    from tenantry.kit.modules import installed_modules
    from tenantry.web import create_app

    admin = os.environ["BENCH_ADMIN_URL"]
    redis = "redis://127.0.0.1:6379/0" if _redis_answers() else ""
    settings = Settings(
        database_url=admin,
        role_prefix=ROLES.prefix,
        # One issuer for both servers: a token signed in on one is good on the other.
        public_url="http://tenantry.bench",
        pool_min_size=4,
        pool_max_size=POOL_SIZE,
        rate_limit_redis_url=redis,
        **CONFIGS[os.environ["BENCH_CONFIG"]],
    )
    module = Module("noisy_bench", routers=lambda: (router,))
    return create_app(settings, modules=[*installed_modules(), module])


def _redis_answers() -> bool:
    """Whether the local Redis answers, so that the workers share their buckets."""
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def provision(admin: str) -> None:
    """Two tenants with the thinktank app: the victim on the business plan, the noise free."""
    import psycopg

    from tenantry.kit.context import ContextSigner
    from tenantry.kit.migrate import read_signing_key

    with psycopg.connect(admin) as conn:
        conn.execute(f'SET ROLE "{ROLES.owner}"')
        signer = ContextSigner(read_signing_key(conn), 300)
    with psycopg.connect(role_url(admin, ROLES.platform)) as conn:
        conn.execute("SELECT set_config('tenantry.context', %s, true)", [signer.sign_platform()])
        for slug, plan in (("victim", "business"), ("noisy", "free")):
            tenant = conn.execute(
                "INSERT INTO tenants (id, slug, name, status, plan) "
                "VALUES (gen_random_uuid(), %s, %s, 'active', %s) RETURNING id",
                [slug, slug.title(), plan],
            ).fetchone()
            assert tenant is not None
            conn.execute(
                "INSERT INTO tenant_apps (tenant_id, app_id) SELECT %s, id FROM apps", [tenant[0]]
            )


def sign_in(base: str, tenant: str) -> str:
    body = {"tenant": tenant, "email": f"{tenant}@example.com", "password": PASSWORD}
    with httpx.Client(base_url=base, timeout=30) as client:
        client.post("/v1/apps/thinktank/auth/signup", json=body).raise_for_status()
        login = client.post("/v1/apps/thinktank/auth/login", json=body)
        login.raise_for_status()
        return str(login.json()["access_token"])


async def victim(base: str, token: str, seconds: float) -> list[float]:
    """Latencies (ms) of GETs sent at a steady rate; a late answer delays the next send."""
    latencies: list[float] = []
    headers = {"Authorization": f"Bearer {token}"}
    interval = 1 / VICTIM_RATE
    async with httpx.AsyncClient(base_url=base, timeout=30, headers=headers) as client:
        for _ in range(5):  # a warm connection
            await client.get(ME)
        start = time.perf_counter()
        n = 0
        while time.perf_counter() - start < seconds:
            began = time.perf_counter()
            answer = await client.get(ME)
            latencies.append((time.perf_counter() - began) * 1000)
            if answer.status_code != 200:
                raise RuntimeError(f"victim answered {answer.status_code}: {answer.text}")
            n += 1
            await asyncio.sleep(max(0.0, start + n * interval - time.perf_counter()))
    return latencies


def p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[98]


def start_noise(base: str, token: str, profile: str, seconds: float) -> tuple[Any, Path]:
    """`wrk` with the profile's clients as the noisy tenant, for `seconds`."""
    shape = PROFILES[profile]
    script = Path(tempfile.mkstemp(suffix=".lua")[1])
    script.write_text(NOISE_LUA % {"me": ME, "slow": SLOW, **shape})
    command = ["wrk", "-t1", f"-c{shape['connections']}", f"-d{seconds:.0f}s", "--timeout", "10s"]
    command += ["-H", f"Authorization: Bearer {token}", "-s", str(script), base + ME]
    return subprocess.Popen(command, stdout=subprocess.PIPE, text=True), script


def noise_report(out: str) -> dict[str, Any]:
    match = re.search(r"^\{.*\}$", out, re.MULTILINE)
    if match is None:
        raise RuntimeError(f"wrk said:\n{out}")
    raw = json.loads(match.group(0))
    statuses = {int(code): count for code, count in raw["statuses"].items()}
    known = {200: "ok", 429: "limited", 503: "cut"}
    report = {name: statuses.pop(code, 0) for code, name in known.items()}
    report["other"] = statuses  # by status
    report["rps"] = round(raw["requests"] / (raw["duration_us"] / 1e6), 1)
    report["socket_errors"] = raw["socket_errors"]
    return report


def measure(
    base: str, victim_token: str, noisy_token: str, profile: str | None, seconds: float
) -> dict[str, Any]:
    """The victim's latencies for `seconds`, alone (`profile` None) or under that noise."""
    noise = None
    if profile is not None:
        noise, script = start_noise(base, noisy_token, profile, seconds + 2)
        time.sleep(1)  # the noise at full strength before measuring
    try:
        latencies = asyncio.run(victim(base, victim_token, seconds))
    finally:
        report = None
        if noise is not None:
            out, _ = noise.communicate(timeout=seconds + 60)
            script.unlink(missing_ok=True)
            report = noise_report(out)
    result: dict[str, Any] = {"latencies": latencies, "p99_ms": p99(latencies)}
    if report is not None:
        result["noise"] = report
    return result


def start_server(admin: str, port: int, workers: int, config: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            __file__,
            "--serve",
            admin,
            str(port),
            config,
            "--workers",
            str(workers),
        ],
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)},
    )


def run(args: argparse.Namespace, seconds: float, rounds: int) -> dict[str, list[dict[str, Any]]]:
    """Both servers on a fresh database; the four cases, interleaved, `rounds` times."""
    bench = fresh_database()
    provision(bench.admin)
    ports = {config: free_port() for config in CONFIGS}
    servers = {c: start_server(bench.admin, p, args.workers, c) for c, p in ports.items()}
    samples: dict[str, list[dict[str, Any]]] = {}
    try:
        bases = {config: f"http://127.0.0.1:{port}" for config, port in ports.items()}
        for base in bases.values():
            wait_ready(f"{base}/readyz", 90)
        any_base = next(iter(bases.values()))
        victim_token, noisy_token = sign_in(any_base, "victim"), sign_in(any_base, "noisy")
        profiles: list[str | None] = [None, *PROFILES]
        cases = [(config, profile) for config in CONFIGS for profile in profiles]
        rng = random.Random(16)
        for _ in range(rounds):
            rng.shuffle(cases)
            for config, profile in cases:
                name = f"{config}_{profile or 'idle'}"
                samples.setdefault(name, []).append(
                    measure(bases[config], victim_token, noisy_token, profile, seconds)
                )
                time.sleep(1.5)  # the noise's slow statements end before the next case
    finally:
        for server in servers.values():
            server.send_signal(signal.SIGINT)
        for server in servers.values():
            server.wait(timeout=30)
        stop(bench)
        shutil.rmtree(bench.data_dir, ignore_errors=True)
    return samples


def summarize(
    samples: dict[str, list[dict[str, Any]]], args: argparse.Namespace, seconds: float, rounds: int
) -> dict[str, Any]:
    def case(runs: list[dict[str, Any]]) -> dict[str, Any]:
        # Percentiles over every round's latencies together (a round gives a few hundred, so
        # its own p99 rests on a handful of requests); each round's p99 is shown beside.
        latencies = [ms for run in runs for ms in run["latencies"]]
        return {
            "p50_ms": round(statistics.median(latencies), 2),
            "p99_ms": round(p99(latencies), 2),
            "p99_ms_by_round": [round(run["p99_ms"], 2) for run in runs],
            "victim_requests": len(latencies),
            **({"noise_by_round": [run["noise"] for run in runs]} if "noise" in runs[0] else {}),
        }

    def round_ratio(config: str, profile: str) -> float:
        # Each round's p99 under the noise over the same round's idle p99 (minutes apart at
        # most, so the machine's drift mostly cancels), the median over the rounds.
        noisy, idle = samples[f"{config}_{profile}"], samples[f"{config}_idle"]
        pairs = zip(noisy, idle, strict=True)
        return round(statistics.median(n["p99_ms"] / i["p99_ms"] for n, i in pairs), 2)

    results = {name: case(runs) for name, runs in sorted(samples.items())}
    ratios = {
        f"{config}_{profile}": round_ratio(config, profile)
        for config in CONFIGS
        for profile in PROFILES
    }
    return {
        "benchmark": "noisy_neighbour",
        "machine": machine(),
        "settings": {
            "seconds": seconds,
            "rounds": rounds,
            "server_workers": args.workers,
            "pool_size_per_worker": POOL_SIZE,
            "victim_rate": VICTIM_RATE,
            "noise": PROFILES,
            "configs": CONFIGS,
        },
        "results": results,
        "p99_ratio_noisy_over_idle": ratios,
    }


def print_report(report: dict[str, Any]) -> None:
    settings = report["settings"]
    print(
        f"Noisy neighbour ({settings['rounds']} interleaved round(s) x {settings['seconds']:.0f}s, "
        f"{settings['server_workers']} worker(s), victim {VICTIM_RATE} req/s)"
    )
    for profile, shape in PROFILES.items():
        manners = "honour Retry-After" if shape["polite"] else "ignore 429s"
        print(
            f"  noise {profile}: {shape['connections']} clients, 1 in {shape['slow_every']} "
            f"slow, {manners}"
        )
    print(f"{'case':<12}{'p50 ms':>9}{'p99 ms':>9}  noise, last round: req/s; 200 / 429 / 503")
    for name, r in report["results"].items():
        line = f"{name:<12}{r['p50_ms']:>9.2f}{r['p99_ms']:>9.2f}"
        if "noise_by_round" in r:
            noise = r["noise_by_round"][-1]
            line += f"  {noise['rps']:.0f}; {noise['ok']} / {noise['limited']} / {noise['cut']}"
            if noise["other"]:
                line += f" / {noise['other']}"
        print(line)
    print("p99 under noise / idle (median over rounds of each round's ratio):")
    for case, ratio in report["p99_ratio_noisy_over_idle"].items():
        print(f"  {case}: {ratio:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="one short round")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument(
        "--workers", type=int, default=os.cpu_count() or 1, help="server worker processes"
    )
    parser.add_argument("--serve", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve[0], int(args.serve[1]), args.workers, args.serve[2])
        return
    if shutil.which("wrk") is None:
        sys.exit("this benchmark needs wrk: make wrk")
    seconds, rounds = (4.0, 1) if args.quick else (12.0, 5)
    report = summarize(run(args, seconds, rounds), args, seconds, rounds)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print_report(report)


if __name__ == "__main__":
    main()
