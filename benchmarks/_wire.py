"""A lean keep-alive HTTP/1.1 client for load-generating benchmarks.

httpx spends several milliseconds of client CPU per request; on a two-core machine shared with
the service that made the client, not the service, the bottleneck of a long soak. This client
holds one connection, sends one request at a time on it and reads the answer by its
Content-Length (or chunks). A connection that closes or stalls without an answer raises
`Dropped`, never retried: a benchmark must count those, not hide them.
"""

from __future__ import annotations

import asyncio
import json as jsonlib
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

STALL_SECONDS = 60


class Dropped(Exception):
    """The request got no complete answer (closed, reset or stalled connection)."""


@dataclass(frozen=True)
class Answer:
    status_code: int
    text: str

    def json(self) -> dict[str, Any]:
        return jsonlib.loads(self.text)

    def raise_for_status(self) -> None:
        if self.status_code >= 400:
            raise RuntimeError(f"HTTP {self.status_code}: {self.text[:200]}")


class Connection:
    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self._streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def get(
        self,
        path: str,
        *,
        headers: dict[str, str] | None = None,
        params: dict[str, Any] | None = None,
    ) -> Answer:
        if params:
            path = f"{path}?{urlencode(params)}"
        return await self.request("GET", path, headers=headers)

    async def post(
        self, path: str, *, headers: dict[str, str] | None = None, json: object = None
    ) -> Answer:
        return await self.request("POST", path, headers=headers, json=json)

    async def request(
        self, method: str, path: str, *, headers: dict[str, str] | None = None, json: object = None
    ) -> Answer:
        body = b"" if json is None else jsonlib.dumps(json).encode()
        head = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        head.append(f"Content-Length: {len(body)}")
        if json is not None:
            head.append("Content-Type: application/json")
        head.extend(f"{name}: {value}" for name, value in (headers or {}).items())
        message = ("\r\n".join(head) + "\r\n\r\n").encode() + body
        try:
            async with asyncio.timeout(STALL_SECONDS):
                return await self._exchange(message)
        except (OSError, EOFError, TimeoutError, asyncio.IncompleteReadError, ValueError) as exc:
            self.close()
            raise Dropped(f"{method} {path}: {exc!r}") from exc

    async def _exchange(self, message: bytes) -> Answer:
        if self._streams is None:
            self._streams = await asyncio.open_connection(self.host, self.port)
        reader, writer = self._streams
        writer.write(message)
        await writer.drain()
        status_line, *lines = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        status = int(status_line.split(" ", 2)[1])
        fields = {}
        for line in lines:
            if line:
                name, _, value = line.partition(":")
                fields[name.strip().lower()] = value.strip()
        if "content-length" in fields:
            body = await reader.readexactly(int(fields["content-length"]))
        elif fields.get("transfer-encoding", "").lower() == "chunked":
            body = await self._chunks(reader)
        else:
            body = await reader.read()  # the server closes to end the body
            self.close()
        if fields.get("connection", "").lower() == "close":
            self.close()
        return Answer(status, body.decode())

    @staticmethod
    async def _chunks(reader: asyncio.StreamReader) -> bytes:
        body = bytearray()
        while size := int((await reader.readuntil(b"\r\n")).split(b";")[0], 16):
            body += await reader.readexactly(size)
            await reader.readexactly(2)
        await reader.readuntil(b"\r\n")  # the (empty) trailer section
        return bytes(body)

    def close(self) -> None:
        if self._streams is not None:
            self._streams[1].close()
            self._streams = None
