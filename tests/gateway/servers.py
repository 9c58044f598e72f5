"""Real servers on loopback for the gateway suite and its benchmark: uvicorn in a thread, like
`tests.support.live`, with the options a proxy test needs (Tenantry must not take the tests'
`X-Forwarded-*` from loopback as a trusted proxy's)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn


@contextmanager
def serve(make_app: Callable[[str], Any], **options: Any) -> Iterator[str]:
    """Serve the ASGI app `make_app(url)` until the block ends; yields its base URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    config = {"log_config": None, "access_log": False, "lifespan": "on", **options}
    server = uvicorn.Server(uvicorn.Config(make_app(url), **config))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.05)
    try:
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
