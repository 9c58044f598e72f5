"""Rate limits through the API: each tenant's plan sets its buckets, an API token has a bucket
of its own inside its tenant's, a refusal is a 429 problem with Retry-After and RateLimit
fields, and a statement cut by its plan's timeout is a 503 problem, never a 500."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest
from sqlalchemy import text

from tenantry.kit.context import TenantContext
from tenantry.kit.errors import StatementTimeout
from tenantry.library.orm import ContextSessions
from tests.limits.conftest import closed_port, serving, tenant_on
from tests.support.accounts import User, signed_in
from tests.support.http import client_for

# Buckets refill slowly enough that a test never sees a token come back.
SLOW = {"requests_per_second": 0.01, "token_requests_per_second": 0.01}
ME = "/v1/apps/thinktank/me"


async def api_token(client, user: User) -> dict[str, str]:
    created = await client.post(
        "/v1/apps/thinktank/api-tokens",
        headers=user.auth,
        json={"name": "limits", "scopes": ["profile"]},
    )
    assert created.status_code == 201, created.text
    return {"Authorization": f"Bearer {created.json()['token']}"}


async def test_a_tenant_over_its_plans_burst_gets_429_with_retry_after(urls, db, own_db) -> None:
    quotas = {"free": {**SLOW, "burst": 3}, "business": {**SLOW, "burst": 6}}
    async with serving(urls, own_db, rate_limits=True, plan_quotas=quotas) as app:
        free, business = await tenant_on(db, "free"), await tenant_on(db, "business")
        async with client_for(app) as client:
            user = await signed_in(client, "thinktank", free, "rl-free@example.com")
            answers = [await client.get(ME, headers=user.auth) for _ in range(4)]
            assert [a.status_code for a in answers] == [200, 200, 200, 429]
            assert [a.headers["RateLimit-Remaining"] for a in answers] == ["2", "1", "0", "0"]
            assert answers[0].headers["RateLimit-Limit"] == "3"
            refused = answers[-1]
            assert refused.headers["content-type"] == "application/problem+json"
            assert refused.json()["code"] == "rate_limited"
            assert int(refused.headers["Retry-After"]) >= 99  # a token at 0.01 a second
            # Another tenant, on another plan, has its own bucket.
            other = await signed_in(client, "thinktank", business, "rl-biz@example.com")
            served = [(await client.get(ME, headers=other.auth)).status_code for _ in range(7)]
            assert served == [200] * 6 + [429]
        label = app.state.services.metrics.tenants.label(free.id)
        refusals = app.state.services.metrics.registry.get_sample_value(
            "tenantry_rate_limited_total", {"tenant": label, "plan": "free", "limit": "tenant"}
        )
        assert refusals == 1


async def test_an_api_token_has_its_own_limit_within_its_tenants(urls, db, own_db) -> None:
    quotas = {"free": {**SLOW, "burst": 8, "token_burst": 2}}
    async with serving(urls, own_db, rate_limits=True, plan_quotas=quotas) as app:
        tenant = await tenant_on(db, "free")
        async with client_for(app) as client:
            user = await signed_in(client, "thinktank", tenant, "rl-token@example.com")
            first, second = await api_token(client, user), await api_token(client, user)  # 2
            by_token = [(await client.get(ME, headers=first)).status_code for _ in range(3)]
            assert by_token == [200, 200, 429]  # the token's 2, the tenant's 4th
            refused = await client.get(ME, headers=first)
            assert "token" in refused.json()["detail"]
            # The session and the other token still have the tenant's budget...
            assert (await client.get(ME, headers=user.auth)).status_code == 200  # 5
            assert (await client.get(ME, headers=second)).status_code == 200  # 6
            assert (await client.get(ME, headers=user.auth)).status_code == 200  # 7
            assert (await client.get(ME, headers=second)).status_code == 200  # 8
            # ...until the tenant's own limit binds, whatever the token has left.
            tenant_refusal = await client.get(ME, headers=user.auth)
            assert tenant_refusal.status_code == 429
            assert "tenant" in tenant_refusal.json()["detail"]


async def test_limits_are_off_unless_turned_on(urls, db, own_db) -> None:
    async with serving(urls, own_db, plan_quotas={"free": {**SLOW, "burst": 1}}) as app:
        tenant = await tenant_on(db, "free")
        async with client_for(app) as client:
            user = await signed_in(client, "thinktank", tenant, "rl-off@example.com")
            answers = [await client.get(ME, headers=user.auth) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert "RateLimit-Limit" not in answers[0].headers


async def test_two_app_instances_share_their_buckets_through_redis(
    urls, db, own_db, redis_url
) -> None:
    settings = {
        "rate_limits": True,
        "plan_quotas": {"free": {**SLOW, "burst": 4}},
        "rate_limit_redis_url": redis_url,
    }
    async with serving(urls, own_db, **settings) as one, serving(urls, own_db, **settings) as two:
        tenant = await tenant_on(db, "free")
        async with client_for(one) as first, client_for(two) as second:
            user = await signed_in(first, "thinktank", tenant, "rl-redis@example.com")
            statuses = [
                (await client.get(ME, headers=user.auth)).status_code
                for client in (first, second) * 4
            ]
    # In-process buckets would have let each instance serve 4.
    assert statuses == [200] * 4 + [429] * 4


async def test_requests_are_limited_in_process_when_redis_is_down(urls, db, own_db, caplog) -> None:
    settings = {
        "rate_limits": True,
        "plan_quotas": {"free": {**SLOW, "burst": 2}},
        "rate_limit_redis_url": f"redis://127.0.0.1:{closed_port()}/0",
    }
    caplog.set_level(logging.WARNING, logger="tenantry.limits")
    async with serving(urls, own_db, **settings) as app:
        tenant = await tenant_on(db, "free")
        async with client_for(app) as client:
            user = await signed_in(client, "thinktank", tenant, "rl-down@example.com")
            statuses = [(await client.get(ME, headers=user.auth)).status_code for _ in range(3)]
        local = app.state.services.metrics.registry.get_sample_value(
            "tenantry_rate_limit_local_decisions_total"
        )
    assert statuses == [200, 200, 429]
    assert local == 3
    warnings = [r for r in caplog.records if "Redis unreachable" in r.getMessage()]
    assert len(warnings) == 1  # once per outage, not once per request


async def test_a_statement_past_its_plans_timeout_is_a_503_problem(urls, db, own_db) -> None:
    quotas = {
        "free": {"statement_timeout_seconds": 0.2},
        "business": {"statement_timeout_seconds": 5},
    }
    async with serving(urls, own_db, plan_quotas=quotas) as app:
        free, business = await tenant_on(db, "free"), await tenant_on(db, "business")
        async with client_for(app) as client:
            cut = await signed_in(client, "thinktank", free, "st-free@example.com")
            spared = await signed_in(client, "thinktank", business, "st-biz@example.com")
            path = "/v1/apps/thinktank/limits-test/sleep?seconds=0.6"
            cancelled = await client.get(path, headers=cut.auth)
            assert cancelled.status_code == 503, cancelled.text
            assert cancelled.headers["content-type"] == "application/problem+json"
            assert cancelled.json()["code"] == "statement_timeout"
            assert (await client.get(path, headers=spared.auth)).json() == {"slept": 0.6}
            # The free tenant's quick requests go on as before.
            assert (await client.get(path.replace("0.6", "0"), headers=cut.auth)).status_code == 200


async def test_an_orm_session_has_its_plans_statement_timeout(urls, db, own_db) -> None:
    """`library.orm` sessions run on a pool of their own, under the same plan's timeout."""
    quotas = {"free": {"statement_timeout_seconds": 0.2}}
    async with serving(urls, own_db, plan_quotas=quotas) as app:
        thinktank = app.state.services.apps.by_slug("thinktank").id
        free, business = await tenant_on(db, "free"), await tenant_on(db, "business")
        for tenant in (free, business):  # as a request's authentication does
            await app.state.services.tenants.get(tenant.id)
        sessions = ContextSessions(own_db, pool_size=1)
        try:
            with pytest.raises(StatementTimeout):
                async with sessions.session(TenantContext(free.id, thinktank)) as session:
                    await session.execute(text("SELECT pg_sleep(0.6)"))
            async with sessions.session(TenantContext(business.id, thinktank)) as session:
                await session.execute(text("SELECT pg_sleep(0.6)"))
        finally:
            await sessions.dispose()


