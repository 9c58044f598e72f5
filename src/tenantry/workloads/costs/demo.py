"""Demo costs: 30 days of AI usage in the demo tenants' apps, so the AI cost page has
something to draw. Recorded through the same path as the API (rollups, budget alerts); every
event has an idempotency key derived from where and when it happened, so running it again adds
nothing but the hours that have passed since."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from tenantry.library import TenantContext
from tenantry.library.tenants import find_tenant
from tenantry.workloads.costs import service
from tenantry.workloads.costs.models import NewCostEvent

if TYPE_CHECKING:
    from tenantry.library import Database

DAYS = 30
# Tenant -> dollars a day, roughly: acme stays within its business budget, globex (free plan,
# 50 dollars a month) goes past it, so its budget alerts show too.
DAILY_USD = {"acme": Decimal(24), "globex": Decimal("2.2")}
# service -> (models, share of the day's cost, tokens or units per dollar)
USAGE = {
    "llm": (("small-chat", "large-chat"), Decimal("0.7"), 90_000),
    "embedding": (("text-embed",), Decimal("0.1"), 5_000_000),
    "speech": (("transcribe",), Decimal("0.2"), 4_000),
}
APPS = ("thinktank", "launchboard", "alwaysme", "mechanicalmaker")
MAX_BATCH = 1000
SATURDAY = 5


async def seed_demo(db: Database) -> dict[str, int]:
    """Record the demo tenants' last 30 days of AI costs (idempotent)."""
    now = datetime.now(UTC)
    added = 0
    for slug, daily in DAILY_USD.items():
        tenant = await find_tenant(db, slug)
        if tenant is None:
            continue
        apps = [app for app in APPS if app in tenant.apps]
        for app in apps:
            events = _usage(slug, app, daily / len(apps), now)
            context = TenantContext(tenant.id, tenant.apps[app])
            for start in range(0, len(events), MAX_BATCH):
                async with db.tenant_transaction(context) as tx:
                    recorded = await service.record(
                        db, tx, tenant.id, tenant.apps[app], events[start : start + MAX_BATCH]
                    )
                added += sum(not r.replayed for r in recorded)
    return {"cost events": added}


def _usage(slug: str, app: str, daily: Decimal, now: datetime) -> list[NewCostEvent]:
    """An event an hour from 8:00 to 19:00 UTC per app and day, the same ones every time."""
    events = []
    today = now.replace(minute=0, second=0, microsecond=0)
    for back in range(DAYS):
        day = (today - timedelta(days=back)).replace(hour=0)
        rng = random.Random(f"{slug}/{app}/{day.date()}")  # noqa: S311 - demo data, not secrets
        # Weekends (Saturday is 5) are quieter; days drift up and down.
        weekend = day.weekday() >= SATURDAY
        scale = daily * Decimal(rng.uniform(0.6, 1.4)) * (Decimal("0.4") if weekend else 1)
        for hour in range(8, 20):
            at = day + timedelta(hours=hour, minutes=rng.randrange(60))
            if at > now:
                continue
            service_name = rng.choice(("llm", "llm", "llm", "embedding", "speech"))
            models, share, per_dollar = USAGE[service_name]
            cost = (scale * share / 6 * Decimal(rng.uniform(0.5, 1.5))).quantize(
                Decimal("0.000001")
            )
            amount = int(cost * per_dollar)
            speech = service_name == "speech"
            events.append(
                NewCostEvent(
                    service=service_name,
                    cost_usd=cost,
                    occurred_at=at,
                    model=rng.choice(models),
                    input_tokens=0 if speech else amount,
                    output_tokens=amount // 5 if service_name == "llm" else 0,
                    units=Decimal(amount) if speech else Decimal(0),
                    unit="seconds" if speech else None,
                    idempotency_key=f"demo:{at.isoformat()}",
                    metadata={"demo": True},
                )
            )
    return events
