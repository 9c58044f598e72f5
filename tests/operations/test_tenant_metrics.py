"""Per-tenant series on `/metrics`: a tenant's requests, latency and database time under its id
(never its slug), requests before any tenant is known under `none`."""

from __future__ import annotations

import re

from tenantry.web import create_app
from tests.support.accounts import signed_in
from tests.support.http import client_for, context_of
from tests.support.wiring import METRICS_TOKEN, api_settings


def sample(text: str, name: str, **labels: str) -> float:
    for line in text.splitlines():
        if not line.startswith(name + "{"):
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', line.split("}")[0]))
        if all(found.get(k) == v for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


async def test_a_tenants_requests_and_database_time_are_counted_under_its_id(
    urls, db, tenant
) -> None:
    # An app of its own: the session's app has seen more tenants than it labels.
    app = create_app(api_settings(urls), database=db)
    auth = {"Authorization": f"Bearer {METRICS_TOKEN}"}
    async with app.router.lifespan_context(app), client_for(app) as client:
        before = (await client.get("/metrics", headers=auth)).text
        user = await signed_in(client, "thinktank", tenant, "metrics.user@example.com")
        for _ in range(3):
            await context_of(client, user)
        assert (await client.get("/v1/apps/thinktank/context")).status_code == 401
        after = (await client.get("/metrics", headers=auth)).text

    tenant_id = str(tenant.id)
    requests = sample(after, "tenantry_tenant_requests_total", tenant=tenant_id, status_class="2xx")
    # Sign-up (202), login and three context reads.
    assert requests == 5
    assert sample(after, "tenantry_tenant_db_seconds_total", tenant=tenant_id) > 0
    assert sample(after, "tenantry_tenant_db_statements_total", tenant=tenant_id) >= 5
    assert sample(after, "tenantry_tenant_request_duration_seconds_count", tenant=tenant_id) == 5
    unauthenticated = ("tenantry_tenant_requests_total", {"tenant": "none", "status_class": "4xx"})
    assert sample(after, unauthenticated[0], **unauthenticated[1]) == (
        sample(before, unauthenticated[0], **unauthenticated[1]) + 1
    )
    assert tenant.slug not in after
    assert "metrics.user" not in after
