"""The gateway's upstream pool against a raw HTTP/1.1 server on loopback: connections kept and
reused, stale ones replaced, bodies framed and streamed both ways, failures named."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from tenantry.http.gateway_transport import (
    Deadlines,
    Upstream,
    UpstreamPool,
    UpstreamTimeout,
    UpstreamUnavailable,
)

Handler = Callable[[bytes, asyncio.StreamReader, asyncio.StreamWriter], Awaitable[bool]]
SOON = Deadlines(connect=2, read=2, write=2)


class RawServer:
    """Answers each request with `handler(head, reader, writer)`; False closes the connection."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.connections = 0
        self.requests: list[bytes] = []
        self.server: asyncio.Server | None = None

    async def __aenter__(self) -> Upstream:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        return Upstream.parse(f"http://127.0.0.1:{port}")

    async def __aexit__(self, *_: object) -> None:
        assert self.server is not None
        self.server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                self.requests.append(head)
                if not await self.handler(head, reader, writer):
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        writer.close()


async def _ok(head: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
    body = await _read_body(head, reader)
    writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body))
    await writer.drain()
    return True


async def _read_body(head: bytes, reader: asyncio.StreamReader) -> bytes:
    lines = head.decode().lower().split("\r\n")
    length = next((int(x.split(":")[1]) for x in lines if x.startswith("content-length")), 0)
    if "transfer-encoding: chunked" not in lines:
        return await reader.readexactly(length)
    body = b""
    while size := int((await reader.readuntil(b"\r\n")).strip(), 16):
        body += await reader.readexactly(size)
        await reader.readexactly(2)
    await reader.readuntil(b"\r\n")
    return body


async def _chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


async def test_connections_are_kept_and_reused() -> None:
    raw = RawServer(_ok)
    pool = UpstreamPool()
    async with raw as upstream:
        for n in range(5):
            answer = await pool.send(upstream, "POST", b"/x", [], _chunks(b"n%d" % n), SOON)
            assert (answer.status, await answer.read()) == (200, b"n%d" % n)
    assert raw.connections == 1
    assert b"transfer-encoding: chunked" in raw.requests[0]
    assert raw.requests[0].startswith(b"POST /x HTTP/1.1\r\nhost: 127.0.0.1:")
    pool.close()


async def test_a_connection_the_upstream_closed_is_replaced() -> None:
    async def once(head: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        await _ok(head, reader, writer)
        return False  # then closes, as an idle keep-alive timeout would

    raw = RawServer(once)
    pool = UpstreamPool()
    async with raw as upstream:
        for _ in range(3):
            answer = await pool.send(upstream, "GET", b"/", [], None, SOON)
            assert await answer.read() == b""
            await asyncio.sleep(0.05)  # the close reaches the idle connection
    assert raw.connections == 3
    pool.close()


async def test_an_answer_read_only_in_part_closes_its_connection() -> None:
    async def long(head: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")
        writer.write(b"5\r\nfirst\r\n6\r\nsecond\r\n0\r\n\r\n")
        await writer.drain()
        return True

    raw = RawServer(long)
    pool = UpstreamPool()
    async with raw as upstream:
        answer = await pool.send(upstream, "GET", b"/", [], None, SOON)
        body = answer.body()
        assert await anext(body) in (b"first", b"firstsecond")
        answer.close()
        again = await pool.send(upstream, "GET", b"/", [], None, SOON)
        assert await again.read() == b"firstsecond"
    assert raw.connections == 2
    pool.close()


async def test_a_known_length_body_is_sent_as_declared() -> None:
    raw = RawServer(_ok)
    pool = UpstreamPool()
    async with raw as upstream:
        headers = [(b"content-length", b"6")]
        answer = await pool.send(upstream, "PUT", b"/y?a=1", headers, _chunks(b"ab", b"cdef"), SOON)
        assert await answer.read() == b"abcdef"
    assert b"transfer-encoding" not in raw.requests[0]
    assert raw.requests[0].startswith(b"PUT /y?a=1 HTTP/1.1")
    pool.close()


async def test_a_silent_upstream_is_a_timeout() -> None:
    async def silent(
        head: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        await asyncio.sleep(5)
        return False

    pool = UpstreamPool()
    async with RawServer(silent) as upstream:
        with pytest.raises(UpstreamTimeout):
            await pool.send(upstream, "GET", b"/", [], None, Deadlines(2, 0.2, 2))
    pool.close()


async def test_an_answer_broken_off_is_unavailable_not_complete() -> None:
    async def broken(
        head: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nonly part")
        await writer.drain()
        return False

    pool = UpstreamPool()
    async with RawServer(broken) as upstream:
        answer = await pool.send(upstream, "GET", b"/", [], None, SOON)
        with pytest.raises(UpstreamUnavailable):
            await answer.read()
    pool.close()


async def test_garbage_and_closed_ports_are_unavailable() -> None:
    async def garbage(
        head: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        writer.write(b"SSH-2.0-OpenSSH\r\n\r\n")
        await writer.drain()
        return False

    pool = UpstreamPool()
    async with RawServer(garbage) as upstream:
        with pytest.raises(UpstreamUnavailable):
            await pool.send(upstream, "GET", b"/", [], None, SOON)
    with pytest.raises(UpstreamUnavailable):
        await pool.send(upstream, "GET", b"/", [], None, SOON)  # the server is gone
    pool.close()