async def test_a_refused_credential_is_refused_again_without_any_work(urls, db, own_db) -> None:
    """Until its bucket can hold a token again, a refused credential is answered before
    routing or verification: even with the database gone, it gets its 429 (any other request
    would need the database), and once the token is back it is served again."""
    quotas = {"free": {"requests_per_second": 10, "burst": 1}}
    async with serving(urls, own_db, rate_limits=True, plan_quotas=quotas) as app:
        tenant = await tenant_on(db, "free")
        async with client_for(app) as client:
            user = await signed_in(client, "thinktank", tenant, "rl-gate@example.com")
            other = await signed_in(client, "thinktank", await tenant_on(db, "free"), "o@ex.com")
            assert (await client.get(ME, headers=user.auth)).status_code == 200
            assert (await client.get(ME, headers=user.auth)).status_code == 429
            await asyncio.sleep(1.05)  # the refusal stands for its Retry-After (1 s)
            assert (await client.get(ME, headers=user.auth)).status_code == 200
            assert (await client.get(ME, headers=user.auth)).status_code == 429
            await own_db.runtime_pool.close()
            await own_db.platform_pool.close()
            again = await client.get(ME, headers=user.auth)
            assert again.status_code == 429
            assert again.json()["code"] == "rate_limited"
            assert again.headers["Retry-After"] == "1"
            assert again.headers["RateLimit-Remaining"] == "0"
            needs_the_database = await client.get(ME, headers=other.auth)
            assert needs_the_database.status_code == 503


