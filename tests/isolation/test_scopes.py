"""Scopes and policy shapes, attacked as the runtime role.

Tenant-or-app tables (an optional app_id): an app sees its own rows and the tenant-wide ones,
never another app's; cross-app reads are opt-in per table and never reach credentials; writes
go only to the context's own tenant and app. And the shapes themselves: one permissive policy per
role and command, one verification per statement.
"""

from __future__ import annotations

import re

import psycopg
import pytest
from psycopg import errors
from psycopg.types.json import Jsonb

from tenantry.kit.context import TenantContext
from tenantry.kit.ids import uuid7
from tests.isolation.world import World, apply

CREDENTIALS = (
    "refresh_tokens",
    "one_time_tokens",
    "mfa_recovery_codes",
    "api_tokens",
    "mail_outbox",
    "external_issuers",
    "user_identity_links",
)


@pytest.fixture
def events(urls, world: World) -> dict[str, object]:
    """One security event per app of tenant A, one tenant-wide, one in tenant B."""
    ids = {}
    with psycopg.connect(urls.admin) as conn:  # written past row-level security, as fixtures
        for name, tenant, app in (
            ("a1", world.tenant_a, world.app_1),
            ("a2", world.tenant_a, world.app_2),
            ("a", world.tenant_a, None),
            ("b1", world.tenant_b, world.app_1),
        ):
            ids[name] = uuid7()
            conn.execute(
                """INSERT INTO tenantry.security_events
                       (tenant_id, id, app_id, kind, severity, detail)
                   VALUES (%s, %s, %s, 'probe', 'info', %s)""",
                [tenant, ids[name], app, Jsonb({"secret": name})],
            )
    return ids


def visible(runtime, signer, context: TenantContext, table: str = "security_events") -> set:
    apply(runtime, signer.sign_tenant(context))
    rows = runtime.execute(f"SELECT id FROM tenantry.{table}").fetchall()
    runtime.rollback()
    return {r["id"] for r in rows}


def test_an_app_sees_its_rows_and_the_tenant_wide_ones_only(
    runtime, signer, world: World, events
) -> None:
    mine = visible(runtime, signer, world.context(world.tenant_a, world.app_2))
    assert events["a2"] in mine
    assert events["a"] in mine
    assert events["a1"] not in mine  # thinktank's event, with its detail, stays thinktank's
    assert events["b1"] not in mine
    tenant_level = visible(runtime, signer, TenantContext(world.tenant_a))
    assert events["a"] in tenant_level
    assert not {events["a1"], events["a2"], events["b1"]} & tenant_level


def test_a_cross_app_reader_sees_every_app_of_its_tenant_only(
    runtime, signer, world: World, events
) -> None:
    seen = visible(runtime, signer, TenantContext(world.tenant_a, cross_app=True))
    assert {events["a1"], events["a2"], events["a"]} <= seen
    assert events["b1"] not in seen


def test_writes_stay_in_the_contexts_own_scope(runtime, signer, world: World) -> None:
    insert = """INSERT INTO tenantry.security_events (tenant_id, id, app_id, kind, severity)
                VALUES (%s, %s, %s, 'forged', 'info')"""
    for app in (world.app_1, None):  # another app's row, or a tenant-wide one
        apply(runtime, signer.sign_tenant(world.context(world.tenant_a, world.app_2)))
        with pytest.raises(errors.InsufficientPrivilege):
            runtime.execute(insert, [world.tenant_a, uuid7(), app])
        runtime.rollback()
    # A cross-app reader reads every app and writes none of them.
    apply(runtime, signer.sign_tenant(TenantContext(world.tenant_a, world.app_2, cross_app=True)))
    with pytest.raises(errors.InsufficientPrivilege):
        runtime.execute(insert, [world.tenant_a, uuid7(), world.app_1])
    runtime.rollback()
    apply(runtime, signer.sign_tenant(world.context(world.tenant_a, world.app_2)))
    runtime.execute(insert, [world.tenant_a, uuid7(), world.app_2])
    runtime.rollback()


@pytest.mark.parametrize("table", CREDENTIALS)
def test_cross_app_reads_never_reach_credentials(
    runtime, signer, world: World, urls, table: str
) -> None:
    with psycopg.connect(urls.runtime) as conn:
        declared = conn.execute(
            "SELECT cross_app_read FROM tenantry.scoped_tables WHERE table_name = %s", [table]
        ).fetchone()
    assert declared == (False,)
    apply(runtime, signer.sign_tenant(world.context(world.tenant_a, world.app_1, cross_app=True)))
    apps = {r["app_id"] for r in runtime.execute(f"SELECT app_id FROM tenantry.{table}")}
    runtime.rollback()
    assert apps <= {world.app_1}, table


def test_cross_app_reads_are_declared_per_table(runtime) -> None:
    rows = runtime.execute(
        "SELECT table_name FROM tenantry.scoped_tables WHERE cross_app_read ORDER BY 1"
    ).fetchall()
    runtime.rollback()
    # Licences carry no secret (the signature is public): tenant administrators read them all.
    assert [r["table_name"] for r in rows] == [
        "app_user_preferences",
        "app_users",
        # AI cost summaries (the workloads module): administrators compare their apps' costs.
        "cost_daily_summaries",
        "entitlements",
        "licence_activations",
        "licences",
    ]


def test_one_permissive_policy_per_role_and_command(runtime) -> None:
    rows = runtime.execute(
        """
        SELECT c.relname, r.rolname, cmd, count(*) AS n
          FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid
          CROSS JOIN unnest(p.polroles) AS role(oid)
          JOIN pg_roles r ON r.oid = role.oid
          CROSS JOIN unnest(CASE p.polcmd WHEN '*' THEN ARRAY['r', 'a', 'w', 'd']
                                          ELSE ARRAY[p.polcmd::text] END) AS cmd
         WHERE p.polpermissive
         GROUP BY 1, 2, 3 HAVING count(*) > 1
        """
    ).fetchall()
    runtime.rollback()
    assert rows == []


def test_a_statement_verifies_the_context_once(runtime, signer, world: World) -> None:
    """Read as the runtime role: one init plan, and both keys in the index condition."""
    apply(runtime, signer.sign_tenant(world.context(world.tenant_a, world.app_1)))
    # The table is small here, and its size depends on what other tests left in it: the shape
    # of the index condition is what is under test, so the plan's kind is pinned.
    runtime.execute("SET LOCAL enable_seqscan = off")
    runtime.execute("SET LOCAL enable_bitmapscan = off")
    plan = "\n".join(
        r["QUERY PLAN"]
        for r in runtime.execute(
            "EXPLAIN (ANALYZE, COSTS OFF) SELECT id FROM tenantry.sessions WHERE app_user_id = %s",
            [uuid7()],
        )
    )
    runtime.rollback()
    # Each verification probes the key table once; one init plan carries both claims.
    assert plan.count(" on context_keys ") == 1, plan
    assert len(re.findall(r"^\s*InitPlan", plan, re.MULTILINE)) == 1, plan
    # PostgreSQL 18 names init plan outputs `(InitPlan N).colM`, earlier versions `$N`.
    output = r"\(InitPlan \d+\)\.col\d|\$\d+"
    scan = re.search(r"Scan using \S+ on sessions.*\n\s*Index Cond: (.*)$", plan, re.MULTILINE)
    assert scan, plan
    for key in ("tenant_id", "app_id"):
        assert re.search(rf"\({key} = ({output})\)", scan.group(1)), plan
