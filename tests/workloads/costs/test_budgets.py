"""Budgets: the month's spending against the tenant's `ai_monthly_budget_usd`, an alert for
each threshold crossed (80 % and 100 % unless the tenant chose others) raised exactly once per
month, even when many recorders cross it at the same moment, told to the tenant's
administrators by mail and as an event in the transaction that crossed it."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from tenantry.kit.context import TenantContext
from tenantry.kit.db import Database
from tenantry.library.tenants import find_tenant
from tenantry.workloads.costs import service
from tenantry.workloads.costs.models import NewCostEvent
from tests.support.accounts import make_tenant, signed_in, tenant_admin
from tests.support.wiring import FIXTURES, services_for
from tests.support.workload_costs import record

EVENT = "ai.budget.threshold_crossed"


@pytest.fixture
async def user(client, tenant):
    return await signed_in(client, "thinktank", tenant, "integration@example.com")


async def raised(db, tenant) -> dict[str, object]:
    """The alerts, mails and events the tenant's budget raised, read on the platform path."""
    async with db.platform_transaction() as tx:
        alerts = await tx.fetch_all(
            "SELECT period, threshold_percent, spent_usd, budget_usd FROM ai.budget_alerts "
            "WHERE tenant_id = %s ORDER BY period, threshold_percent",
            [tenant.id],
        )
        mails = await tx.fetch_all(
            "SELECT to_address, subject, body FROM tenantry.mail_outbox "
            "WHERE tenant_id = %s AND subject LIKE '%%AI spending%%' ORDER BY id",
            [tenant.id],
        )
        events = await tx.fetch_all(
            "SELECT e.payload, a.slug AS app FROM tenantry.events e "
            "JOIN tenantry.apps a ON a.id = e.app_id "
            "WHERE e.tenant_id = %s AND e.type = %s ORDER BY e.created_at, e.id",
            [tenant.id, EVENT],
        )
    return {"alerts": alerts, "mails": mails, "events": events}


async def status(client, admin, **params):
    response = await client.get("/v1/apps/admin/costs/budget", headers=admin.auth, params=params)
    assert response.status_code == 200, response.text
    return response.json()


async def test_each_threshold_raises_one_alert_a_mail_and_an_event(
    client, db, tenant, admin, user
) -> None:
    # The free plan's budget: 50 dollars a month.
    await record(client, user, cost_usd="30")
    assert (await raised(db, tenant))["alerts"] == []
    await record(client, user, cost_usd="12")  # 84 %
    await record(client, user, cost_usd="1")
    await record(client, user, cost_usd="10")  # 106 %
    await record(client, user, cost_usd="10")
    found = await raised(db, tenant)
    assert [(a["threshold_percent"], a["spent_usd"]) for a in found["alerts"]] == [
        (80, Decimal(42)),
        (100, Decimal(53)),
    ]
    assert [m["to_address"] for m in found["mails"]] == [admin.email, admin.email]
    assert "80 %" in found["mails"][0]["subject"]
    assert "$42.00 of $50.00" in found["mails"][0]["body"]
    assert found["mails"][1]["subject"].startswith("[critical]")
    month = datetime.now(UTC).strftime("%Y-%m")
    assert [(e["app"], e["payload"]["threshold_percent"]) for e in found["events"]] == [
        ("admin", 80),
        ("admin", 100),
    ]
    assert found["events"][0]["payload"]["period"] == month
    assert found["events"][0]["payload"]["spent_usd"] == "42.000000000"
    shown = await status(client, admin)
    assert shown["period"] == month
    assert (Decimal(shown["budget_usd"]), Decimal(shown["spent_usd"])) == (50, 63)
    assert Decimal(shown["percent"]) == Decimal("126.00")
    assert [(t["percent"], t["reached"], bool(t["alert"])) for t in shown["thresholds"]] == [
        (80, True, True),
        (100, True, True),
    ]


async def test_concurrent_recorders_raise_each_alert_exactly_once(urls, db, tenant, admin) -> None:
    """Sixteen transactions, all open, release their events at once: together they cross 80 %
    and 100 % of the budget; exactly one alert, mail and event per threshold comes out."""
    app_id = (await find_tenant(db, tenant.slug)).apps["thinktank"]
    context = TenantContext(tenant.id, app_id)
    writers = 16
    ready, go = asyncio.Barrier(writers + 1), asyncio.Event()
    async with Database(urls.runtime, urls.platform, min_size=writers, max_size=writers) as wide:

        async def recorder(i: int) -> None:
            async with wide.tenant_transaction(context) as tx:
                await tx.execute("SELECT 1")  # the transaction has begun
                await ready.wait()
                await go.wait()
                event = NewCostEvent("llm", Decimal(4), idempotency_key=f"burst-{i}")
                await service.record(wide, tx, tenant.id, app_id, [event])

        tasks = [asyncio.create_task(recorder(i)) for i in range(writers)]
        await ready.wait()
        go.set()
        await asyncio.gather(*tasks)
    found = await raised(db, tenant)
    assert [a["threshold_percent"] for a in found["alerts"]] == [80, 100]
    # Each alert names the total at the moment its threshold was crossed.
    assert [a["spent_usd"] for a in found["alerts"]] == [Decimal(40), Decimal(52)]
    assert len(found["mails"]) == 2
    # Events carry their transaction's start time: these began together, in any order.
    assert sorted(e["payload"]["threshold_percent"] for e in found["events"]) == [80, 100]
    async with db.tenant_transaction(TenantContext(tenant.id, cross_app=True)) as tx:
        budget = await service.budget_status(tx, tenant.id, service.this_month())
    assert (budget.spent_usd, budget.events) == (Decimal(64), writers)


