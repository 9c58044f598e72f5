"""`tenantry doctor`: clean on a fresh database, then finds schema drift, orphaned domain
claims, tenants without an administrator and slow statements."""

from __future__ import annotations

import json

import psycopg

from tests.support.cli import tenantry
from tests.support.database import ROLES


def test_doctor_is_clean_then_finds_drift_and_inconsistencies(scratch_urls) -> None:
    clean = tenantry(scratch_urls, "doctor", "--json")
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert json.loads(clean.stdout)["problems"] == []
    with psycopg.connect(scratch_urls.admin) as conn:
        conn.execute(f'SET ROLE "{ROLES.owner}"')
        conn.execute("DROP INDEX tenantry.sessions_tenant_id_app_id_app_user_id_idx")
        conn.execute("ALTER TABLE tenantry.app_users ADD COLUMN nickname text")
        conn.execute("ALTER TABLE tenantry.tenant_settings NO FORCE ROW LEVEL SECURITY")
        conn.execute("DROP POLICY runtime_read ON tenantry.app_users")
        conn.execute("RESET ROLE")
        # Written as rows on purpose: the services never leave a tenant without its first
        # administrator, nor a domain claim without its domain.
        tenant = conn.execute(
            "INSERT INTO tenantry.tenants (id, slug, name, status) VALUES (gen_random_uuid(), 'lonely', 'L', 'active') RETURNING id"
        ).fetchone()[0]
        conn.execute(
            "INSERT INTO tenantry_private.domain_claims (domain, tenant_id) VALUES ('orphan.example', %s)",
            [tenant],
        )
    found = tenantry(scratch_urls, "doctor", "--json")
    assert found.returncode == 1
    problems = {(p["check"], p["subject"]) for p in json.loads(found.stdout)["problems"]}
    assert (
        "schema_drift",
        "index tenantry.sessions USING btree (tenant_id, app_id, app_user_id)",
    ) in problems
    assert ("schema_drift", "column tenantry.app_users.nickname") in problems
    assert ("schema_drift", "row security tenantry.tenant_settings") in problems
    assert ("schema_drift", "policy tenantry.app_users runtime_read") in problems
    assert ("orphan_domain_claim", "orphan.example") in problems
    assert ("tenant_without_admin", "lonely") in problems
    text = tenantry(scratch_urls, "doctor", "--skip-drift")
    assert "error: orphan_domain_claim: orphan.example" in text.stdout


def test_doctor_reports_slow_statements_when_the_extension_is_there(scratch_urls) -> None:
    with psycopg.connect(scratch_urls.admin) as conn:
        installed = conn.execute(
            "SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements'"
        ).fetchone()
        preloaded = (
            "pg_stat_statements" in conn.execute("SHOW shared_preload_libraries").fetchone()[0]
        )
        # Visible to the operators only: the runtime role must not read other sessions' SQL.
        if installed:
            assert not conn.execute(
                "SELECT has_table_privilege(%s, 'public.pg_stat_statements', 'SELECT')",
                [ROLES.runtime],
            ).fetchone()[0]
    report = json.loads(tenantry(scratch_urls, "doctor", "--skip-drift", "--json").stdout)
    # `db upgrade` installs the extension wherever the server preloads it (the embedded one
    # does); elsewhere the report says it is unavailable instead of failing.
    assert bool(installed) == preloaded
    if preloaded:
        assert report["slow_queries"]
        assert {"role", "calls", "total_ms", "mean_ms", "query"} <= set(report["slow_queries"][0])
    else:
        assert report["slow_queries"] is None
