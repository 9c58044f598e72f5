"""What the gateway adds to a call: direct calls to an upstream against the same calls through
Tenantry's gateway.

Tenantry (uvicorn, one worker) and a small upstream (uvicorn, a raw ASGI app answering a short
JSON body) each run in their own process on loopback. The client, in this process, sends the
same small POST (a 100-byte JSON body) alternately straight to the upstream and through
`/v1/apps/{app}/…` with an access token, one request at a time over keep-alive connections, so
every series sees the same machine load. Through the gateway a call is authenticated (token
verified, tenant and session checked), routed (the tenant's pinned version, cached), the
caller's assertion signed, headers cleaned and the bodies streamed both ways. A third series,
Tenantry's own `GET /v1/apps/{app}/context` (the same authentication and session check, the
cached tenant context, no upstream), shows how much of the gateway's cost is Tenantry's
ordinary price of an authenticated request.

Reports p50/p95/p99 of each and the added p50 (gateway - direct; target < 1 ms).

    python benchmarks/gateway.py [--quick] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._harness import ROLES, free_port, fresh_database, machine, stop, wait_ready

APP = "bench-relay"
PASSWORD = "benchmark-passphrase-correct-horse"
BODY = json.dumps({"note": "x" * 80}).encode()
SEED_MANIFEST = (
    Path(__file__).resolve().parent.parent / "src/tenantry/registry/manifests/thinktank.json"
)
ANSWER = json.dumps({"ok": True, "echo": "y" * 80}).encode()


async def upstream_app(scope: dict[str, Any], receive: Any, send: Any) -> None:  # noqa: ANN401 - ASGI
    """The upstream: reads the body, answers a short JSON document."""
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    more = True
    while more:
        more = (await receive()).get("more_body", False)
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(ANSWER))]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": ANSWER})


def tenantry_app() -> object:
    from tenantry.kit.config import Settings
    from tenantry.web import create_app

    return create_app(
        Settings(
            database_url=os.environ["BENCH_ADMIN_URL"],
            role_prefix=ROLES.prefix,
            public_url=os.environ["BENCH_PUBLIC_URL"],
        )
    )


def start(target: str, port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "uvicorn", target, "--host", "127.0.0.1"]
    command += ["--port", str(port), "--log-level", "warning", "--no-access-log"]
    if target.endswith("tenantry_app"):
        command.append("--factory")
    root = str(Path(__file__).resolve().parent.parent)
    return subprocess.Popen(command, env={**os.environ, **env, "PYTHONPATH": root})


async def publish(admin: str, upstream: str, manifest: dict[str, Any]) -> None:
    """The app, its version, its route and a tenant following its latest version."""
    from tenantry.kit import dsn
    from tenantry.kit.actor import Actor
    from tenantry.kit.config import Settings
    from tenantry.kit.db import Database
    from tenantry.kit.metrics import Metrics
    from tenantry.services import build_services

    settings = Settings(database_url=admin, role_prefix=ROLES.prefix)
    by = Actor.operator("bench")
    manifest.update(
        slug=APP,
        name="Bench relay",
        routes=[{"prefix": "/items", "description": "items"}],
        privileges=[],
        events={"emits": [], "consumes": []},
        entitlements={"features": [], "limits": []},
    )
    async with Database(dsn.runtime_url(settings), dsn.platform_url(settings)) as db:
        services = build_services(settings, db, Metrics())
        await services.apps.reload()
        await services.registry.publish(manifest, by=by)
        await services.registry.set_route(APP, manifest["version"], "/items", upstream, 5000)
        await services.tenant_admin.ensure_tenant("bench", "Bench", "free", [APP], by=by)


def sign_in(base: str) -> str:
    body = {"tenant": "bench", "email": "bench@example.com", "password": PASSWORD}
    with httpx.Client(base_url=base, timeout=30) as client:
        client.post(f"/v1/apps/{APP}/auth/signup", json=body).raise_for_status()
        login = client.post(f"/v1/apps/{APP}/auth/login", json=body)
        login.raise_for_status()
        return str(login.json()["access_token"])


def measure(tenantry: str, upstream: str, token: str, requests: int) -> dict[str, list[float]]:
    headers = {"content-type": "application/json"}
    auth = {**headers, "authorization": f"Bearer {token}"}
    timings: dict[str, list[float]] = {"direct": [], "gateway": [], "context": []}
    with httpx.Client(timeout=30) as a, httpx.Client(timeout=30) as b:
        series = [
            ("direct", a, "POST", f"{upstream}/items/1", headers),
            ("gateway", b, "POST", f"{tenantry}/v1/apps/{APP}/items/1", auth),
            ("context", b, "GET", f"{tenantry}/v1/apps/{APP}/context", auth),
        ]
        for n in range(requests + requests // 10):
            for name, client, method, url, sent in series[n % 3 :] + series[: n % 3]:
                content = BODY if method == "POST" else None
                started = time.perf_counter()
                answer = client.request(method, url, content=content, headers=sent)
                elapsed = time.perf_counter() - started
                if answer.status_code != 200 or (method == "POST" and answer.content != ANSWER):
                    raise RuntimeError(f"{name}: {answer.status_code} {answer.text[:200]}")
                if n >= requests // 10:  # the first tenth warms caches and connections
                    timings[name].append(elapsed * 1000)
    return timings


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="500 requests per series")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    args = parser.parse_args()
    requests = 500 if args.quick else 5000

    bench = fresh_database()
    upstream_port, tenantry_port = free_port(), free_port()
    upstream = f"http://127.0.0.1:{upstream_port}"
    tenantry = f"http://127.0.0.1:{tenantry_port}"
    servers = [start("benchmarks.gateway:upstream_app", upstream_port, {})]
    try:
        asyncio.run(publish(bench.admin, upstream, json.loads(SEED_MANIFEST.read_text())))
        servers.append(
            start(
                "benchmarks.gateway:tenantry_app",
                tenantry_port,
                {"BENCH_ADMIN_URL": bench.admin, "BENCH_PUBLIC_URL": tenantry},
            )
        )
        wait_ready(f"{upstream}/items")
        wait_ready(f"{tenantry}/healthz")
        token = sign_in(tenantry)
        timings = measure(tenantry, upstream, token, requests)
    finally:
        for server in servers:
            server.send_signal(signal.SIGINT)
            server.wait(timeout=30)
        stop(bench)
        shutil.rmtree(bench.data_dir, ignore_errors=True)

    results = {
        name: {
            "p50_ms": round(statistics.median(values), 3),
            "p95_ms": round(percentile(values, 95), 3),
            "p99_ms": round(percentile(values, 99), 3),
        }
        for name, values in timings.items()
    }
    added = round(results["gateway"]["p50_ms"] - results["direct"]["p50_ms"], 3)
    report = {
        "benchmark": "gateway",
        "machine": machine(),
        "requests_per_series": requests,
        "results": results,
        "added_p50_ms": added,
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"gateway ({requests} requests per series, interleaved, one at a time)")
    print(f"{'series':<10}{'p50 ms':>10}{'p95 ms':>10}{'p99 ms':>10}")
    for name, r in results.items():
        print(f"{name:<10}{r['p50_ms']:>10.3f}{r['p95_ms']:>10.3f}{r['p99_ms']:>10.3f}")
    print(f"added p50: {added:.3f} ms (target < 1 ms)")


if __name__ == "__main__":
    main()
