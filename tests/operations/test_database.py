"""The database's own operations, run through the CLI as an operator would: migration status,
upgrade and downgrade of the policy shapes, context-key rotation, and `audit-db`."""

from __future__ import annotations

import json
from uuid import UUID

import psycopg

from tenantry.kit.context import TenantContext
from tests.support.cli import tenantry
from tests.support.database import ROLES, signer_for


def test_db_status_lists_applied_migrations(scratch_urls) -> None:
    result = tenantry(scratch_urls, "db", "status", "--json")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    core = [r for r in rows if ":" not in r["revision"]]
    assert [r["revision"] for r in core] == [f"{n:04d}" for n in range(1, 28)]
    assert all(r["applied_at"] for r in core)
    # Installed modules follow, each revision named after its module.
    modules = [r["revision"] for r in rows if ":" in r["revision"]]
    assert "workloads:w0001" in modules
    assert {r["state"] for r in rows} == {"applied"}


def test_policy_shapes_migrate_down_and_up_again(scratch_urls) -> None:
    """Revisions 0005 and 0006 regenerate every policy; each downgrade restores the shapes
    before it, and the database passes the audit at every step."""
    # Installed modules' tables stand on the current schema: reverting under them is refused.
    refused = tenantry(scratch_urls, "db", "downgrade", "0005")
    assert refused.returncode == 1
    assert "installed modules are applied (workloads)" in refused.stderr, refused.stderr
    down = tenantry(scratch_urls, "db", "downgrade", "0005", "--modules")
    assert down.returncode == 0, down.stderr
    assert "workloads:w0001" in down.stdout
    with psycopg.connect(scratch_urls.admin) as conn:
        texts = [
            row[0]
            for row in conn.execute(
                "SELECT pg_get_expr(polqual, polrelid) FROM pg_policy "
                "WHERE polrelid = 'tenantry.app_users'::regclass AND polqual IS NOT NULL"
            )
        ]
        statistics = conn.execute("SELECT count(*) FROM pg_statistic_ext").fetchone()
        view = conn.execute("SELECT to_regclass('tenantry.current_scope')").fetchone()
    assert texts
    assert all("context_scope()" in text for text in texts)
    assert any("readable_scope_keys(" in text for text in texts)
    assert statistics == (0,)
    assert view == (None,)
    # The shapes of 0005 pass every check but the one 0006 added.
    audited = tenantry(scratch_urls, "audit-db")
    findings = {line.split(":")[0] for line in audited.stdout.splitlines() if line.strip()}
    assert findings == {"scope_key_without_statistics"}, audited.stdout + audited.stderr

    down = tenantry(scratch_urls, "db", "downgrade", "0004")
    assert down.returncode == 0, down.stderr
    assert "reverted 0005" in down.stdout
    with psycopg.connect(scratch_urls.admin) as conn:
        policies = {
            row[0]
            for row in conn.execute(
                "SELECT polname FROM pg_policy WHERE polrelid = 'tenantry.app_users'::regclass"
            )
        }
        columns = {
            row[0]
            for row in conn.execute(
                "SELECT attname FROM pg_attribute WHERE attrelid = 'tenantry.app_users'::regclass"
            )
        }
    assert policies == {"platform_access", "runtime_access", "runtime_cross_app_read"}
    assert not {"scope_key", "email_normalized"} & columns
    up = tenantry(scratch_urls, "db", "upgrade")
    assert up.returncode == 0, up.stderr
    audited = tenantry(scratch_urls, "audit-db")
    assert audited.returncode == 0, audited.stdout + audited.stderr
    doctor = tenantry(scratch_urls, "doctor", "--json")
    assert json.loads(doctor.stdout)["problems"] == []


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

    # Provisioned as an operator does: the tenant serves the admin app only.
    created = tenantry(
        scratch_urls,
        "tenants",
        "create",
        "rot",
        "--name",
        "Rot",
        "--admin-email",
        "a@rot.test",
        "--json",
    )
    assert created.returncode == 0, created.stderr
    tenant = UUID(json.loads(created.stdout)["tenant"]["id"])
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
