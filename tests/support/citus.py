"""The Citus cluster the `citus` tests run against: `TENANTRY_CITUS_URL` (a superuser URL of a
coordinator's database with the citus extension and at least two workers), else the cluster
`make citus` started on this machine (scripts/citus-cluster.sh), else none."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import TYPE_CHECKING

import psycopg
from psycopg import conninfo, sql

if TYPE_CHECKING:
    from collections.abc import Iterator

ROOT = Path(__file__).resolve().parents[2]
# Written by `scripts/citus-cluster.sh start`, removed by `stop`.
URL_FILE = ROOT / ".tenantry" / "citus" / "coordinator.url"


def citus_url() -> str | None:
    """The coordinator's URL when a Citus cluster answers, else None."""
    url = os.environ.get("TENANTRY_CITUS_URL")
    if url:
        return url
    if not URL_FILE.exists():
        return None
    url = URL_FILE.read_text().strip()
    try:
        with psycopg.connect(url, connect_timeout=3) as conn:
            conn.execute("SELECT citus_version()")
    except psycopg.Error:
        return None
    return url


def _nodes(url: str) -> list[tuple[str, int, bool]]:
    """(host, port, is the coordinator) of every node of the cluster at `url`."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT nodename, nodeport, groupid = 0 FROM pg_dist_node ORDER BY groupid"
        ).fetchall()
    return [(str(host), int(port), bool(coordinator)) for host, port, coordinator in rows]


def _at(url: str, host: str, port: int, dbname: str) -> str:
    return conninfo.make_conninfo(url, host=host, port=port, dbname=dbname)


@contextlib.contextmanager
def citus_database(url: str, name: str) -> Iterator[str]:
    """A new database `name` on every node of the cluster, with the citus extension and the
    workers registered: its coordinator's superuser URL; dropped everywhere afterwards."""
    nodes = _nodes(url)
    for host, port, _ in nodes:
        with psycopg.connect(_at(url, host, port, "postgres"), autocommit=True) as conn:
            conn.execute("SET citus.enable_create_database_propagation = off")
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        with psycopg.connect(_at(url, host, port, name), autocommit=True) as conn:
            conn.execute("CREATE EXTENSION citus")
    coordinator = next((host, port) for host, port, first in nodes if first)
    admin = _at(url, *coordinator, name)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute("SELECT citus_set_coordinator_host(%s, %s)", coordinator)
        for host, port, first in nodes:
            if not first:
                conn.execute("SELECT citus_add_node(%s, %s)", [host, port])
    try:
        yield admin
    finally:
        for host, port, _ in nodes:
            with psycopg.connect(_at(url, host, port, "postgres"), autocommit=True) as conn:
                conn.execute("SET citus.enable_create_database_propagation = off")
                conn.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
                )
