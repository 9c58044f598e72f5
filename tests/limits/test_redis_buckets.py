"""The Redis store: its Lua script decides as the in-process math does, keeps a request's
buckets atomic across processes, and when Redis stops, limits in-process until it is back."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
from typing import TYPE_CHECKING

import pytest
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from tenantry.kit.ids import uuid7
from tenantry.limits.buckets import Limit, LocalBuckets, RedisBuckets
from tests.limits.conftest import closed_port

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator

LIMITS = [Limit(rate=0.001, burst=5), Limit(rate=0.001, burst=3)]


@pytest.fixture
async def prefix(redis_url: str) -> AsyncIterator[str]:
    """A key prefix of this test's own; its keys are deleted afterwards."""
    name = f"fs-test:{uuid7().hex}"
    yield name
    client = Redis.from_url(redis_url)
    keys = [key async for key in client.scan_iter(f"{name}:*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


async def test_the_script_decides_as_the_in_process_math(redis_url: str, prefix: str) -> None:
    remote = RedisBuckets(redis_url, prefix, LocalBuckets(), timeout_seconds=5)
    local = LocalBuckets()
    requests = [["t", "k1"], ["t", "k1"], ["t", "k2"], ["t", "k1"], ["t", "k1"], ["t", "k2"]]
    requests += [["t", "k2"], ["t", "k3"]]
    try:
        for keys in requests:
            ours, theirs = local.take_now(keys, LIMITS), await remote.take(keys, LIMITS)
            assert (theirs.allowed, theirs.binding, theirs.limit, theirs.remaining) == (
                ours.allowed,
                ours.binding,
                ours.limit,
                ours.remaining,
            )
            assert not remote.failing, "Redis did not answer"
            assert theirs.retry_after == pytest.approx(ours.retry_after, rel=0.01)
            assert theirs.reset == pytest.approx(ours.reset, rel=0.01)
    finally:
        await remote.close()


async def test_concurrent_processes_never_take_more_than_the_burst(
    redis_url: str, prefix: str
) -> None:
    stores = [RedisBuckets(redis_url, prefix, LocalBuckets(), timeout_seconds=5) for _ in range(4)]
    limit = [Limit(rate=0.001, burst=25)]
    try:
        decisions = await asyncio.gather(
            *(store.take(["shared"], limit) for store in stores for _ in range(20))
        )
        assert not any(store.failing for store in stores), "Redis did not answer"
    finally:
        for store in stores:
            await store.close()
    assert sum(d.allowed for d in decisions) == 25


class OwnRedis:
    """A Redis of the test's own on a free port, which the test stops and starts again
    (keeping nothing, as a restarted cache does)."""

    def __init__(self) -> None:
        self.port = closed_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        command = ["redis-server", "--port", str(self.port), "--save", "", "--appendonly", "no"]
        self._process = subprocess.Popen(command, stdout=subprocess.DEVNULL)

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(timeout=10)
            self._process = None

    async def ready(self) -> None:
        client = Redis.from_url(self.url)
        deadline = time.monotonic() + 10
        try:
            while True:
                try:
                    await client.ping()
                except RedisConnectionError:
                    assert time.monotonic() < deadline, "redis-server did not start"
                    await asyncio.sleep(0.05)
                else:
                    return
        finally:
            await client.aclose()


@pytest.fixture
def own_redis() -> Iterator[OwnRedis]:
    if shutil.which("redis-server") is None:
        pytest.skip("needs redis-server (Debian package redis-server)")
    server = OwnRedis()
    server.start()
    yield server
    server.stop()


async def test_a_stopped_redis_is_replaced_in_process_until_it_is_back(own_redis) -> None:
    fallbacks: list[int] = []
    store = RedisBuckets(
        own_redis.url,
        "fs-test",
        LocalBuckets(),
        on_fallback=lambda: fallbacks.append(1),
        retry_seconds=0.2,
    )
    limit = [Limit(rate=0.001, burst=3)]
    try:
        await own_redis.ready()
        assert (await store.take(["a"], limit)).allowed
        assert not store.failing
        own_redis.stop()
        # Never refused for want of Redis: this process's own buckets take over.
        local = [(await store.take(["a"], limit)).allowed for _ in range(4)]
        assert local == [True, True, True, False]
        assert store.failing
        assert len(fallbacks) == 4
        own_redis.start()
        await own_redis.ready()
        await asyncio.sleep(0.3)
        # Back on Redis (a new, empty one): not the exhausted in-process bucket.
        back = await store.take(["a"], limit)
        assert (back.allowed, back.remaining) == (True, 2)
        assert not store.failing
        assert len(fallbacks) == 4
    finally:
        await store.close()
