"""Feature flags: versioned overrides and rollback over HTTP, deterministic percentage rollouts,
and deprecated flags reporting who still reads them."""

from __future__ import annotations

import asyncio

from tenantry.flags.evaluation import bucket, effective
from tenantry.kit.ids import uuid7
from tests.support.accounts import make_tenant, signed_in
from tests.support.http import context_of
from tests.support.wiring import FIXTURES


async def test_flag_versions_and_rollback_over_http(control_client, operator, db) -> None:
    tenant = await make_tenant(db, "thinktank")
    key = f"http.flag-{uuid7().hex[-6:]}"
    created = await control_client.post(
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
    wrong = await control_client.put(
        f"/v1/platform/tenants/{tenant.slug}/flags/{key}",
        headers=operator.auth,
        json={"value": "yes", "reason": "x"},
    )
    assert wrong.status_code == 422
    for value, reason in ((True, "beta customer"), (False, "bug found")):
        response = await control_client.put(
            f"/v1/platform/tenants/{tenant.slug}/flags/{key}",
            headers=operator.auth,
            json={"value": value, "reason": reason},
        )
        assert response.status_code == 200, response.text
    versions = (
        await control_client.get(
            f"/v1/platform/tenants/{tenant.slug}/flags/{key}/versions", headers=operator.auth
        )
    ).json()
    assert [(v["version"], v["value"], v["reason"]) for v in versions] == [
        (2, False, "bug found"),
        (1, True, "beta customer"),
    ]
    assert all(v["actor"].startswith("platform-admin:") for v in versions)
    rolled = await control_client.post(
        f"/v1/platform/tenants/{tenant.slug}/flags/{key}/rollback",
        headers=operator.auth,
        json={"version": 1, "reason": "fixed"},
    )
    assert rolled.json() == {"version": 3}
    latest = (
        await control_client.get(
            f"/v1/platform/tenants/{tenant.slug}/flags/{key}/versions", headers=operator.auth
        )
    ).json()[0]
    assert latest["value"] is True
    assert latest["reason"] == "rollback to v1: fixed"
    missing = await control_client.post(
        f"/v1/platform/tenants/{tenant.slug}/flags/{key}/rollback",
        headers=operator.auth,
        json={"version": 99, "reason": "x"},
    )
    assert missing.status_code == 404


async def test_percentage_rollout_is_deterministic_and_monotonic(control_app, db) -> None:
    tenants = [uuid7() for _ in range(400)]
    overrides = lambda p: [{"app_id": None, "value": True, "rollout_percent": p}]  # noqa: E731
    at_30 = {t for t in tenants if effective("k", False, overrides(30), t, None)}
    at_60 = {t for t in tenants if effective("k", False, overrides(60), t, None)}
    assert at_30 <= at_60  # raising the percentage only adds tenants
    assert 0.2 < len(at_30) / len(tenants) < 0.4
    assert all(bucket("k", t) == bucket("k", t) for t in tenants)


async def test_deprecated_flags_report_their_users(
    control_client, control_app, operator, db
) -> None:
    tenant = await make_tenant(db, "thinktank")
    user = await signed_in(control_client, "thinktank", tenant, "legacy@example.com")
    key = f"old.flag-{uuid7().hex[-6:]}"
    flags = control_app.state.services.flags
    await flags.define(key, "boolean", True, by=FIXTURES, reason="t")
    await flags.update(key, by=FIXTURES, reason="retiring", status="deprecated")
    await context_of(control_client, user)
    for _ in range(100):
        report = (
            await control_client.get("/v1/platform/deprecations", headers=operator.auth)
        ).json()
        if any(r["name"] == key for r in report):
            break
        await asyncio.sleep(0.02)
    usage = [r for r in report if r["name"] == key]
    assert [(u["tenant"], u["app_slug"], u["uses"]) for u in usage] == [
        (tenant.slug, "thinktank", 1)
    ]
