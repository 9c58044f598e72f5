"""The tenant context in one call: correct, one round trip, and never stale after a write for
longer than the invalidation delay, with PostgreSQL NOTIFY and with Redis pub/sub, across two
independent app instances (two processes' worth of caches)."""

from __future__ import annotations

import asyncio
import time
from typing import Annotated

import pytest
from fastapi import APIRouter

from tenantry.http.auth import Requires
from tenantry.http.deprecation import deprecated_endpoint
from tenantry.identity.principal import Principal, Scope
from tenantry.kit.ids import uuid7
from tenantry.web import create_app
from tests.api.conftest import api_settings, client_for, make_tenant, signed_in
from tests.conftest import FIXTURES
from tests.control.conftest import PLATFORM


async def context_of(client, user) -> dict:
    response = await client.get(f"/v1/apps/{user.app}/context", headers=user.auth)
    assert response.status_code == 200, response.text
    return response.json()


async def test_context_is_the_sum_of_its_parts(client, control_app, operator, db) -> None:
    tenant = await make_tenant(db, "thinktank", "launchboard")
    user = await signed_in(client, "thinktank", tenant, "ctx@example.com")
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

    body = await context_of(client, user)
    me = (await client.get("/v1/apps/thinktank/me", headers=user.auth)).json()
    assert body["user"]["id"] == me["id"]
    assert body["user"]["email"] == "ctx@example.com"
    assert body["tenant"]["slug"] == tenant.slug
    assert body["app"] == "thinktank"
    assert body["apps"] == ["launchboard", "thinktank"]
    assert body["settings"] == await services.settings_admin.effective(tenant.slug)
    assert body["settings"]["timezone"] == "Asia/Tokyo"
    assert body["flags"][key] is True
    assert body["flags"][other] == "blue"  # the launchboard override does not apply here
    launch = await signed_in(client, "launchboard", tenant, "ctx@example.com")
    assert (await context_of(client, launch))["flags"][other] == "green"


async def test_cold_load_is_one_round_trip_and_warm_is_cached(client, control_app, db) -> None:
    tenant = await make_tenant(db, "thinktank")
    user = await signed_in(client, "thinktank", tenant, "rt@example.com")
    service = control_app.state.services.context
    pool = control_app.state.services.db.runtime_pool
    before_misses, before_hits = service.misses, service.hits
    stats = pool.get_stats()
    await context_of(client, user)
    await context_of(client, user)
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


async def test_flag_versions_and_rollback_over_http(client, operator, db) -> None:
    tenant = await make_tenant(db, "thinktank")
    key = f"http.flag-{uuid7().hex[-6:]}"
    created = await client.post(
        "/v1/platform/flags",
        headers=operator.auth,
        json={
            "key": key,
            "type": "boolean",
            "default": False,
            "reason": "launch",
            "owner": "growth",
        },
    )
    assert created.status_code == 201, created.text
    wrong = await client.put(
        f"/v1/platform/tenants/{tenant.slug}/flags/{key}",
        headers=operator.auth,
        json={"value": "yes", "reason": "x"},
    )
    assert wrong.status_code == 422
    for value, reason in ((True, "beta customer"), (False, "bug found")):
        response = await client.put(
            f"/v1/platform/tenants/{tenant.slug}/flags/{key}",
            headers=operator.auth,
            json={"value": value, "reason": reason},
        )
        assert response.status_code == 200, response.text
    versions = (
        await client.get(
            f"/v1/platform/tenants/{tenant.slug}/flags/{key}/versions", headers=operator.auth
        )
    ).json()
    assert [(v["version"], v["value"], v["reason"]) for v in versions] == [
        (2, False, "bug found"),
        (1, True, "beta customer"),
    ]
    assert all(v["actor"].startswith("platform-admin:") for v in versions)
    rolled = await client.post(
        f"/v1/platform/tenants/{tenant.slug}/flags/{key}/rollback",
        headers=operator.auth,
        json={"version": 1, "reason": "fixed"},
    )
    assert rolled.json() == {"version": 3}
    latest = (
        await client.get(
            f"/v1/platform/tenants/{tenant.slug}/flags/{key}/versions", headers=operator.auth
        )
    ).json()[0]
    assert latest["value"] is True
    assert latest["reason"] == "rollback to v1: fixed"
    missing = await client.post(
        f"/v1/platform/tenants/{tenant.slug}/flags/{key}/rollback",
        headers=operator.auth,
        json={"version": 99, "reason": "x"},
    )
    assert missing.status_code == 404


