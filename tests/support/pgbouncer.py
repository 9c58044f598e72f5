"""A real PgBouncer in transaction mode in front of the test server.

With `TENANTRY_TEST_PGBOUNCER=1` the controlling process starts one (Debian's `pgbouncer`; `make
pgbouncer` installs it) and every worker's runtime and platform URLs go through it, while the
admin URL, the migrations and the invalidation listener stay on direct connections, as in a
production deployment (docs/operations.md). Its settings are the documented ones:
`pool_mode = transaction` and `DISCARD ALL` after every transaction, so that nothing a
transaction leaves in its session reaches the next client of that server connection.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from psycopg import conninfo

from tests.support.live import free_port

ENABLED = os.environ.get("TENANTRY_TEST_PGBOUNCER") == "1"
# Set by the controlling process for its xdist workers: PgBouncer's host and port.
ADDRESS = "TENANTRY_TEST_PGBOUNCER_ADDRESS"
# PgBouncer refuses to run as root; the embedded server's own user may read its socket.
UNPRIVILEGED_USER = "embedded_postgres"


def settings_for(
    server_url: str,
    port: int,
    folder: Path,
    *,
    reset: bool = True,
    pool_size: int = 20,
    query_wait_timeout: int = 120,
) -> str:
    target = conninfo.conninfo_to_dict(server_url)
    server = " ".join(
        f"{key}={target[key]}" for key in ("host", "port") if target.get(key) is not None
    )
    return "\n".join(
        [
            "[databases]",
            f"* = {server}",
            "[pgbouncer]",
            "listen_addr = 127.0.0.1",
            f"listen_port = {port}",
            "unix_socket_dir =",
            "auth_type = trust",
            f"auth_file = {folder / 'users.txt'}",
            "pool_mode = transaction",
            # Only tests that show what goes wrong without it turn this off.
            f"server_reset_query = {'DISCARD ALL' if reset else ''}",
            f"server_reset_query_always = {int(reset)}",
            # Server connections per (database, user) pair.
            f"default_pool_size = {pool_size}",
            "max_client_conn = 1000",
            # While the server is away: answer waiting clients with an error after this long
            # (PgBouncer's default, 120 s, holds them), and try the server again every second
            # (the default, 15 s, delays recovery).
            f"query_wait_timeout = {query_wait_timeout}",
            "server_login_retry = 1",
            "ignore_startup_parameters = extra_float_digits",
            f"logfile = {folder / 'pgbouncer.log'}",
            f"pidfile = {folder / 'pgbouncer.pid'}",
            "",
        ]
    )


def start(
    server_url: str,
    users: list[str],
    *,
    reset: bool = True,
    pool_size: int = 20,
    query_wait_timeout: int = 120,
) -> tuple[str, Path]:
    """Start PgBouncer in front of `server_url` for `users`; its address and folder."""
    binary = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
    if not Path(binary).exists():
        raise RuntimeError("TENANTRY_TEST_PGBOUNCER=1 needs pgbouncer: run `make pgbouncer`")
    folder = Path(tempfile.mkdtemp(prefix="tenantry-pgbouncer-"))
    port = free_port()
    (folder / "users.txt").write_text("".join(f'"{user}" ""\n' for user in users))
    (folder / "pgbouncer.ini").write_text(
        settings_for(
            server_url,
            port,
            folder,
            reset=reset,
            pool_size=pool_size,
            query_wait_timeout=query_wait_timeout,
        )
    )
    command = [binary, "-d", str(folder / "pgbouncer.ini")]
    if os.geteuid() == 0:
        folder.chmod(0o777)
        for file in folder.iterdir():
            file.chmod(0o644)
        command[1:1] = ["-u", UNPRIVILEGED_USER]
    subprocess.run(command, check=True, capture_output=True, timeout=30)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        except OSError:
            time.sleep(0.05)
        else:
            return f"127.0.0.1:{port}", folder
    raise RuntimeError(f"pgbouncer did not start: see {folder / 'pgbouncer.log'}")


def stop(folder: Path) -> None:
    pidfile = folder / "pgbouncer.pid"
    if pidfile.exists():
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.kill(int(pidfile.read_text().strip()), signal.SIGTERM)
    shutil.rmtree(folder, ignore_errors=True)


def through(url: str, address: str) -> str:
    """`url` (same database and user) through PgBouncer at `address`."""
    host, port = address.split(":")
    parts = {k: v for k, v in conninfo.conninfo_to_dict(url).items() if v is not None}
    parts.update(host=host, port=port)
    return conninfo.make_conninfo("", **{k: str(v) for k, v in parts.items()})
