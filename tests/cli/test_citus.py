"""`tenantry citus …` where there is no Citus: one readable line and a non-zero exit."""

from __future__ import annotations

from tests.support.cli import tenantry


def test_distribute_refuses_a_database_without_citus(urls) -> None:
    result = tenantry(urls, "citus", "distribute")
    assert result.returncode == 1
    assert "no citus extension" in result.stderr
    assert "Traceback" not in result.stderr


def test_isolate_names_what_to_node_takes(urls) -> None:
    result = tenantry(urls, "citus", "isolate", "acme", "--to-node", "nowhere")
    assert result.returncode == 1
    assert "--to-node takes host:port" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
