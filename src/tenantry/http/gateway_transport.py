"""The gateway's connection to upstreams: HTTP/1.1 with h11 over asyncio streams, keeping
connections open per upstream.

A forwarded call needs little: one request at a time per connection, bodies streamed both ways,
a deadline per connect, write and read. httpx's async client costs about a millisecond of CPU
per call on the benchmark machine (its URL and model objects, its pool and async I/O layers);
this costs a fifth of that (`benchmarks/RESULTS.md`, gateway).
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import h11

from tenantry.kit.errors import TenantryError

if TYPE_CHECKING:
    from collections.abc import AsyncIterable, AsyncIterator

Headers = list[tuple[bytes, bytes]]
READ_SIZE = 64 * 1024
# Idle connections kept per upstream: enough for a busy app, bounded for many apps.
IDLE_PER_ORIGIN = 128


class UpstreamTimeout(TenantryError):
    code = "upstream_timeout"
    status = 504


class UpstreamUnavailable(TenantryError):
    code = "upstream_unavailable"
    status = 502


@dataclass(frozen=True, slots=True)
class Upstream:
    """Where an app version's route forwards to, parsed once (`Upstream.parse`)."""

    secure: bool
    host: str
    port: int
    path: bytes
    host_header: bytes

    @classmethod
    def parse(cls, url: str) -> Upstream:
        parts = urlsplit(url)
        secure = parts.scheme == "https"
        port = parts.port or (443 if secure else 80)
        host = parts.hostname or ""
        return cls(secure, host, port, parts.path.rstrip("/").encode(), parts.netloc.encode())


@dataclass(frozen=True, slots=True)
class Deadlines:
    connect: float
    read: float
    write: float


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.h11 = h11.Connection(h11.CLIENT)
        self._unsent = bytearray()

    def reusable(self) -> bool:
        # An idle connection the upstream has closed has seen its end of stream already.
        return not (self.reader.at_eof() or self.writer.is_closing())

    def hold(self, event: Any) -> None:  # noqa: ANN401 - an h11 event
        """Frame `event` to go out with the next `send`: a request's head and its first piece
        of body leave in one packet."""
        self._unsent += self.h11.send(event) or b""

    async def send(self, event: Any, within: float) -> None:  # noqa: ANN401 - an h11 event
        self.hold(event)
        if not self._unsent:
            return
        self.writer.write(bytes(self._unsent))
        self._unsent.clear()
        try:
            async with asyncio.timeout(within):
                await self.writer.drain()
        except TimeoutError as exc:
            raise UpstreamTimeout("the app's upstream did not take the request in time") from exc
        except OSError as exc:
            raise UpstreamUnavailable("the app's upstream broke off the connection") from exc

    async def next_event(self, within: float) -> Any:  # noqa: ANN401 - an h11 event
        while True:
            try:
                event = self.h11.next_event()
            except h11.RemoteProtocolError as exc:
                raise UpstreamUnavailable("the app's upstream does not speak HTTP/1.1") from exc
            if event is not h11.NEED_DATA:
                return event
            try:
                async with asyncio.timeout(within):  # no task per read, unlike wait_for
                    data = await self.reader.read(READ_SIZE)
            except TimeoutError as exc:
                raise UpstreamTimeout("the app's upstream did not answer in time") from exc
            except OSError as exc:
                raise UpstreamUnavailable("the app's upstream broke off the connection") from exc
            self.h11.receive_data(data)

    def close(self) -> None:
        self.writer.close()


class Answer:
    """An upstream's answer: status and headers at once, the body as it arrives. The connection
    goes back to the pool once the body is read to its end, and is closed if reading stops."""

    def __init__(
        self,
        pool: UpstreamPool,
        conn: _Connection,
        key: Upstream,
        head: h11.Response,
        within: float,
    ) -> None:
        self.status: int = head.status_code
        self.headers: Headers = list(head.headers.raw_items())
        self._pool = pool
        self._conn: _Connection | None = conn
        self._key = key
        self._within = within

    def length(self) -> int | None:
        for key, value in self.headers:
            if key.lower() == b"content-length" and value.isdigit():
                return int(value)
        return None

    async def body(self) -> AsyncIterator[bytes]:
        conn = self._conn
        assert conn is not None, "an answer's body is read once"
        try:
            while (chunk := await self._next_chunk(conn)) is not None:
                yield chunk
        except BaseException:
            self.close()
            raise
        self._conn = None
        self._pool.release(conn, self._key)

    async def read(self) -> bytes:
        return b"".join([chunk async for chunk in self.body()])

    async def _next_chunk(self, conn: _Connection) -> bytes | None:
        event = await conn.next_event(self._within)
        if isinstance(event, h11.EndOfMessage):
            return None
        if not isinstance(event, h11.Data):  # the connection closed before the end
            raise UpstreamUnavailable("the app's upstream broke off its answer")
        return bytes(event.data)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


class UpstreamPool:
    """Connections to upstreams (http, or https verified against the system's CAs)."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self._idle: dict[Upstream, list[_Connection]] = {}
        self._tls = tls

    async def send(
        self,
        upstream: Upstream,
        method: str,
        target: bytes,
        headers: Headers,
        body: AsyncIterable[bytes] | None,
        deadlines: Deadlines,
    ) -> Answer:
        """Send one request; `body` None means the request has none. `headers` must frame a
        body (Content-Length) or leave it to chunked encoding, added here."""
        head = [(b"host", upstream.host_header), *headers]
        if body is not None and not any(k == b"content-length" for k, _ in headers):
            head.append((b"transfer-encoding", b"chunked"))
        conn = await self._acquire(upstream, deadlines.connect)
        try:
            conn.hold(h11.Request(method=method, target=upstream.path + target, headers=head))
            if body is not None:
                async for chunk in body:
                    if chunk:
                        await conn.send(h11.Data(data=chunk), deadlines.write)
            await conn.send(h11.EndOfMessage(), deadlines.write)
            event = await conn.next_event(deadlines.read)
            while isinstance(event, h11.InformationalResponse):
                event = await conn.next_event(deadlines.read)
        except BaseException:
            conn.close()
            raise
        if not isinstance(event, h11.Response):
            conn.close()
            raise UpstreamUnavailable("the app's upstream closed without an answer")
        return Answer(self, conn, upstream, event, deadlines.read)

    async def _acquire(self, upstream: Upstream, within: float) -> _Connection:
        idle = self._idle.get(upstream)
        while idle:
            conn = idle.pop()
            if conn.reusable():
                return conn
            conn.close()
        if upstream.secure and self._tls is None:
            self._tls = ssl.create_default_context()
        opening = asyncio.open_connection(
            upstream.host, upstream.port, ssl=self._tls if upstream.secure else None
        )
        try:
            reader, writer = await asyncio.wait_for(opening, within)
        except TimeoutError as exc:
            raise UpstreamTimeout("the app's upstream did not accept a connection in time") from exc
        except OSError as exc:
            raise UpstreamUnavailable("the app's upstream cannot be reached") from exc
        return _Connection(reader, writer)

    def release(self, conn: _Connection, upstream: Upstream) -> None:
        """Back to the pool when both sides finished cleanly and may go on; else closed."""
        idle = self._idle.setdefault(upstream, [])
        both_done = conn.h11.our_state is h11.DONE and conn.h11.their_state is h11.DONE
        if both_done and len(idle) < IDLE_PER_ORIGIN:
            conn.h11.start_next_cycle()
            idle.append(conn)
        else:
            conn.close()

    def close(self) -> None:
        for idle in self._idle.values():
            for conn in idle:
                conn.close()
        self._idle.clear()
