"""The tenant context in one call: correct, one round trip, and never stale after a write for
longer than the invalidation delay, with PostgreSQL NOTIFY and with Redis pub/sub, across two
independent app instances (two processes' worth of caches)."""

from __future__ import annotations

import asyncio
import time

import pytest

from tenantry.kit.ids import uuid7
from tenantry.web import create_app
from tests.support.accounts import latest_mail, login, make_tenant, signed_in, signup
from tests.support.http import client_for, context_of
from tests.support.wiring import FIXTURES, PLATFORM, api_settings


async def test_context_is_the_sum_of_its_parts(control_client, control_app, operator, db) -> None:
    tenant = await make_tenant(db, "thinktank", "launchboard")
    user = await signed_in(control_client, "thinktank", tenant, "ctx@example.com")
    services = control_app.state.services
    await services.settings_admin.set(
        tenant.slug, "timezone", "Asia/Tokyo", by=FIXTURES, reason="t"
    )
    key = f"ctx.flag-{uuid7().hex[-6:]}"
    await services.flags.define(key, "boolean", False, by=FIXTURES, reason="t")
    await services.flags.set_override(tenant.slug, key, True, by=FIXTURES, reason="t")
    other = f"ctx.other-{uuid7().hex[-6:]}"
    await services.flags.define(other, "string", "blue", by=FIXTURES, reason="t")
    await services.flags.set_override(
        tenant.slug, other, "green", app_slug="launchboard", by=FIXTURES, reason="t"
    )

    body = await context_of(control_client, user)
    me = (await control_client.get("/v1/apps/thinktank/me", headers=user.auth)).json()
    assert body["user"]["id"] == me["id"]
    assert body["user"]["email"] == "ctx@example.com"
    assert body["tenant"]["slug"] == tenant.slug
    assert body["app"] == "thinktank"
    assert body["apps"] == ["launchboard", "thinktank"]
    assert body["settings"] == await services.settings_admin.effective(tenant.slug)
    assert body["settings"]["timezone"] == "Asia/Tokyo"
    assert body["flags"][key] is True
    assert body["flags"][other] == "blue"  # the launchboard override does not apply here
    launch = await signed_in(control_client, "launchboard", tenant, "ctx@example.com")
    assert (await context_of(control_client, launch))["flags"][other] == "green"


async def test_cold_load_is_one_round_trip_and_warm_is_cached(
    control_client, control_app, db
) -> None:
    tenant = await make_tenant(db, "thinktank")
    user = await signed_in(control_client, "thinktank", tenant, "rt@example.com")
    service = control_app.state.services.context
    pool = control_app.state.services.db.runtime_pool
    # The licence snapshot is read once per tenant and app (not per request): read it first.
    app_id = control_app.state.services.apps.by_slug("thinktank").id
    await control_app.state.services.entitlements.snapshot(tenant.id, app_id)
    before_misses, before_hits = service.misses, service.hits
    stats = pool.get_stats()
    await context_of(control_client, user)
    await context_of(control_client, user)
    assert (service.misses, service.hits) == (before_misses + 1, before_hits + 1)
    # One statement per request (the cold one carries the whole context, the warm one only the
    # session re-check): the pool served exactly two requests for them.
    served = pool.get_stats().get("requests_num", 0) - stats.get("requests_num", 0)
    assert served == 2


@pytest.mark.parametrize("backend", ["postgres", "redis"])
async def test_every_kind_of_write_invalidates_every_instance(
    urls, db, dns_stub, operator, backend
) -> None:
    redis_url = "redis://127.0.0.1:6379/0" if backend == "redis" else ""
    apps = []
    for _ in range(2):
        app = create_app(
            api_settings(urls, platform_tenant=PLATFORM, redis_url=redis_url), database=db
        )
        apps.append(app)
    async with apps[0].router.lifespan_context(apps[0]), apps[1].router.lifespan_context(apps[1]):
        writer, reader = apps[0].state.services, apps[1]
        tenant = await make_tenant(db, "thinktank")
        async with client_for(reader) as client:
            user = await signed_in(client, "thinktank", tenant, "stale@example.com")
            key = f"inv.flag-{uuid7().hex[-6:]}"
            await writer.flags.define(key, "number", 1, by=FIXTURES, reason="t")
            assert (await context_of(client, user))["flags"][key] == 1

            async def seen_within(check, limit: float = 2.0) -> float:
                started = time.perf_counter()
                while time.perf_counter() - started < limit:
                    if check(await context_of(client, user)):
                        return time.perf_counter() - started
                    await asyncio.sleep(0.005)
                raise AssertionError("stale context after the invalidation limit")

            delays = []
            await writer.settings_admin.set(
                tenant.slug, "locale", "fr-FR", by=FIXTURES, reason="setting"
            )
            delays.append(await seen_within(lambda b: b["settings"]["locale"] == "fr-FR"))
            await writer.flags.set_override(tenant.slug, key, 2, by=FIXTURES, reason="override")
            delays.append(await seen_within(lambda b: b["flags"][key] == 2))
            await writer.flags.update(key, by=FIXTURES, reason="default", default_value=5)
            await writer.flags.remove_override(tenant.slug, key, by=FIXTURES, reason="remove")
            delays.append(await seen_within(lambda b: b["flags"][key] == 5))
            await writer.flags.rollback(tenant.slug, key, 1, by=FIXTURES, reason="rollback")
            delays.append(await seen_within(lambda b: b["flags"][key] == 2))
            await writer.tenant_admin.transition(
                tenant.slug, "suspend", reason="status", by=FIXTURES
            )
            started = time.perf_counter()
            while (
                await client.get("/v1/apps/thinktank/context", headers=user.auth)
            ).status_code != 403:
                assert time.perf_counter() - started < 2.0, "suspended tenant still served"
                await asyncio.sleep(0.005)
            delays.append(time.perf_counter() - started)
    assert max(delays) < 1.0, delays


async def test_verifying_the_email_refreshes_the_cached_context(control_client, db) -> None:
    tenant = await make_tenant(db, "thinktank")
    user = await signup(control_client, "thinktank", tenant, "fresh@example.com")
    await login(control_client, user)
    assert (await context_of(control_client, user))["user"]["email_verified"] is False
    code = await latest_mail(db, user.email)
    assert (
        await control_client.post("/v1/apps/thinktank/auth/verify-email", json={"token": code})
    ).status_code == 204
    assert (await context_of(control_client, user))["user"]["email_verified"] is True
