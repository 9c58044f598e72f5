"""Shared benchmark plumbing: a throw-away embedded database, migrated and seeded, and the
waiting for a server started in another process."""

from __future__ import annotations

import contextlib
import os
import platform
import shutil
import socket
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import httpx

from tenantry.isolation.roles import Roles
from tenantry.kit import embedded, migrate
from tenantry.kit.dsn import as_role, with_database

if TYPE_CHECKING:
    from collections.abc import Callable

ROLES = Roles("tenantry_bench")
T = TypeVar("T")


@dataclass(frozen=True)
class BenchDatabase:
    admin: str
    data_dir: Path


def fresh_database() -> BenchDatabase:
    """A new embedded server in a temporary directory, migrated, with its own role prefix."""
    data_dir = Path(tempfile.mkdtemp(prefix="tenantry-bench-"))
    server = embedded.start(data_dir / "pgdata")
    migrate.ensure_database(server, "bench")
    admin = with_database(server, "bench")
    migrate.upgrade(admin, ROLES)
    return BenchDatabase(admin, data_dir)


def stop(bench: BenchDatabase) -> None:
    embedded.stop(bench.data_dir / "pgdata")


def role_url(admin: str, role: str) -> str:
    return as_role(admin, role)


def with_fresh_database(work: Callable[[str], T]) -> T:
    """Run `work(admin_url)` against a fresh, migrated database, then throw it away."""
    bench = fresh_database()
    try:
        return work(bench.admin)
    finally:
        stop(bench)
        shutil.rmtree(bench.data_dir, ignore_errors=True)


def free_port() -> int:
    """A loopback port nothing listens on now, for a server started in another process."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_ready(url: str, seconds: float = 60) -> None:
    """Return once `url` answers 200; a server that never does fails the benchmark."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=1).status_code == 200:
                return
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not become ready")


def machine() -> dict[str, str]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": str(os.cpu_count()),
        "python": platform.python_version(),
        "system": platform.platform(),
    }
