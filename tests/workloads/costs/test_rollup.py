"""The rollup: daily summaries and monthly totals are added to by each INSERT's new events and
never recomputed, yet always equal what the events add up to, whoever inserts concurrently."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from tenantry.kit.context import TenantContext
from tenantry.kit.db import Database
from tenantry.library.tenants import find_tenant
from tenantry.workloads.costs import service
from tenantry.workloads.costs.models import NewCostEvent
from tests.support.wiring import FIXTURES, services_for

SERVICES = ("llm", "embedding", "speech")


def _events(rng: random.Random, n: int) -> list[NewCostEvent]:
    now = datetime.now(UTC)
    return [
        NewCostEvent(
            service=rng.choice(SERVICES),
            cost_usd=Decimal(rng.randint(1, 10**9)) / Decimal(10**9),
            occurred_at=now - timedelta(hours=rng.randint(0, 24 * 60)),
            input_tokens=rng.randint(0, 5000),
            output_tokens=rng.randint(0, 500),
            units=Decimal(rng.randint(0, 10**4)) / 100,
            idempotency_key=f"k-{rng.randint(0, 300)}" if rng.random() < 0.3 else None,
        )
        for _ in range(n)
    ]


@pytest.mark.parametrize("seed", [7, 11, 23])
async def test_summaries_equal_the_events_after_concurrent_batches(urls, db, tenant, seed) -> None:
    # No alerts in the way: this is about the arithmetic.
    await services_for(db).settings_admin.set(
        tenant.slug, "ai_monthly_budget_usd", None, by=FIXTURES, reason="rollup test"
    )
    apps = (await find_tenant(db, tenant.slug)).apps
    rng = random.Random(seed)
    async with Database(urls.runtime, urls.platform, min_size=8, max_size=8) as wide:

        async def writer(app: str, batches: list[list[NewCostEvent]]) -> None:
            for batch in batches:
                context = TenantContext(tenant.id, apps[app])
                async with wide.tenant_transaction(context) as tx:
                    await service.record(wide, tx, tenant.id, apps[app], batch)

        work = [
            (app, [_events(rng, rng.randint(1, 40)) for _ in range(6)])
            for app in ("thinktank", "launchboard")
            for _ in range(4)
        ]
        await asyncio.gather(*(writer(app, batches) for app, batches in work))
    async with db.platform_transaction() as tx:
        differences = await tx.fetch_all(
            """WITH computed AS (
                   SELECT app_id, (occurred_at AT TIME ZONE 'UTC')::date AS day, service,
                          count(*) AS events, sum(input_tokens) AS input_tokens,
                          sum(output_tokens) AS output_tokens, sum(units) AS units,
                          sum(cost_usd) AS cost_usd
                     FROM ai.cost_events WHERE tenant_id = %(t)s GROUP BY 1, 2, 3
               ), stored AS (
                   SELECT app_id, day, service, events, input_tokens, output_tokens, units,
                          cost_usd
                     FROM ai.cost_daily_summaries WHERE tenant_id = %(t)s
               )
               (SELECT * FROM computed EXCEPT SELECT * FROM stored)
               UNION ALL
               (SELECT * FROM stored EXCEPT SELECT * FROM computed)""",
            {"t": tenant.id},
        )
        months = await tx.fetch_all(
            """SELECT m.period, m.events, m.cost_usd,
                      (SELECT count(*) FROM ai.cost_events e WHERE e.tenant_id = m.tenant_id
                          AND date_trunc('month', e.occurred_at AT TIME ZONE 'UTC')::date
                              = m.period) AS counted,
                      (SELECT sum(e.cost_usd) FROM ai.cost_events e
                        WHERE e.tenant_id = m.tenant_id
                          AND date_trunc('month', e.occurred_at AT TIME ZONE 'UTC')::date
                              = m.period) AS added
                 FROM ai.cost_monthly_totals m WHERE m.tenant_id = %s""",
            [tenant.id],
        )
        recorded = await tx.fetch_one(
            "SELECT count(*) AS n FROM ai.cost_events WHERE tenant_id = %s", [tenant.id]
        )
    assert differences == []
    assert months
    assert all((m["events"], m["cost_usd"]) == (m["counted"], m["added"]) for m in months)
    # Keys repeat within and across writers of an app: some events were counted once only.
    sent = sum(len(batch) for _, batches in work for batch in batches)
    assert 0 < recorded["n"] < sent
