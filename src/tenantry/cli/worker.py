"""`tenantry worker`: deliver published events to their consumers until SIGTERM."""

from __future__ import annotations

import asyncio
import importlib
import logging
import signal
from collections.abc import Awaitable, Callable
from datetime import timedelta

import psycopg
import typer

from tenantry.cli._common import console, settings
from tenantry.events.worker import Worker, WorkerMetrics
from tenantry.kit import dsn
from tenantry.kit import logging as tenantry_logging
from tenantry.kit.db import Database
from tenantry.kit.errors import InvalidInput, TenantryError
from tenantry.kit.metrics import Metrics
from tenantry.services import Services, build_services

log = logging.getLogger("tenantry.worker")


def worker_command(
    concurrency: int = typer.Option(4, min=1, max=64, help="Lanes claiming at once."),
    batch: int = typer.Option(100, min=1, max=1000, help="Deliveries per claim."),
    lease: float = typer.Option(
        60.0, min=1.0, help="Seconds a claim lasts before another worker may take it over."
    ),
    once: bool = typer.Option(False, "--once", help="Deliver what is due now, then exit."),
    registered_only: bool = typer.Option(
        False,
        "--registered-only",
        help="Claim only deliveries for the consumers registered here (and webhooks).",
    ),
    consumers: list[str] = typer.Option(
        [],
        "--consumers",
        help="A module whose register(worker, services) adds in-process consumers (repeatable).",
    ),
) -> None:
    """Deliver events to in-process consumers and webhooks (SIGTERM stops it gracefully)."""
    config = settings()
    tenantry_logging.configure(config.log_level)
    modules = [_consumer_module(name) for name in consumers]

    async def main() -> None:
        # Each lane holds a platform connection while it settles; the runtime pool stays small.
        size = concurrency * 2 + 2
        database = Database(
            dsn.runtime_url(config),
            dsn.platform_url(config),
            context_ttl_seconds=config.context_ttl_seconds,
            min_size=1,
            max_size=size,
            prepared_statements=config.pooler == "none",
        )
        async with database as db:
            services = build_services(config, db, Metrics())
            worker = Worker(
                db,
                concurrency=concurrency,
                batch=batch,
                lease=timedelta(seconds=lease),
                metrics=WorkerMetrics(services.metrics.registry),
                deliverer=services.webhook_deliverer,
                registered_only=registered_only,
            )
            for module in modules:
                module.register(worker, services)
            # Next months' partitions exist before anything is published into them.
            await services.outbox.ensure_partitions()
            await services.outbox.analyze_partitions()
            if once:
                handled = await worker.run_once()
                console.print(f"{handled} delivery attempts", highlight=False)
                return
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(signum, worker.stop)
            # A worker runs for months: the months ahead keep their partitions, and a filling
            # month its statistics.
            housekeeping = [
                asyncio.create_task(
                    _every(PARTITION_CHECK_SECONDS, services.outbox.ensure_partitions)
                ),
                asyncio.create_task(
                    _every(STATISTICS_CHECK_SECONDS, services.outbox.analyze_partitions)
                ),
            ]
            try:
                await worker.run()
            finally:
                for task in housekeeping:
                    task.cancel()
            log.info("worker stopped", extra={"settled": worker.summary()})

    asyncio.run(main())


PARTITION_CHECK_SECONDS = 6 * 3600
STATISTICS_CHECK_SECONDS = 1


async def _every(seconds: float, chore: Callable[[], Awaitable[object]]) -> None:
    while True:
        await asyncio.sleep(seconds)
        try:
            await chore()
        except (TenantryError, psycopg.Error) as exc:  # the database away: try next round
            log.warning("worker housekeeping skipped", extra={"error": type(exc).__name__})


class _ConsumerModule:
    def __init__(self, name: str, module: object) -> None:
        self.name = name
        self.module = module

    def register(self, worker: Worker, services: Services) -> None:
        register = getattr(self.module, "register", None)
        if not callable(register):
            raise InvalidInput(f"consumer module {self.name} has no register(worker, services)")
        register(worker, services)


def _consumer_module(name: str) -> _ConsumerModule:
    try:
        return _ConsumerModule(name, importlib.import_module(name))
    except ImportError as exc:
        raise InvalidInput(f"cannot import consumer module {name}: {exc}") from exc
