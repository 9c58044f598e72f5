"""Webhook delivery latency from commit: an event published (its transaction committed) until
a receiver on loopback has the signed request.

    python benchmarks/webhooks.py [--quick] [--json]     (--quick: 100 events, else 500)

One tenant, one endpoint subscribed to `thinktank.workspace.created`, a worker in the same
process (woken by NOTIFY on commit, no polling), and a plain HTTP receiver on loopback (the
development allowance `webhooks_allow_private`); events are published one at a time, each
after the previous one arrived, so the figure is latency, not throughput.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from uuid import uuid4

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._harness import ROLES, machine, role_url, with_fresh_database
from tenantry.events.worker import Worker
from tenantry.kit.actor import Actor
from tenantry.kit.config import Settings
from tenantry.kit.db import Database
from tenantry.kit.metrics import Metrics
from tenantry.services import build_services

BY = Actor("benchmark", "webhooks")
TYPE = "thinktank.workspace.created"


class _Receiver:
    """Records when each event id arrived."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.arrived: dict[str, float] = {}
        self.arrival = asyncio.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                event_id = self.headers.get("webhook-id", "")
                receiver.arrived[event_id] = time.perf_counter()
                self.send_response(204)
                self.end_headers()
                loop.call_soon_threadsafe(receiver.arrival.set)
                del body

            def log_message(self, *_: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"


async def run(admin: str, events: int) -> dict[str, object]:
    receiver = _Receiver(asyncio.get_running_loop())
    async with Database(
        role_url(admin, ROLES.runtime), role_url(admin, ROLES.platform), min_size=2, max_size=16
    ) as db:
        settings = Settings(
            database_url=admin, role_prefix=ROLES.prefix, webhooks_allow_private=True
        )
        services = build_services(settings, db, Metrics())
        await services.apps.reload()
        tenant, _ = await services.tenant_admin.ensure_tenant(
            "webhooks-bench", "Bench", "business", ["admin", "thinktank"], by=BY
        )
        app_id = services.apps.by_slug("thinktank").id
        await services.webhooks.create(tenant.id, url=receiver.url, event_types=[TYPE])
        worker = Worker(db, deliverer=services.webhook_deliverer, concurrency=2)
        running = asyncio.create_task(worker.run())
        await asyncio.sleep(0.5)  # the worker is listening
        latencies = []
        for i in range(events + 20):
            receiver.arrival.clear()
            started = time.perf_counter()
            stored = await services.outbox.publish(
                tenant.id, app_id, TYPE, {"workspace_id": str(uuid4())}
            )
            key = str(stored.id)
            while key not in receiver.arrived:
                await asyncio.wait_for(receiver.arrival.wait(), timeout=30)
                receiver.arrival.clear()
            if i >= 20:  # warm-up
                latencies.append(receiver.arrived[key] - started)
        worker.stop()
        await running
        await services.webhook_deliverer.close()
    receiver.server.shutdown()
    latencies.sort()
    return {
        "events": events,
        "p50_ms": round(statistics.median(latencies) * 1000, 2),
        "p95_ms": round(latencies[int(len(latencies) * 0.95) - 1] * 1000, 2),
        "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    events = 100 if args.quick else 500
    result = with_fresh_database(lambda admin: asyncio.run(run(admin, events)))
    result["machine"] = machine()
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key}: {value}")


if __name__ == "__main__":
    main()
