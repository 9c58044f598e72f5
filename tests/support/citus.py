"""The Citus cluster the `citus` tests run against: `TENANTRY_CITUS_URL` (a superuser URL of a
coordinator's database with the citus extension and at least two workers), else the cluster
`make citus` started on this machine (scripts/citus-cluster.sh), else none."""

from __future__ import annotations

import os
from pathlib import Path

import psycopg

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
