"""HTTP throughput of the API, with the isolation machinery against a bare baseline.

Starts the real service (uvicorn, one worker) on loopback in its own process and drives it with
`wrk` (Debian package) from another process. Four endpoints, interleaved in rounds:

  a  GET /healthz                     process only, no database
  b  GET /bench/owner-row             the same single-row SELECT as (c), as the owner role,
                                      autocommit, no auth, no RLS: the floor to compare with
  c  GET /v1/apps/thinktank/me        JWT verified, tenant checked, signed context, session
                                      re-checked, RLS, one row
  d  GET /v1/apps/thinktank/sessions  the same, returning 50 rows

Reports req/s and p50/p99 latency per endpoint and the ratio c/b.

    python benchmarks/api_throughput.py [--quick] [--json]
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
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx

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

PASSWORD = "benchmark-passphrase-correct-horse"
LUA = """
done = function(summary, latency, requests)
  io.write(string.format('{"requests": %d, "duration_us": %d, "errors": %d, '
    .. '"p50_us": %d, "p99_us": %d}\\n',
    summary.requests, summary.duration,
    summary.errors.connect + summary.errors.read + summary.errors.write
      + summary.errors.status + summary.errors.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""


def serve(admin: str, port: int, workers: int) -> None:
    """Child process: the product app plus one baseline route, served by uvicorn."""
    import uvicorn

    os.environ["BENCH_ADMIN_URL"] = admin
    os.environ["BENCH_PORT"] = str(port)
    uvicorn.run(
        "benchmarks.api_throughput:bench_app",
        factory=True,
        host="127.0.0.1",
        port=port,
        workers=workers,
        log_level="warning",
        access_log=False,
    )


def bench_app() -> object:
    """The product app plus the baseline route, built in each worker process."""
    from psycopg_pool import AsyncConnectionPool

    from tenantry.kit.config import Settings
    from tenantry.web import create_app

    admin, port = os.environ["BENCH_ADMIN_URL"], os.environ["BENCH_PORT"]
    settings = Settings(
        database_url=admin,
        role_prefix=ROLES.prefix,
        public_url=f"http://127.0.0.1:{port}",
        pool_min_size=4,
        pool_max_size=8,
    )
    app = create_app(settings)
    owner_pool = AsyncConnectionPool(
        admin, min_size=4, max_size=8, open=False, kwargs={"autocommit": True}
    )

    opening = asyncio.Lock()

    @app.get("/bench/owner-row", include_in_schema=False)
    async def owner_row(user: str) -> dict[str, object]:
        if owner_pool.closed:  # the app's lifespan is the product's; open ours on first use
            async with opening:
                if owner_pool.closed:
                    await owner_pool.open(wait=True)
        async with owner_pool.connection() as conn:
            cur = await conn.execute(
                "SELECT id, tenant_id, app_id, email, email_verified, display_name, created_at, "
                "last_login_at FROM tenantry.app_users WHERE id = %s",
                [user],
            )
            row = await cur.fetchone()
        assert row is not None
        return {"id": str(row[0]), "email": row[3]}

    return app


def prepare(base: str, admin: str) -> tuple[str, str]:
    """A tenant with the thinktank app, one user with 50 sessions; returns (token, user id)."""
    import psycopg

    from tenantry.kit.context import ContextSigner
    from tenantry.kit.migrate import read_signing_key

    platform_url = role_url(admin, ROLES.platform)
    with psycopg.connect(admin) as conn:
        conn.execute(f'SET ROLE "{ROLES.owner}"')
        signer = ContextSigner(read_signing_key(conn), 300)
    with psycopg.connect(platform_url) as conn:
        conn.execute("SELECT set_config('tenantry.context', %s, true)", [signer.sign_platform()])
        tenant = conn.execute(
            "INSERT INTO tenants (id, slug, name, status) VALUES (gen_random_uuid(), 'bench', 'Bench', 'active') "
            "RETURNING id"
        ).fetchone()[0]
        conn.execute(
            "INSERT INTO tenant_apps (tenant_id, app_id) SELECT %s, id FROM apps", [tenant]
        )
    with httpx.Client(base_url=base, timeout=30) as client:
        body = {"tenant": "bench", "email": "bench@example.com", "password": PASSWORD}
        signup = client.post("/v1/apps/thinktank/auth/signup", json=body)
        signup.raise_for_status()
        token = ""
        for _ in range(50):
            login = client.post("/v1/apps/thinktank/auth/login", json=body)
            login.raise_for_status()
            token = login.json()["access_token"]
        assert (
            len(
                client.get(
                    "/v1/apps/thinktank/sessions", headers={"Authorization": f"Bearer {token}"}
                ).json()
            )
            == 50
        )
    user_id = client_user_id(token)
    return token, user_id


def client_user_id(token: str) -> str:
    import jwt

    return str(jwt.decode(token, options={"verify_signature": False})["sub"])


def run_wrk(
    url: str, token: str | None, seconds: int, connections: int, script: Path
) -> dict[str, float]:
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "-s", str(script), url]
    if token:
        command[1:1] = ["-H", f"Authorization: Bearer {token}"]
    output = subprocess.run(
        command, capture_output=True, text=True, check=True, timeout=seconds + 30
    ).stdout
    match = re.search(r"^\{.*\}$", output, re.MULTILINE)
    assert match, output
    raw = json.loads(match.group(0))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if non_2xx or raw["errors"]:
        raise RuntimeError(f"{url}: errors in benchmark run:\n{output}")
    return {
        "rps": raw["requests"] / (raw["duration_us"] / 1e6),
        "p50_ms": raw["p50_us"] / 1000,
        "p99_ms": raw["p99_us"] / 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--quick", action="store_true", help="short run (a few seconds per endpoint)"
    )
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 1,
        help="server worker processes (default: the core count, as `tenantry serve`)",
    )
    parser.add_argument("--serve", nargs=2, metavar=("ADMIN_URL", "PORT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve[0], int(args.serve[1]), args.workers)
        return
    if shutil.which("wrk") is None:
        sys.exit("this benchmark needs wrk: make wrk")

    seconds, rounds, connections = (2, 2, 16) if args.quick else (5, 4, 16)
    bench = fresh_database()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [
            sys.executable,
            __file__,
            "--serve",
            bench.admin,
            str(port),
            "--workers",
            str(args.workers),
        ],
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)},
    )
    script = Path(tempfile.mkstemp(suffix=".lua")[1])
    script.write_text(LUA)
    try:
        wait_ready(f"{base}/readyz")
        token, user_id = prepare(base, bench.admin)
        targets = {
            "a_healthz": (f"{base}/healthz", None),
            "b_owner_row": (f"{base}/bench/owner-row?user={user_id}", None),
            "c_tenant_row": (f"{base}/v1/apps/thinktank/me", token),
            "d_tenant_50_rows": (f"{base}/v1/apps/thinktank/sessions", token),
        }
        for url, auth in targets.values():  # warm up every path
            run_wrk(url, auth, 1, connections, script)
        samples: dict[str, list[dict[str, float]]] = {name: [] for name in targets}
        rng = random.Random(1)
        for _ in range(rounds):
            order = list(targets)
            rng.shuffle(order)  # interleave, so drifting machine load hits every endpoint alike
            for name in order:
                url, auth = targets[name]
                samples[name].append(run_wrk(url, auth, seconds, connections, script))
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=30)
        script.unlink(missing_ok=True)
        stop(bench)
        shutil.rmtree(bench.data_dir, ignore_errors=True)

    def median(values: list[float]) -> float:
        ordered = sorted(values)
        return (
            ordered[len(ordered) // 2]
            if len(ordered) % 2
            else sum(ordered[len(ordered) // 2 - 1 : len(ordered) // 2 + 1]) / 2
        )

    results = {
        name: {key: round(median([s[key] for s in runs]), 3) for key in ("rps", "p50_ms", "p99_ms")}
        for name, runs in samples.items()
    }
    ratio = results["c_tenant_row"]["rps"] / results["b_owner_row"]["rps"]
    report = {
        "benchmark": "api_throughput",
        "machine": machine(),
        "settings": {
            "seconds": seconds,
            "rounds": rounds,
            "connections": connections,
            "server_workers": args.workers,
        },
        "results": results,
        "ratio_c_over_b": round(ratio, 3),
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(
        f"API throughput ({rounds} interleaved rounds x {seconds}s, {connections} connections, "
        f"{args.workers} worker(s))"
    )
    print(f"{'endpoint':<20}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}")
    for name, r in results.items():
        print(f"{name:<20}{r['rps']:>10.0f}{r['p50_ms']:>10.2f}{r['p99_ms']:>10.2f}")
    print(f"ratio c/b: {ratio:.2f}")


if __name__ == "__main__":
    main()
