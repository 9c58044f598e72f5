"""Cache invalidation across processes: PostgreSQL LISTEN/NOTIFY by default, Redis pub/sub when
`TENANTRY_REDIS_URL` is set.

Writers call `notify_in(tx, scope)` inside the transaction that makes the change, so PostgreSQL
delivers the notification exactly when (and only if) the change commits. With Redis, the same
scopes are published after commit. Every process listens and drops what the scope names.
A scope is a tenant id, or `*` for everything (a global catalog changed).

With Redis and a database URL both, a process listens on both: Redis stopping loses nothing
(every commit notifies PostgreSQL too), and a failed publish is logged, never turned into an
error for a change already committed. Each (re)connection drops everything cached, since
anything may have changed while nobody listened.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

import psycopg

if TYPE_CHECKING:
    from tenantry.kit.db import Transaction

CHANNEL = "tenantry_invalidate"
EVERYTHING = "*"
# Signing keys changed (app token keys or the context key): every process reloads them.
KEYS = "keys"
log = logging.getLogger("tenantry.invalidation")
# A publish waits at most this long for Redis (a stopped Redis must not hold a request).
PUBLISH_TIMEOUT_SECONDS = 1.0


NOTIFY = "SELECT pg_notify(%s, %s)"


async def notify_in(tx: Transaction, scope: str) -> None:
    await tx.execute(NOTIFY, [CHANNEL, scope])
    tx.after_commit(scope)


def notify(conn: psycopg.Connection[Any], scope: str) -> None:
    """The same message from an operator's plain connection (key rotation)."""
    conn.execute(NOTIFY, [CHANNEL, scope])


Handler = Callable[[str], None]


class BackgroundTasks:
    """Fire-and-forget coroutines that are kept referenced until done and whose failures are
    logged, not lost."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, work: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("background task failed", exc_info=task.exception())


class Listener:
    """Receives invalidations and hands each scope to the registered handlers."""

    def __init__(self, database_url: str, redis_url: str = "") -> None:
        self._url = database_url
        self._redis_url = redis_url
        self._handlers: list[Handler] = []
        self._ready = asyncio.Event()
        self._redis: object | None = None
        self._listening = False
        self._subscribed = False
        self._tasks: list[asyncio.Task[None]] = []

    def hears_triggers(self) -> bool:
        """Whether notifications sent by database triggers reach this process now: while
        LISTEN is connected. (Redis carries only what writers publish.)"""
        return self._listening

    def state(self) -> dict[str, str]:
        """Each configured channel: `connected` or `disconnected` (readiness reports it)."""
        found = {}
        if self._url:
            found["postgres"] = "connected" if self._listening else "disconnected"
        if self._redis_url:
            found["redis"] = "connected" if self._subscribed else "disconnected"
        return found

    def subscribe(self, handler: Handler) -> None:
        self._handlers.append(handler)

    def dispatch(self, scope: str) -> None:
        for handler in self._handlers:
            handler(scope)

    async def start(self) -> None:
        if self._url:
            self._tasks.append(asyncio.create_task(self._listen_postgres()))
        if self._redis_url:
            self._tasks.append(asyncio.create_task(self._listen_redis()))
        await asyncio.wait_for(self._ready.wait(), timeout=10)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        if self._redis is not None:
            from redis.asyncio import Redis  # noqa: PLC0415 - optional backend

            assert isinstance(self._redis, Redis)
            await self._redis.aclose()
            self._redis = None

    async def after_commit(self, scopes: list[str]) -> None:
        """This process sees its own writes at once; others hear of them by NOTIFY or Redis."""
        for scope in scopes:
            self.dispatch(scope)
        await self.publish(scopes)

    async def publish(self, scopes: list[str]) -> None:
        """After commit: tell Redis subscribers (PostgreSQL's NOTIFY was sent by the commit)."""
        if not self._redis_url or not scopes:
            return
        from redis.asyncio import Redis  # noqa: PLC0415 - optional backend
        from redis.exceptions import RedisError  # noqa: PLC0415 - as above

        if self._redis is None:
            self._redis = Redis.from_url(self._redis_url, socket_timeout=PUBLISH_TIMEOUT_SECONDS)
        assert isinstance(self._redis, Redis)
        try:
            for scope in scopes:
                await self._redis.publish(CHANNEL, scope)
        except (RedisError, OSError) as exc:
            # The change is committed and PostgreSQL's NOTIFY went with it; Redis-only
            # listeners drop everything when they reconnect.
            log.warning("invalidation not published to Redis", extra={"error": type(exc).__name__})

    def _heard_again(self) -> None:
        # Anything may have changed while we were not listening.
        self.dispatch(EVERYTHING)
        self._ready.set()

    async def _listen_postgres(self) -> None:
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    self._url, autocommit=True
                ) as conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    self._listening = True
                    self._heard_again()
                    async for notice in conn.notifies():
                        self.dispatch(notice.payload)
            except psycopg.OperationalError:
                log.warning("invalidation listener lost its connection; reconnecting")
                await asyncio.sleep(1)
            finally:
                self._listening = False

    async def _listen_redis(self) -> None:
        from redis.asyncio import Redis  # noqa: PLC0415 - optional backend
        from redis.exceptions import RedisError  # noqa: PLC0415 - as above

        while True:
            client = Redis.from_url(self._redis_url)
            try:
                pubsub = client.pubsub()
                await pubsub.subscribe(CHANNEL)
                self._subscribed = True
                self._heard_again()
                async for message in pubsub.listen():
                    if message.get("type") == "message":
                        data = message["data"]
                        self.dispatch(data.decode() if isinstance(data, bytes) else str(data))
            except (RedisError, OSError):
                log.warning("invalidation listener lost Redis; reconnecting")
                await asyncio.sleep(1)
            finally:
                self._subscribed = False
                await client.aclose()
