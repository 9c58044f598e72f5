"""`tenantry sql` in a tenant's context (one-shot, several statements, interactive; errors on one
line) over the demo data, and `tenantry db seed-demo`."""

from __future__ import annotations

import json

import psycopg
import pytest

from tests.support.cli import tenantry


@pytest.fixture(scope="module")
def demo(urls):
    result = tenantry(urls, "db", "seed-demo")
    assert result.returncode == 0, result.stderr
    return urls


def test_seed_demo_is_idempotent(demo) -> None:
    again = tenantry(demo, "db", "seed-demo")
    assert again.returncode == 0
    assert "0 tenants, 0 users added" in again.stdout


def test_sql_json_shows_only_the_context(demo) -> None:
    result = tenantry(
        demo,
        "sql",
        "--tenant",
        "acme",
        "--app",
        "thinktank",
        "--json",
        "SELECT email FROM app_users ORDER BY email",
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [{"email": "alice@example.com"}, {"email": "bob@acme.test"}]


def test_sql_runs_several_statements_in_one_transaction(demo) -> None:
    result = tenantry(
        demo,
        "sql",
        "--tenant",
        "globex",
        "--app",
        "mechanicalmaker",
        "--user",
        "ivy@globex.test",
        "--json",
        "UPDATE app_users SET display_name = 'Ivy R.' WHERE id = current_app_user_id(); "
        "SELECT display_name, id = current_app_user_id() AS me FROM app_users ORDER BY email",
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [
        {"display_name": "Hank", "me": False},
        {"display_name": "Ivy R.", "me": True},
    ]


def test_sql_cannot_write_into_another_tenant(demo) -> None:
    result = tenantry(
        demo,
        "sql",
        "--tenant",
        "acme",
        "--app",
        "thinktank",
        "INSERT INTO app_users (tenant_id, app_id, id, email) "
        "SELECT t.id, a.id, gen_random_uuid(), 'x@y.z' FROM apps a, "
        "(VALUES ((SELECT id FROM tenants WHERE slug = 'acme'))) t(id) WHERE a.slug = 'launchboard'",
    )
    assert result.returncode == 1
    assert "[42501]" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--tenant", "nope", "--app", "thinktank", "SELECT 1"), "no tenant 'nope'"),
        (("--tenant", "acme", "--app", "nope", "SELECT 1"), "no app 'nope'"),
        (("--tenant", "acme", "--app", "thinktank", "--user", "x@y.z", "SELECT 1"), "no user"),
        (("--tenant", "acme", "--app", "thinktank", "SELEC 1"), "syntax error"),
    ],
)
def test_sql_errors_are_one_line(demo, args, message) -> None:
    result = tenantry(demo, "sql", *args)
    assert result.returncode == 1
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_sql_interactive(demo) -> None:
    result = tenantry(
        demo,
        "sql",
        "--tenant",
        "acme",
        "--app",
        "launchboard",
        "--json",
        stdin="SELECT count(*) AS n\nFROM app_users;\nSELECT nonsense;\n\\q\n",
    )
    assert result.returncode == 0
    assert '[{"n": 2}]' in result.stdout
    assert "nonsense" in result.stderr


def test_seed_demo_correlates_each_person_across_apps(demo) -> None:
    """The admin people view reads this: alice has two identities in acme."""
    with psycopg.connect(demo.admin) as conn:
        rows = conn.execute(
            """SELECT a.slug FROM tenantry.cross_app_user_correlation c
                 JOIN tenantry.tenants t ON t.id = c.tenant_id
                 JOIN tenantry.apps a ON a.id = c.app_id
                WHERE t.slug = 'acme' AND c.email_normalized = 'alice@example.com'
                  AND c.person_id = (SELECT person_id FROM tenantry.cross_app_user_correlation
                                      WHERE tenant_id = t.id
                                        AND email_normalized = 'alice@example.com' LIMIT 1)
                ORDER BY a.slug"""
        ).fetchall()
    assert [r[0] for r in rows] == ["launchboard", "thinktank"]
