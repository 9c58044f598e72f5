"""`tenantry worker` as a process: SIGTERM lets it finish what it holds; SIGKILL loses nothing,
because its leases run out and another worker delivers again, and `apply_once` keeps every
effect single."""

from __future__ import annotations

import asyncio
import signal
import time
from datetime import timedelta
from typing import TYPE_CHECKING

from tenantry.events.worker import Worker
from tests.events.worker_consumers import CONSUMER, effects_handler
from tests.events.worker_support import Stream, make_stream, worker_process
from tests.support.cli import tenantry
from tests.support.wiring import services_for

if TYPE_CHECKING:
    from tenantry.kit.db import Database
    from tests.support.database import Urls


async def _until(condition: str, stream: Stream, status: str, count: int) -> None:
    deadline = time.monotonic() + 20
    while len(await stream.deliveries(status)) < count:
        assert time.monotonic() < deadline, f"never {count} {status} deliveries ({condition})"
        await asyncio.sleep(0.1)


async def test_sigterm_finishes_the_batch_in_hand_then_exits(db: Database, urls: Urls) -> None:
    stream = await make_stream(db, CONSUMER)
    ids = [await stream.publish({"derived": stream.derived, "sleep_before": 1.5}) for _ in range(3)]
    process = worker_process(urls, "--lease", "20")
    try:
        await _until("claimed", stream, "delivering", 3)
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        code = await asyncio.to_thread(process.wait, 20)
        took = time.monotonic() - started
    finally:
        process.kill()
    _, stderr = process.communicate()
    assert code == 0, stderr
    assert took < 20  # within the lease
    assert {d.status for d in await stream.deliveries()} == {"delivered"}
    assert sorted(await stream.derived_events()) == sorted(str(i) for i in ids)


async def test_sigkill_mid_batch_loses_nothing_and_doubles_nothing(
    db: Database, urls: Urls
) -> None:
    stream = await make_stream(db, CONSUMER)
    # The killed worker applies these effects, then hangs before it can record the delivery.
    applied = [
        await stream.publish({"derived": stream.derived, "hang_after": 60}) for _ in range(4)
    ]
    # These it never gets to apply.
    pending = [
        await stream.publish({"derived": stream.derived, "sleep_before": 60}) for _ in range(4)
    ]
    process = worker_process(urls, "--lease", "2", "--batch", "50")
    try:
        await _until("claimed", stream, "delivering", 8)
        deadline = time.monotonic() + 20
        while len(await stream.derived_events()) < 4:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.1)
    finally:
        process.send_signal(signal.SIGKILL)
        process.communicate(timeout=10)
    assert {d.status for d in await stream.deliveries()} == {"delivering"}

    survivor = Worker(db, registered_only=True, retry_delay=lambda _: timedelta(0))
    survivor.register(CONSUMER, effects_handler(services_for(db), delays=False))
    # Nothing to take over while the dead worker's leases last.
    assert await survivor.run_once() == 0
    await asyncio.sleep(2.2)
    assert await survivor.run_once() == 8
    deliveries = await stream.deliveries()
    assert {d.status for d in deliveries} == {"delivered"}
    assert {d.attempts for d in deliveries} == {2}
    assert sorted(await stream.derived_events()) == sorted(str(i) for i in applied + pending)


def test_worker_once_and_a_bad_consumer_module(urls: Urls) -> None:
    done = tenantry(urls, "worker", "--once", "--registered-only")
    assert done.returncode == 0, done.stderr
    assert "delivery attempts" in done.stdout
    bad = tenantry(urls, "worker", "--once", "--consumers", "no.such.module")
    assert bad.returncode == 1
    assert "cannot import consumer module no.such.module" in bad.stderr
    assert "Traceback" not in bad.stderr
