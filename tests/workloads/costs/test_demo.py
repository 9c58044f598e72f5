"""The demo costs: 30 days for acme and globex, recorded once however often the seeder runs."""

from __future__ import annotations

from tenantry.demo import seed_demo as seed_platform_demo
from tenantry.library.tenants import find_tenant
from tenantry.workloads.costs.demo import seed_demo
from tests.support.wiring import services_for


async def _demo_events(db) -> int:
    async with db.platform_transaction() as tx:
        row = await tx.fetch_one(
            """SELECT count(*) AS n FROM ai.cost_events e JOIN tenantry.tenants t
                   ON t.id = e.tenant_id WHERE t.slug IN ('acme', 'globex')"""
        )
    return int(row["n"])


async def test_thirty_days_for_each_demo_tenant_once(db) -> None:
    # The worker's database may hold the demo already (`tenantry db seed-demo` in another test).
    await seed_platform_demo(services_for(db))
    before = await _demo_events(db)
    first = await seed_demo(db)
    assert await _demo_events(db) == before + first["cost events"]
    again = await seed_demo(db)
    assert await _demo_events(db) > 1000
    # Only hours that passed between the two runs could add anything.
    assert again["cost events"] <= 8
    async with db.platform_transaction() as tx:
        for slug in ("acme", "globex"):
            tenant = await find_tenant(db, slug)
            row = await tx.fetch_one(
                """SELECT count(DISTINCT day) AS days, count(DISTINCT app_id) AS apps,
                          count(DISTINCT service) AS services
                     FROM ai.cost_daily_summaries WHERE tenant_id = %s""",
                [tenant.id],
            )
            assert row["days"] >= 29, slug
            assert row["apps"] >= 2, slug
            assert row["services"] == 3, slug
