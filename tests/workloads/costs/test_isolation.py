"""The costs tables attacked as the runtime role: a tenant's context reads and writes its own
rows only, an app's context its own app's, a tenant administrator's cross-app context reads
every app's summaries of its tenant and nothing else; the API holds each caller to the same.
A purge leaves no cost rows behind."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from uuid import UUID

import psycopg
import pytest
from psycopg import errors
from psycopg.rows import dict_row

from tenantry.kit.context import TenantContext
from tenantry.kit.ids import uuid7
from tenantry.library.tenants import find_tenant
from tenantry.tenants.lifecycle import ProvisionRequest
from tests.support.accounts import Tenant, User, make_tenant, signed_in, tenant_admin
from tests.support.http import client_for
from tests.support.wiring import FIXTURES
from tests.support.workload_costs import record

TABLES = (
    "ai.cost_events",
    "ai.cost_daily_summaries",
    "ai.cost_monthly_totals",
    "ai.budget_thresholds",
    "ai.budget_alerts",
)


@dataclass(frozen=True)
class Side:
    tenant: Tenant
    thinktank: UUID
    launchboard: UUID
    writer: User  # thinktank
    neighbour: User  # launchboard
    admin: User


@pytest.fixture(scope="module")
async def sides(app, db) -> tuple[Side, Side]:
    async with client_for(app) as client:
        return await _sides(client, db)


async def _sides(client, db) -> tuple[Side, Side]:
    made = []
    for name in ("a", "b"):
        tenant = await make_tenant(db, "thinktank", "launchboard", "admin")
        apps = (await find_tenant(db, tenant.slug)).apps
        writer = await signed_in(client, "thinktank", tenant, f"writer-{name}@example.com")
        neighbour = await signed_in(client, "launchboard", tenant, f"next-{name}@example.com")
        admin = await tenant_admin(client, db, tenant, f"admin-{name}@example.com")
        made.append(Side(tenant, apps["thinktank"], apps["launchboard"], writer, neighbour, admin))
    a, b = made
    # Every table gets rows on both sides: 45 of the free plan's 50 dollars raises an alert.
    for side, amount in ((a, "45"), (b, "46")):
        await record(client, side.writer, cost_usd=amount, app_user_id=side.writer.id)
        await record(client, side.neighbour, cost_usd="1", service="embedding")
        thresholds = await client.put(
            "/v1/apps/admin/costs/budget/thresholds",
            headers=side.admin.auth,
            json={"percents": [80, 100]},
        )
        assert thresholds.status_code == 200, thresholds.text
    return a, b


@pytest.fixture
def runtime(urls):
    with psycopg.connect(urls.runtime, row_factory=dict_row) as conn:
        yield conn


def enter(conn, signer, context: TenantContext) -> None:
    conn.execute("SELECT set_config('tenantry.context', %s, true)", [signer.sign_tenant(context)])


def seen(conn, table: str) -> list[tuple[UUID, UUID | None]]:
    """(tenant, app) of every row of `table` the connection's context reads."""
    app = "app_id" if table != "ai.cost_monthly_totals" and "budget" not in table else "NULL"
    rows = conn.execute(f"SELECT tenant_id, {app} AS app_id FROM {table}").fetchall()
    return sorted({(r["tenant_id"], r["app_id"]) for r in rows}, key=str)


def test_no_context_sees_nothing(runtime, sides) -> None:
    for table in TABLES:
        assert seen(runtime, table) == [], table


def test_an_apps_context_sees_its_own_rows(runtime, signer, sides) -> None:
    a, _ = sides
    enter(runtime, signer, TenantContext(a.tenant.id, a.thinktank, UUID(a.writer.id)))
    own = [(a.tenant.id, a.thinktank)]
    assert seen(runtime, "ai.cost_events") == own
    # Without a cross-app context, the summaries of the tenant's other apps stay hidden.
    assert seen(runtime, "ai.cost_daily_summaries") == own
    for table in ("ai.cost_monthly_totals", "ai.budget_thresholds", "ai.budget_alerts"):
        assert seen(runtime, table) == [(a.tenant.id, None)], table


def test_a_cross_app_context_reads_every_apps_summaries_of_its_tenant(
    runtime, signer, sides
) -> None:
    a, _ = sides
    enter(runtime, signer, TenantContext(a.tenant.id, cross_app=True))
    assert seen(runtime, "ai.cost_daily_summaries") == sorted(
        [(a.tenant.id, a.thinktank), (a.tenant.id, a.launchboard)], key=str
    )
    # Raw events are not shared across apps, even with a tenant administrator.
    assert seen(runtime, "ai.cost_events") == []
    assert seen(runtime, "ai.budget_alerts") == [(a.tenant.id, None)]
    # Reading across apps never means writing across them.
    with pytest.raises(errors.InsufficientPrivilege):
        runtime.execute(
            "INSERT INTO ai.cost_daily_summaries "
            "(tenant_id, app_id, day, service, events, input_tokens, output_tokens, units, "
            "cost_usd) VALUES (%s, %s, current_date, 'forged', 1, 0, 0, 0, 1)",
            [a.tenant.id, a.launchboard],
        )