async def test_percentage_rollout_is_deterministic_and_monotonic(control_app, db) -> None:
    from tenantry.flags.evaluation import bucket, effective

    tenants = [uuid7() for _ in range(400)]
    overrides = lambda p: [{"app_id": None, "value": True, "rollout_percent": p}]  # noqa: E731
    at_30 = {t for t in tenants if effective("k", False, overrides(30), t, None)}
    at_60 = {t for t in tenants if effective("k", False, overrides(60), t, None)}
    assert at_30 <= at_60  # raising the percentage only adds tenants
    assert 0.2 < len(at_30) / len(tenants) < 0.4
    assert all(bucket("k", t) == bucket("k", t) for t in tenants)


async def test_deprecated_flags_report_their_users(client, control_app, operator, db) -> None:
    tenant = await make_tenant(db, "thinktank")
    user = await signed_in(client, "thinktank", tenant, "legacy@example.com")
    key = f"old.flag-{uuid7().hex[-6:]}"
    flags = control_app.state.services.flags
    await flags.define(key, "boolean", True, by=FIXTURES, reason="t")
    await flags.update(key, by=FIXTURES, reason="retiring", status="deprecated")
    await context_of(client, user)
    for _ in range(100):
        report = (await client.get("/v1/platform/deprecations", headers=operator.auth)).json()
        if any(r["name"] == key for r in report):
            break
        await asyncio.sleep(0.02)
    usage = [r for r in report if r["name"] == key]
    assert usage
    assert usage[0]["tenant"] == tenant.slug
    assert usage[0]["app_slug"] == "thinktank"


async def test_settings_validation_and_history(client, operator, db) -> None:
    tenant = await make_tenant(db, "thinktank")
    bad = await client.put(
        f"/v1/platform/tenants/{tenant.slug}/settings/max_users",
        headers=operator.auth,
        json={"value": 0, "reason": "x"},
    )
    assert bad.status_code == 422
    assert "max_users" in bad.json()["detail"]
    unknown = await client.put(
        f"/v1/platform/tenants/{tenant.slug}/settings/no_such",
        headers=operator.auth,
        json={"value": 1, "reason": "x"},
    )
    assert unknown.status_code == 404
    for value in (10, 20):
        ok = await client.put(
            f"/v1/platform/tenants/{tenant.slug}/settings/max_users",
            headers=operator.auth,
            json={"value": value, "reason": f"to {value}"},
        )
        assert ok.status_code == 200
    history = (
        await client.get(
            f"/v1/platform/tenants/{tenant.slug}/settings-history",
            headers=operator.auth,
            params={"key": "max_users"},
        )
    ).json()
    assert [(h["old_value"], h["new_value"], h["reason"]) for h in history] == [
        (10, 20, "to 20"),
        (None, 10, "to 10"),
    ]


async def test_deprecated_endpoints_report_their_users(urls, db, operator) -> None:
    """A library user's own endpoint, marked deprecated, counts its callers per tenant.

    (FastAPI resolves the route's annotations from this module's globals, hence the imports
    at the top.)"""
    legacy = APIRouter()

    @legacy.get(
        "/v1/apps/{app}/legacy-profile",
        dependencies=[
            deprecated_endpoint("GET legacy-profile", sunset="Wed, 01 Jul 2026 00:00:00 GMT")
        ],
    )
    async def legacy_profile(
        principal: Annotated[Principal, Requires(Scope.PROFILE)],
    ) -> dict[str, str]:
        return {"user": str(principal.app_user_id)}

    app = create_app(api_settings(urls, platform_tenant=PLATFORM), database=db)
    app.include_router(legacy)
    async with app.router.lifespan_context(app), client_for(app) as client:
        tenant = await make_tenant(db, "thinktank")
        user = await signed_in(client, "thinktank", tenant, "old-client@example.com")
        response = await client.get("/v1/apps/thinktank/legacy-profile", headers=user.auth)
        assert response.status_code == 200, response.text
        assert response.headers["deprecation"] == "true"
        assert response.headers["sunset"].startswith("Wed, 01 Jul 2026")
        for _ in range(100):
            report = (await client.get("/v1/platform/deprecations", headers=operator.auth)).json()
            usage = [
                r
                for r in report
                if r["name"] == "GET legacy-profile" and r["tenant"] == tenant.slug
            ]
            if usage:
                break
            await asyncio.sleep(0.02)
        assert usage
        assert usage[0]["kind"] == "endpoint"
        assert usage[0]["uses"] >= 1


async def test_verifying_the_email_refreshes_the_cached_context(client, db) -> None:
    from tests.api.conftest import latest_mail, login, signup

    tenant = await make_tenant(db, "thinktank")
    user = await signup(client, "thinktank", tenant, "fresh@example.com")
    await login(client, user)
    assert (await context_of(client, user))["user"]["email_verified"] is False
    code = await latest_mail(db, user.email)
    assert (
        await client.post("/v1/apps/thinktank/auth/verify-email", json={"token": code})
    ).status_code == 204
    assert (await context_of(client, user))["user"]["email_verified"] is True
