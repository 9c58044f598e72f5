"""Every `audit-db` check fires on a deliberately broken object, and a fresh database is clean.

Each violation is made inside a transaction that is rolled back (DDL, grants and role changes are
all transactional in PostgreSQL), so the shared test database stays clean.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re

import psycopg
import pytest
from psycopg.rows import dict_row

from tenantry.isolation import audit
from tenantry.isolation.audit import run_checks
from tenantry.isolation.ddl import RuntimeAccess, Scope, ScopedTable, scoped_table_sql
from tenantry.isolation.roles import Roles
from tests.support.database import ROLES

RUNTIME = ROLES.runtime


def helper_table(
    name: str, scope: Scope = Scope.TENANT, columns: tuple[str, ...] = ()
) -> list[str]:
    return scoped_table_sql(
        ScopedTable(name=name, scope=scope, columns=("label text", *columns)), ROLES
    )


VIOLATIONS = {
    "runtime_access_exceeds_declaration": [
        *scoped_table_sql(
            ScopedTable(
                name="t_log",
                scope=Scope.TENANT,
                columns=("label text",),
                runtime_access=RuntimeAccess.APPEND_ONLY,
            ),
            ROLES,
        ),
        f'GRANT UPDATE ON tenantry.t_log TO "{RUNTIME}"',
    ],
    "rls_disabled": [
        *helper_table("t_rls"),
        "ALTER TABLE tenantry.t_rls DISABLE ROW LEVEL SECURITY",
    ],
    "residency_unguarded": [
        *helper_table("t_resident"),
        "ALTER TABLE tenantry.t_resident ENABLE TRIGGER require_residency_update",  # not ALWAYS
    ],
    "rls_not_forced": [
        *helper_table("t_force"),
        "ALTER TABLE tenantry.t_force NO FORCE ROW LEVEL SECURITY",
    ],
    "partition_reachable": [
        *scoped_table_sql(
            ScopedTable(
                name="t_part",
                scope=Scope.TENANT,
                columns=("bucket int NOT NULL",),
                primary_key=("id", "bucket"),
                partition_by="LIST (bucket)",
            ),
            ROLES,
        ),
        "CREATE TABLE tenantry.t_part_1 PARTITION OF tenantry.t_part FOR VALUES IN (1)",
        "ALTER TABLE tenantry.t_part_1 ENABLE ROW LEVEL SECURITY",
        "ALTER TABLE tenantry.t_part_1 FORCE ROW LEVEL SECURITY",
        f'GRANT SELECT ON tenantry.t_part_1 TO "{RUNTIME}"',
    ],
    "undeclared_table": [
        "CREATE TABLE tenantry.t_hand (tenant_id uuid, id uuid, PRIMARY KEY (tenant_id, id))",
    ],
    "missing_policy": [
        *helper_table("t_nopol"),
        "DROP POLICY runtime_access ON tenantry.t_nopol",
    ],
    "missing_app_filter": [
        *helper_table("t_app", Scope.APP),
        "DROP POLICY runtime_access ON tenantry.t_app",
        (
            f'CREATE POLICY runtime_access ON tenantry.t_app TO "{RUNTIME}" '
            "USING (tenant_id = (SELECT tenantry.current_tenant_id())) "
            "WITH CHECK (tenant_id = (SELECT tenantry.current_tenant_id()))"
        ),
    ],
    "multiple_permissive_policies": [
        *helper_table("t_two_policies"),
        (
            f'CREATE POLICY also_mine ON tenantry.t_two_policies FOR SELECT TO "{RUNTIME}" '
            "USING (tenant_id = (SELECT s.tenant_id FROM tenantry.context_scope() s))"
        ),
    ],
    "repeated_verification": [
        *helper_table("t_twice", Scope.APP),
        "DROP POLICY runtime_access ON tenantry.t_twice",
        (
            f'CREATE POLICY runtime_access ON tenantry.t_twice TO "{RUNTIME}" '
            "USING (tenant_id = (SELECT tenantry.current_tenant_id()) "
            "AND app_id = (SELECT tenantry.current_app_id())) "
            "WITH CHECK (tenant_id = (SELECT tenantry.current_tenant_id()) "
            "AND app_id = (SELECT tenantry.current_app_id()))"
        ),
    ],
    "app_column_ignored": [
        *helper_table("t_optional_app", columns=("app_id uuid REFERENCES tenantry.apps (id)",)),
    ],
    "leaky_expression_index": [
        *helper_table("t_lower"),
        "CREATE INDEX ON tenantry.t_lower (tenant_id, lower(label))",
    ],
    "unindexed_foreign_key": [
        *helper_table("t_target"),
        *helper_table("t_source", columns=("target_id uuid",)),
        (
            "ALTER TABLE tenantry.t_source ADD FOREIGN KEY (tenant_id, target_id) "
            "REFERENCES tenantry.t_target (tenant_id, id)"
        ),
    ],
    "always_true_policy": [
        *helper_table("t_true"),
        f'CREATE POLICY wide_open ON tenantry.t_true TO "{RUNTIME}" USING (true) WITH CHECK (true)',
    ],
    "policy_without_context": [
        *helper_table("t_guc"),
        (
            f'CREATE POLICY settable ON tenantry.t_guc TO "{RUNTIME}" '
            "USING (tenant_id = current_setting('app.tenant_id', true)::uuid)"
        ),
    ],
    "unwrapped_context_call": [
        *helper_table("t_per_row"),
        "DROP POLICY runtime_access ON tenantry.t_per_row",
        (
            f'CREATE POLICY runtime_access ON tenantry.t_per_row TO "{RUNTIME}" '
            "USING (tenant_id = tenantry.current_tenant_id()) "
            "WITH CHECK (tenant_id = (SELECT tenantry.current_tenant_id()))"
        ),
    ],
    "key_without_tenant": [
        *helper_table("t_unique"),
        "CREATE UNIQUE INDEX ON tenantry.t_unique (label)",
    ],
    "missing_tenant_index": [
        "CREATE TABLE tenantry.t_noindex (id uuid, tenant_id uuid, PRIMARY KEY (id, tenant_id))",
    ],
    "missing_tenant_column": [
        "CREATE TABLE tenantry.t_app_only (app_id uuid, id uuid PRIMARY KEY)",
    ],
    "single_column_foreign_key": [
        *helper_table("t_parent"),
        "CREATE UNIQUE INDEX t_parent_id ON tenantry.t_parent (id)",
        *helper_table("t_child", columns=("parent_id uuid REFERENCES tenantry.t_parent (id)",)),
    ],
    "sequence_on_tenant_table": [
        *helper_table("t_seq", columns=("n bigint GENERATED ALWAYS AS IDENTITY",)),
    ],
    "view_without_security_invoker": [
        "CREATE VIEW tenantry.v_users AS SELECT * FROM tenantry.app_users",
    ],
    "definer_view_without_barrier": [
        "CREATE VIEW tenantry.v_kids AS SELECT kid FROM tenantry_private.context_keys",
        f'GRANT SELECT ON tenantry.v_kids TO "{RUNTIME}"',
    ],
    "scope_key_without_statistics": [
        *helper_table("t_keyed", Scope.TENANT_OR_APP),
        "DROP STATISTICS tenantry.t_keyed_scope_key",
    ],
    "materialized_view_over_tenant_table": [
        "CREATE MATERIALIZED VIEW tenantry.mv_users AS SELECT * FROM tenantry.app_users",
    ],
    "role_attribute": [
        "RESET ROLE",
        f'ALTER ROLE "{RUNTIME}" BYPASSRLS',
    ],
    "role_membership": [
        "RESET ROLE",
        f'GRANT pg_read_all_stats TO "{RUNTIME}"',
    ],
    "role_owns_objects": [
        "CREATE TABLE tenantry.t_owned (x int)",
        "RESET ROLE",
        f'ALTER TABLE tenantry.t_owned OWNER TO "{RUNTIME}"',
    ],
    "excess_privilege": [
        f'GRANT TRUNCATE, REFERENCES, TRIGGER ON tenantry.app_users TO "{RUNTIME}"',
        f'GRANT CREATE ON SCHEMA tenantry TO "{RUNTIME}"',
    ],
    "runtime_writes_unprotected_table": [
        f'GRANT INSERT ON tenantry.apps TO "{RUNTIME}"',
    ],
    "runtime_reads_keys": [
        f'GRANT USAGE ON SCHEMA tenantry_private TO "{RUNTIME}"',
    ],
    "runtime_sees_activity": [
        "RESET ROLE",
        f'ALTER ROLE "{RUNTIME}" RESET track_activities',
    ],
    "security_definer_search_path": [
        (
            "CREATE FUNCTION tenantry.f_unpinned() RETURNS int LANGUAGE sql SECURITY DEFINER "
            "AS 'SELECT 1'"
        ),
        "REVOKE ALL ON FUNCTION tenantry.f_unpinned() FROM PUBLIC",
    ],
    "security_definer_public": [
        (
            "CREATE FUNCTION tenantry.f_public() RETURNS int LANGUAGE sql SECURITY DEFINER "
            "SET search_path = pg_catalog AS 'SELECT 1'"
        ),
    ],
}


@pytest.fixture
def owner(urls):
    with psycopg.connect(urls.admin, row_factory=dict_row) as conn:
        conn.execute(f'SET ROLE "{ROLES.owner}"')
        yield conn
        conn.rollback()


def test_fresh_database_is_clean(owner) -> None:
    assert run_checks(owner, ROLES) == []


@pytest.mark.parametrize("expected", sorted(VIOLATIONS))
def test_check_fires(owner, expected: str) -> None:
    for statement in VIOLATIONS[expected]:
        owner.execute(statement)
    findings = run_checks(owner, ROLES)
    assert expected in {f.check for f in findings}, [f.line() for f in findings]


def test_excess_privileges_are_each_reported(owner) -> None:
    for statement in VIOLATIONS["excess_privilege"]:
        owner.execute(statement)
    messages = {f.message for f in run_checks(owner, ROLES) if f.check == "excess_privilege"}
    for privilege in ("TRUNCATE", "REFERENCES", "TRIGGER"):
        assert f"has {privilege} on tenantry.app_users" in messages
    assert "has CREATE on tenantry" in messages


def test_missing_roles_are_reported(owner) -> None:
    findings = run_checks(owner, Roles("absent"))
    assert {f.object for f in findings if f.check == "role_missing"} == {
        "absent_runtime",
        "absent_platform",
    }


def test_every_check_has_a_violation_test() -> None:
    source = "".join(
        inspect.getsource(importlib.import_module(f"{audit.__name__}.{module.name}"))
        for module in pkgutil.iter_modules(audit.__path__)
    )
    emitted = set(re.findall(r'Finding\(\s*"([a-z_]+)"', source))
    assert emitted - {"role_missing"} == set(VIOLATIONS)