def test_a_context_cannot_write_into_another_tenant_or_app(runtime, signer, sides) -> None:
    a, b = sides
    context = TenantContext(a.tenant.id, a.thinktank)
    insert = (
        "INSERT INTO ai.cost_events (tenant_id, app_id, id, occurred_at, service, cost_usd) "
        "VALUES (%s, %s, %s, now(), 'llm', 1000)"
    )
    for tenant_id, app_id in ((b.tenant.id, b.thinktank), (a.tenant.id, a.launchboard)):
        enter(runtime, signer, context)
        with pytest.raises(errors.InsufficientPrivilege):
            runtime.execute(insert, [tenant_id, app_id, uuid7()])
        runtime.rollback()
    enter(runtime, signer, context)
    with pytest.raises(errors.InsufficientPrivilege):
        runtime.execute(
            "INSERT INTO ai.budget_alerts "
            "(tenant_id, id, period, threshold_percent, spent_usd, budget_usd) "
            "VALUES (%s, %s, date_trunc('month', now())::date, 1, 1, 1)",
            [b.tenant.id, uuid7()],
        )
    runtime.rollback()
    enter(runtime, signer, context)
    # Rollups are the trigger's: rows of other scopes are invisible to UPDATE and DELETE.
    assert (
        runtime.execute(
            "UPDATE ai.cost_daily_summaries SET cost_usd = 0 WHERE tenant_id = %s", [b.tenant.id]
        ).rowcount
        == 0
    )
    assert (
        runtime.execute(
            "DELETE FROM ai.cost_monthly_totals WHERE tenant_id = %s", [b.tenant.id]
        ).rowcount
        == 0
    )
    assert (
        runtime.execute(
            "DELETE FROM ai.budget_thresholds WHERE tenant_id = %s", [b.tenant.id]
        ).rowcount
        == 0
    )
    runtime.rollback()


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE ai.cost_events SET cost_usd = 0",
        "DELETE FROM ai.cost_events",
        "UPDATE ai.budget_alerts SET spent_usd = 0",
        "DELETE FROM ai.budget_alerts",
        "TRUNCATE ai.cost_daily_summaries",
    ],
)
def test_the_ledger_and_the_alerts_are_append_only(runtime, signer, sides, statement) -> None:
    a, _ = sides
    enter(runtime, signer, TenantContext(a.tenant.id, a.thinktank))
    with pytest.raises(errors.InsufficientPrivilege):
        runtime.execute(statement)


async def test_the_api_holds_each_caller_to_its_scope(client, sides) -> None:
    a, b = sides
    a_summary = await client.get(
        "/v1/apps/admin/costs/tenant-summary", headers=a.admin.auth, params={"group": "app"}
    )
    assert a_summary.status_code == 200, a_summary.text
    assert {(r["app"], Decimal(r["cost_usd"])) for r in a_summary.json()["rows"]} == {
        ("thinktank", Decimal(45)),
        ("launchboard", Decimal(1)),
    }
    b_summary = await client.get("/v1/apps/admin/costs/tenant-summary", headers=b.admin.auth)
    assert Decimal(b_summary.json()["total"]["cost_usd"]) == Decimal(47)
    own = await client.get("/v1/apps/launchboard/costs/summary", headers=a.neighbour.auth)
    assert [(r["service"], r["events"]) for r in own.json()["rows"]] == [("embedding", 1)]
    listed = await client.get("/v1/apps/launchboard/costs/events", headers=a.neighbour.auth)
    assert len(listed.json()["items"]) == 1
    # An app user is no tenant administrator, and a session of one app is refused by another.
    refused = await client.get("/v1/apps/thinktank/costs/tenant-summary", headers=a.writer.auth)
    assert refused.status_code == 404, refused.text
    elsewhere = await client.get("/v1/apps/launchboard/costs/summary", headers=a.writer.auth)
    assert elsewhere.status_code == 403
    assert elsewhere.json()["code"] == "app_mismatch"


async def test_a_purge_leaves_no_cost_rows(control_client, control_app, operator, db) -> None:
    service = control_app.state.services.tenant_admin
    slug = f"costs-{uuid7().hex[-8:]}"
    done = await service.provision(
        ProvisionRequest(
            slug=slug, name=slug, plan="free", apps=["thinktank"], admin_email=f"boss@{slug}.test"
        ),
        by=FIXTURES,
    )
    tenant = Tenant(done.tenant.id, slug)
    user = await signed_in(control_client, "thinktank", tenant, "spender@example.com")
    await record(control_client, user, cost_usd="60", app_user_id=user.id)
    admin = await tenant_admin(control_client, db, tenant, f"root@{slug}.test")
    thresholds = await control_client.put(
        "/v1/apps/admin/costs/budget/thresholds", headers=admin.auth, json={"percents": [90]}
    )
    assert thresholds.status_code == 200, thresholds.text
    for action in ("suspend", "deprovision"):
        await service.transition(slug, action, reason="closing", by=FIXTURES)
    purged = await control_client.post(
        f"/v1/platform/tenants/{slug}/purge",
        headers=operator.auth,
        json={"reason": "customer left", "force": True},
    )
    assert purged.status_code == 200, purged.text
    report = purged.json()
    assert {table: report["deleted"][table] for table in TABLES} == {
        "ai.cost_events": 1,
        "ai.cost_daily_summaries": 1,
        "ai.cost_monthly_totals": 1,
        "ai.budget_thresholds": 1,
        "ai.budget_alerts": 3,  # 80 and 100 with the event, 90 when it was chosen
    }
    assert all(report["remaining"][table] == 0 for table in TABLES)