async def test_a_client_resending_before_retry_after_is_held_until_then(urls, db, own_db) -> None:
    """The first refusal is answered at once; a request with the same credential before its
    Retry-After is held until then, so a client ignoring 429 can resend only at its
    connections' pace, and is served again after it."""
    quotas = {"free": {"requests_per_second": 2, "burst": 1}}
    async with serving(urls, own_db, rate_limits=True, plan_quotas=quotas) as app:
        tenant = await tenant_on(db, "free")
        async with client_for(app) as client:
            user = await signed_in(client, "thinktank", tenant, "rl-hold@example.com")
            assert (await client.get(ME, headers=user.auth)).status_code == 200
            began = time.perf_counter()
            assert (await client.get(ME, headers=user.auth)).status_code == 429
            first = time.perf_counter() - began
            again = await client.get(ME, headers=user.auth)
            held = time.perf_counter() - began - first
            assert again.status_code == 429
            assert again.headers["Retry-After"] == "1"
            # A token is back after 0.5 s, but the answer said 1 s: held until then.
            assert first < 0.3
            assert 0.8 < held < 1.5
            assert (await client.get(ME, headers=user.auth)).status_code == 200


async def test_a_tenant_past_its_pool_share_waits_then_gets_429_while_another_is_served(
    urls, db, own_db
) -> None:
    """A pool of 4 and a share of 0.5: the tenant's third slow request waits for one of its two
    connections, longer than it may, and is refused; another tenant goes straight on."""
    settings = {"tenant_pool_share": 0.5, "tenant_pool_wait_seconds": 0.3}
    async with serving(urls, own_db, **settings) as app:
        noisy, quiet = await tenant_on(db, "business"), await tenant_on(db, "business")
        async with client_for(app) as client:
            busy = await signed_in(client, "thinktank", noisy, "share-noisy@example.com")
            other = await signed_in(client, "thinktank", quiet, "share-quiet@example.com")
            slow = "/v1/apps/thinktank/limits-test/sleep?seconds=1"
            requests = [asyncio.create_task(client.get(slow, headers=busy.auth)) for _ in range(3)]
            await asyncio.sleep(0.1)
            started = asyncio.get_running_loop().time()
            served = await client.get(ME, headers=other.auth)
            assert served.status_code == 200
            assert asyncio.get_running_loop().time() - started < 0.8  # not behind a 1 s sleep
            answers = await asyncio.gather(*requests)
    assert sorted(a.status_code for a in answers) == [200, 200, 429]
    refused = next(a for a in answers if a.status_code == 429)
    assert refused.json()["code"] == "concurrency_limited"
    assert refused.headers["Retry-After"] == "1"