async def test_a_rolled_back_crossing_leaves_nothing(db, tenant, admin) -> None:
    app_id = (await find_tenant(db, tenant.slug)).apps["thinktank"]
    context = TenantContext(tenant.id, app_id)

    class Abandoned(Exception):
        pass

    with pytest.raises(Abandoned):
        async with db.tenant_transaction(context) as tx:
            await service.record(db, tx, tenant.id, app_id, [NewCostEvent("llm", Decimal(45))])
            inside = await service.budget_status(tx, tenant.id, service.this_month())
            assert [a.threshold_percent for a in inside.alerts] == [80]  # raised, uncommitted
            raise Abandoned
    assert await raised(db, tenant) == {"alerts": [], "mails": [], "events": []}
    async with db.tenant_transaction(context) as tx:
        await service.record(db, tx, tenant.id, app_id, [NewCostEvent("llm", Decimal(45))])
    found = await raised(db, tenant)
    assert [a["threshold_percent"] for a in found["alerts"]] == [80]
    assert (len(found["mails"]), len(found["events"])) == (1, 1)


async def test_no_budget_raises_nothing(client, db, tenant, admin, user) -> None:
    await services_for(db).settings_admin.set(
        tenant.slug, "ai_monthly_budget_usd", None, by=FIXTURES, reason="unlimited"
    )
    await record(client, user, cost_usd="5000")
    assert (await raised(db, tenant))["alerts"] == []
    shown = await status(client, admin)
    assert (shown["budget_usd"], shown["percent"]) == (None, None)
    assert Decimal(shown["spent_usd"]) == 5000
    assert [t["reached"] for t in shown["thresholds"]] == [False, False]


async def test_own_thresholds_and_one_already_reached(client, db, tenant, admin, user) -> None:
    await record(client, user, cost_usd="30")  # 60 % of 50
    response = await client.put(
        "/v1/apps/admin/costs/budget/thresholds", headers=admin.auth, json={"percents": [50, 90]}
    )
    assert response.status_code == 200, response.text
    shown = response.json()
    assert [(t["percent"], t["reached"]) for t in shown["thresholds"]] == [(50, True), (90, False)]
    assert shown["thresholds"][0]["alert"]["threshold_percent"] == 50
    await record(client, user, cost_usd="10")  # 80 %: no threshold of this tenant's
    assert [a["threshold_percent"] for a in (await raised(db, tenant))["alerts"]] == [50]
    await record(client, user, cost_usd="6")  # 92 %
    assert [a["threshold_percent"] for a in (await raised(db, tenant))["alerts"]] == [50, 90]


@pytest.mark.parametrize(
    "body",
    [{"percents": []}, {"percents": [0]}, {"percents": [1001]}, {"percents": list(range(1, 12))}],
)
async def test_bad_thresholds_are_refused(client, admin, body) -> None:
    response = await client.put(
        "/v1/apps/admin/costs/budget/thresholds", headers=admin.auth, json=body
    )
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "validation_failed"


async def test_last_months_late_events_count_in_last_month(client, db, tenant, admin, user) -> None:
    now = datetime.now(UTC)
    last_month = (now.replace(day=1) - timedelta(days=1)).replace(hour=12)
    await record(client, user, cost_usd="45", occurred_at=last_month.isoformat())
    found = await raised(db, tenant)
    assert [(a["period"], a["threshold_percent"]) for a in found["alerts"]] == [
        (last_month.date().replace(day=1), 80)
    ]
    this_month = await status(client, admin)
    assert Decimal(this_month["spent_usd"]) == 0
    earlier = await status(client, admin, period=last_month.strftime("%Y-%m"))
    assert Decimal(earlier["spent_usd"]) == 45


async def test_a_tenant_without_the_admin_app_still_records(client, db) -> None:
    lone = await make_tenant(db, "thinktank")
    user = await signed_in(client, "thinktank", lone, "solo@example.com")
    await record(client, user, cost_usd="60")
    found = await raised(db, lone)
    assert [a["threshold_percent"] for a in found["alerts"]] == [80, 100]
    assert (found["mails"], found["events"]) == ([], [])


async def test_administrators_of_another_tenant_see_their_own_budget(
    client, db, tenant, user
) -> None:
    other = await make_tenant(db, "thinktank", "admin")
    stranger = await tenant_admin(client, db, other, "boss@other.example")
    await record(client, user, cost_usd="45")
    shown = await status(client, stranger)
    assert (Decimal(shown["spent_usd"]), shown["events"]) == (0, 0)
    assert [t["alert"] for t in shown["thresholds"]] == [None, None]
    assert await raised(db, other) == {"alerts": [], "mails": [], "events": []}


async def test_an_app_user_cannot_read_the_budget(client, user) -> None:
    response = await client.get("/v1/apps/thinktank/costs/budget", headers=user.auth)
    assert response.status_code == 404, response.text
