"""The Citus cluster itself (make citus, or TENANTRY_CITUS_URL): two workers, rows of a
distributed table spread over shards on both, a reference table copied to every node."""

from __future__ import annotations

from typing import TYPE_CHECKING

import psycopg
import pytest

from tests.support.citus import citus_url

if TYPE_CHECKING:
    from collections.abc import Iterator

URL = citus_url()

pytestmark = [
    pytest.mark.citus,
    pytest.mark.skipif(
        URL is None, reason="no Citus cluster: run `make citus` or set TENANTRY_CITUS_URL"
    ),
]


@pytest.fixture
def conn() -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    assert URL is not None
    with psycopg.connect(URL, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS citus_probe_rows, citus_probe_plans")
        yield conn
        conn.execute("DROP TABLE IF EXISTS citus_probe_rows, citus_probe_plans")


def test_two_workers_are_active(conn: psycopg.Connection[tuple[object, ...]]) -> None:
    workers = conn.execute("SELECT * FROM citus_get_active_worker_nodes()").fetchall()
    assert len(workers) >= 2


def test_a_distributed_table_spreads_over_the_workers(
    conn: psycopg.Connection[tuple[object, ...]],
) -> None:
    conn.execute("CREATE TABLE citus_probe_rows (tenant_id int, n int)")
    conn.execute("SELECT create_distributed_table('citus_probe_rows', 'tenant_id')")
    conn.execute(
        "INSERT INTO citus_probe_rows SELECT t, n FROM generate_series(1, 100) t,"
        " generate_series(1, 10) n"
    )
    assert conn.execute("SELECT count(*), sum(n) FROM citus_probe_rows").fetchone() == (1000, 5500)
    assert conn.execute(
        "SELECT count(*) FROM citus_probe_rows WHERE tenant_id = 42"
    ).fetchone() == (10,)
    nodes = conn.execute(
        "SELECT count(DISTINCT nodeport), count(*) FROM citus_shards"
        " WHERE table_name = 'citus_probe_rows'::regclass"
    ).fetchone()
    assert nodes is not None
    assert nodes[0] >= 2
    assert nodes[1] > 1
    # Every shard holds some of the rows: the count per shard, run on the workers.
    per_shard = conn.execute(
        "SELECT result::int FROM run_command_on_shards("
        "'citus_probe_rows', 'SELECT count(*) FROM %s')"
    ).fetchall()
    assert sum(int(row[0]) for row in per_shard) == 1000
    assert sum(1 for row in per_shard if int(row[0]) > 0) > 1


def test_a_reference_table_is_on_every_node(
    conn: psycopg.Connection[tuple[object, ...]],
) -> None:
    conn.execute("CREATE TABLE citus_probe_plans (id int PRIMARY KEY, name text)")
    conn.execute("SELECT create_reference_table('citus_probe_plans')")
    conn.execute("INSERT INTO citus_probe_plans VALUES (1, 'free'), (2, 'pro')")
    placements = conn.execute(
        "SELECT count(DISTINCT nodeport) FROM citus_shards"
        " WHERE table_name = 'citus_probe_plans'::regclass"
    ).fetchone()
    assert placements is not None
    assert placements[0] >= 3  # the coordinator and both workers
    copies = conn.execute(
        "SELECT result FROM run_command_on_placements("
        "'citus_probe_plans', 'SELECT count(*) FROM %s')"
    ).fetchall()
    assert [row[0] for row in copies] == ["2"] * placements[0]
