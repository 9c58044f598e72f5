"""Per-tenant statement timings: the service's flusher and the report `doctor --tenant` prints.

Each process times its statements in memory (`kit.query_stats.QueryStats`) and adds them to
the current hour's rows every `query_stats_flush_seconds` (and once more when it stops), so the
report covers every worker process and every instance of the service. A flush that fails puts
its timings back (within the memory bound) for the next one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tenantry.kit.query_stats import merge, percentile
from tenantry.operations.query_stats import repository

if TYPE_CHECKING:
    from uuid import UUID

    from tenantry.kit.db import Database
    from tenantry.kit.query_stats import QueryStats

log = logging.getLogger("tenantry.query_stats")
# Rows older than the retention window are deleted at most this often, by any process.
CLEANUP_SECONDS = 600


class QueryStatsFlusher:
    def __init__(
        self, db: Database, stats: QueryStats, *, interval: float, retention_hours: int
    ) -> None:
        self.db = db
        self.stats = stats
        self.interval = interval
        self.retention_hours = retention_hours
        self._task: asyncio.Task[None] | None = None
        self._known_shapes: set[str] = set()
        self._next_cleanup = 0.0

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="tenantry-query-stats")

    async def stop(self) -> None:
        """Stop the loop and write what is left."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.flush()

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            await self.flush()

    async def flush(self) -> int:
        """Write the timings recorded since the last flush; how many rows it added to."""
        drained = self.stats.drain()
        if drained.dropped:
            log.warning(
                "query stats were full: %d statements not timed",
                drained.dropped,
                extra={"dropped": drained.dropped, "max_entries": self.stats.max_entries},
            )
        entries = sorted(
            ((tenant_id, totals) for (tenant_id, _), totals in drained.entries.items()),
            key=lambda entry: (entry[0], entry[1].shape.fingerprint),
        )
        new_shapes = {
            totals.shape.fingerprint: totals.shape
            for _, totals in entries
            if totals.shape.fingerprint not in self._known_shapes
        }
        cleanup = time.monotonic() >= self._next_cleanup
        if not entries and not cleanup:
            return 0
        try:
            async with self.db.platform_transaction() as tx:
                if new_shapes:
                    await repository.add_shapes(tx, list(new_shapes.values()))
                if entries:
                    await repository.add(tx, entries)
                if cleanup:
                    await repository.forget_before(tx, self.retention_hours)
        except Exception:
            self.stats.restore(drained)
            log.exception("writing query stats failed; they are kept for the next try")
            return 0
        self._known_shapes.update(new_shapes)
        if cleanup:
            self._next_cleanup = time.monotonic() + CLEANUP_SECONDS
        return len(entries)


@dataclass(frozen=True, slots=True)
class StatementReport:
    fingerprint: str
    keyword: str
    statement: str
    calls: int
    total_ms: float
    mean_ms: float
    p95_ms: float


async def tenant_report(db: Database, tenant_id: UUID, hours: int) -> list[StatementReport]:
    """The tenant's statements of the last `hours` hours, the most time-consuming first."""
    async with db.platform_transaction() as tx:
        rows = await repository.of_tenant(tx, tenant_id, hours)
    merged: dict[str, _Sum] = {}
    for row in rows:
        total = merged.setdefault(row["fingerprint"], _Sum(row["keyword"], row["statement"]))
        total.calls += row["calls"]
        total.seconds += row["total_seconds"]
        merge(total.histogram, {int(k): int(v) for k, v in row["histogram"].items()})
    reports = [
        StatementReport(
            fingerprint=fingerprint,
            keyword=total.keyword,
            statement=total.statement,
            calls=total.calls,
            total_ms=round(total.seconds * 1000, 3),
            mean_ms=round(total.seconds * 1000 / total.calls, 3),
            p95_ms=round(percentile(total.histogram, 0.95) * 1000, 3),
        )
        for fingerprint, total in merged.items()
    ]
    return sorted(reports, key=lambda r: r.total_ms, reverse=True)


@dataclass(slots=True)
class _Sum:
    keyword: str
    statement: str
    calls: int = 0
    seconds: float = 0.0
    histogram: dict[int, int] = field(default_factory=dict)
