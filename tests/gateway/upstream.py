"""A small upstream for the gateway tests: a raw ASGI app that answers with its version and what
it received (method, path, query, headers, body), and records every request it saw.

    /slow?seconds=S     answers after S seconds
    /upload             reads the body chunk by chunk (`receiving` is set at the first)
    /stream             sends a first chunk, then the rest once `release` is set
    anything else       echoes, with a few answer headers the gateway must strip
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import threading
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs


@dataclass
class Upstream:
    version: str
    seen: list[dict[str, Any]] = field(default_factory=list)
    receiving: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                else:
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        chunks: list[int] = []
        digest = hashlib.sha256()
        body = b""
        while True:
            message = await receive()
            chunk = message.get("body", b"")
            if chunk:
                chunks.append(len(chunk))
                self.receiving.set()
                digest.update(chunk)
                if len(body) < 4096:
                    body += chunk
            if not message.get("more_body"):
                break
        query = scope["query_string"].decode()
        record = {
            "version": self.version,
            "method": scope["method"],
            "path": scope["path"],
            "raw_path": scope.get("raw_path", b"").decode("latin-1"),
            "query": query,
            "headers": [[k.decode("latin-1"), v.decode("latin-1")] for k, v in scope["headers"]],
            "body": body.decode("latin-1"),
            "size": sum(chunks),
            "chunks": len(chunks),
            "largest_chunk": max(chunks, default=0),
            "sha256": digest.hexdigest(),
        }
        self.seen.append(record)
        if scope["path"].endswith("/slow"):
            await asyncio.sleep(float(parse_qs(query).get("seconds", ["5"])[0]))
        if scope["path"].endswith("/stream"):
            await self._stream(send)
            return
        payload = json.dumps(record).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(payload)).encode()),
                    (b"x-upstream-version", self.version.encode()),
                    (b"connection", b"x-secret-hop"),
                    (b"x-secret-hop", b"must not cross"),
                    (b"keep-alive", b"timeout=5"),
                    (b"proxy-authenticate", b"Basic"),
                    (b"upgrade", b"h2c"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})

    async def _stream(self, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"first;", "more_body": True})
        await asyncio.to_thread(self.release.wait, 10)
        await send({"type": "http.response.body", "body": b"second"})

    def headers_of(self, record: dict[str, Any]) -> dict[str, list[str]]:
        merged: dict[str, list[str]] = {}
        for key, value in record["headers"]:
            merged.setdefault(key, []).append(value)
        return merged
