"""The `tenantry` command line, run as a user would run it, against the test database."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import psycopg
import pytest

from tenantry.kit.context import TenantContext
from tests.conftest import ROLES, signer_for


def tenantry(urls, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "TENANTRY_DATABASE_URL": urls.admin,
        "TENANTRY_ROLE_PREFIX": ROLES.prefix,
        "COLUMNS": "200",
    }
    return subprocess.run(
        [sys.executable, "-m", "tenantry.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        input=stdin,
        timeout=60,
        check=False,
    )


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


def test_upgrade_is_idempotent_and_audit_is_clean(urls) -> None:
    upgrade = tenantry(urls, "db", "upgrade")
    assert upgrade.returncode == 0, upgrade.stderr
    assert "already at head" in upgrade.stdout
    audit = tenantry(urls, "audit-db", "--json")
    assert audit.returncode == 0, audit.stdout
    assert json.loads(audit.stdout) == []


def test_audit_reports_and_fails_on_a_violation(scratch_urls) -> None:
    with psycopg.connect(scratch_urls.admin) as conn:
        conn.execute(f'GRANT TRUNCATE ON tenantry.app_users TO "{ROLES.runtime}"')
    audit = tenantry(scratch_urls, "audit-db")
    assert audit.returncode == 1
    assert audit.stdout.strip().splitlines() == [
        f"excess_privilege: {ROLES.runtime}: has TRUNCATE on tenantry.app_users"
    ]


def test_key_rotation_with_overlap(scratch_urls) -> None:
    old = signer_for(scratch_urls.admin)

    def visible(token: str) -> int:
        with psycopg.connect(scratch_urls.runtime) as conn:
            conn.execute("SELECT set_config('tenantry.context', %s, true)", [token])
            return conn.execute("SELECT count(*) FROM tenantry.tenant_apps").fetchone()[0]

    with psycopg.connect(scratch_urls.platform) as conn:
        conn.execute("SELECT set_config('tenantry.context', %s, true)", [old.sign_platform()])
        tenant = conn.execute(
            "INSERT INTO tenants (id, slug, name) VALUES (gen_random_uuid(), 'rot', 'Rot') RETURNING id"
        ).fetchone()[0]
        conn.execute(
            "INSERT INTO tenant_apps (tenant_id, app_id) SELECT %s, id FROM apps WHERE slug = 'admin'",
            [tenant],
        )
    old_token = old.sign_tenant(TenantContext(tenant))
    assert visible(old_token) == 1

    assert tenantry(scratch_urls, "db", "retire-key", old.kid).returncode == 1  # last key
    rotated = tenantry(scratch_urls, "db", "rotate-key")
    assert rotated.returncode == 0, rotated.stderr
    new = signer_for(scratch_urls.admin)
    assert new.kid != old.kid
    assert visible(old_token) == 1  # overlap: the old key still verifies
    assert visible(new.sign_tenant(TenantContext(tenant))) == 1

    retired = tenantry(scratch_urls, "db", "retire-key", old.kid)
    assert retired.returncode == 0, retired.stderr
    assert visible(old_token) == 0
    assert visible(new.sign_tenant(TenantContext(tenant))) == 1
    unknown = tenantry(scratch_urls, "db", "retire-key", "nosuchkey")
    assert unknown.returncode == 1
    assert "no active key nosuchkey" in unknown.stderr


def test_app_key_rotation_cli(scratch_urls) -> None:
    listed = json.loads(tenantry(scratch_urls, "apps", "list", "--json").stdout)
    assert {a["slug"] for a in listed} >= {"thinktank", "admin"}
    rotated = tenantry(scratch_urls, "apps", "rotate-key", "alwaysme")
    assert rotated.returncode == 0, rotated.stderr
    first = tenantry(scratch_urls, "apps", "rotate-key", "alwaysme")
    assert first.returncode == 0
    keys = next(
        a
        for a in json.loads(tenantry(scratch_urls, "apps", "list", "--json").stdout)
        if a["slug"] == "alwaysme"
    )
    oldest, newest = keys["signing keys (oldest first)"].split()
    assert tenantry(scratch_urls, "apps", "retire-key", oldest).returncode == 0
    last = tenantry(scratch_urls, "apps", "retire-key", newest)
    assert last.returncode == 1
    assert "last active key" in last.stderr
    assert (
        tenantry(scratch_urls, "apps", "rotate-key", "nope").stderr.strip()
        == "error: no app 'nope'"
    )


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


def test_cli_refuses_over_deep_json_in_one_line(urls) -> None:
    deep = "[" * 40 + "]" * 40
    result = tenantry(
        urls, "flags", "define", "cli.deep", "--type", "json", "--default", deep, "--reason", "x"
    )
    assert result.returncode != 0
    assert "nested at most 32 levels" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    listed = tenantry(urls, "flags", "list", "--json")
    assert "cli.deep" not in listed.stdout
