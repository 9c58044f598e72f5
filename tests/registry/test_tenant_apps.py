"""A tenant's apps: disabling answers `app_disabled` and keeps every row, enabling brings them
back; pinning a version or following the latest; configs checked against the effective
version's settings schema; every change a revision and an audit-log entry."""

from __future__ import annotations

import pytest

from tenantry.kit.errors import AppDisabled, NotFound
from tests.registry.manifests import manifest, new_slug
from tests.support.accounts import login, make_tenant, signed_in
from tests.support.http import context_of


async def _put(client, operator, tenant, app, what, body):
    return await client.put(
        f"/v1/platform/tenants/{tenant.slug}/apps/{app}/{what}", headers=operator.auth, json=body
    )


async def test_disable_keeps_the_data_and_enable_brings_it_back(
    control_client, control_app, operator, db
) -> None:
    tenant = await make_tenant(db, "thinktank", "launchboard")
    user = await signed_in(control_client, "thinktank", tenant, "keep@example.com")
    before = await context_of(control_client, user)
    disabled = await _put(
        control_client,
        operator,
        tenant,
        "thinktank",
        "status",
        {"status": "disabled", "reason": "unpaid"},
    )
    assert disabled.status_code == 200, disabled.text
    assert disabled.json()["status"] == "disabled"
    refused = await control_client.get("/v1/apps/thinktank/context", headers=user.auth)
    assert refused.status_code == 403
    assert refused.json()["code"] == "app_disabled"
    assert "data is kept" in refused.json()["detail"]
    # An app the tenant never had stays a plain 404; the disabled one is app_disabled.
    services = control_app.state.services
    with pytest.raises(NotFound):
        await services.tenants.require_serving(tenant.id, services.apps.by_slug("alwaysme").id)
    with pytest.raises(AppDisabled):
        await services.tenants.require_serving(tenant.id, services.apps.by_slug("thinktank").id)
    other = await signed_in(control_client, "launchboard", tenant, "other@example.com")
    assert "thinktank" not in (await context_of(control_client, other))["apps"]
    enabled = await _put(
        control_client,
        operator,
        tenant,
        "thinktank",
        "status",
        {"status": "enabled", "reason": "paid"},
    )
    assert enabled.json()["status"] == "enabled"
    after = await context_of(control_client, user)
    assert after["user"] == before["user"]
    assert "thinktank" in after["apps"]
    history = await control_client.get(
        f"/v1/platform/tenants/{tenant.slug}/apps/thinktank/history", headers=operator.auth
    )
    assert [(c["revision"], c["status"], c["reason"]) for c in history.json()] == [
        (2, "enabled", "paid"),
        (1, "disabled", "unpaid"),
    ]
    assert all(c["changed_by"].startswith("platform-admin:") for c in history.json())
    async with db.platform_transaction() as tx:
        actions = await tx.fetch_all(
            "SELECT action FROM tenantry.audit_log WHERE tenant_id = %s AND object_type = 'app'"
            " ORDER BY seq",
            [tenant.id],
        )
    assert [a["action"] for a in actions] == ["app.disable", "app.enable"]


async def test_pin_follow_latest_and_config(control_client, operator, db, control_app) -> None:
    slug = new_slug()
    for version in ("1.0.0", "2.0.0"):
        published = await control_client.post(
            f"/v1/platform/apps/{slug}/versions",
            headers=operator.auth,
            json=manifest(slug, version),
        )
        assert published.status_code == 201, published.text
    tenant = await make_tenant(db, "thinktank")
    enabled = await _put(
        control_client, operator, tenant, slug, "status", {"status": "enabled", "reason": "new"}
    )
    assert enabled.json()["effective_version"] == "2.0.0"
    missing = await _put(
        control_client, operator, tenant, slug, "pin", {"version": "9.9.9", "reason": "x"}
    )
    assert missing.status_code == 404
    pinned = await _put(
        control_client, operator, tenant, slug, "pin", {"version": "1.0.0", "reason": "stay"}
    )
    assert (pinned.json()["pinned_version"], pinned.json()["effective_version"]) == (
        "1.0.0",
        "1.0.0",
    )
    bad = await _put(
        control_client,
        operator,
        tenant,
        slug,
        "config",
        {"config": {"limits": {"rows": 0}}, "reason": "x"},
    )
    assert bad.status_code == 422
    assert bad.json()["code"] == "invalid_app_config"
    assert "$.limits.rows" in bad.json()["detail"]
    good = await _put(
        control_client,
        operator,
        tenant,
        slug,
        "config",
        {"config": {"currency": "EUR", "limits": {"rows": 10}}, "reason": "setup"},
    )
    assert good.json()["config"] == {"currency": "EUR", "limits": {"rows": 10}}
    following = await _put(
        control_client, operator, tenant, slug, "pin", {"version": None, "reason": "up"}
    )
    assert following.json()["effective_version"] == "2.0.0"
    assert following.json()["revision"] == 4
    registry = control_app.state.services.registry
    apps = control_app.state.services.apps
    await apps.reload()
    app_id = apps.by_slug(slug).id
    assert await registry.upstream_for(tenant.id, app_id, "/reports") is None
    for version, upstream in (
        ("1.0.0", "http://127.0.0.1:9001"),
        ("2.0.0", "http://127.0.0.1:9002"),
    ):
        for prefix in ("/reports", "/reports/exports"):
            route = await control_client.put(
                f"/v1/platform/apps/{slug}/routes",
                headers=operator.auth,
                json={
                    "version": version,
                    "prefix": prefix,
                    "upstream": f"{upstream}{prefix}",
                    "timeout_ms": 500,
                },
            )
            assert route.status_code == 200, route.text
    undeclared = await control_client.put(
        f"/v1/platform/apps/{slug}/routes",
        headers=operator.auth,
        json={"version": "1.0.0", "prefix": "/secret", "upstream": "http://127.0.0.1:1"},
    )
    assert undeclared.json()["code"] == "invalid_route"
    found = await registry.upstream_for(tenant.id, app_id, "/reports/exports/42")
    assert (found.version, found.prefix, found.upstream) == (
        "2.0.0",
        "/reports/exports",
        "http://127.0.0.1:9002/reports/exports",
    )
    assert (await registry.upstream_for(tenant.id, app_id, "reports/x")).prefix == "/reports"
    assert await registry.upstream_for(tenant.id, app_id, "/reportsx") is None
    await _put(
        control_client, operator, tenant, slug, "pin", {"version": "1.0.0", "reason": "back"}
    )
    assert (await registry.upstream_for(tenant.id, app_id, "/reports")).version == "1.0.0"
    deleted = await control_client.delete(
        f"/v1/platform/apps/{slug}/routes",
        headers=operator.auth,
        params={"version": "1.0.0", "prefix": "/reports/exports"},
    )
    assert deleted.status_code == 204
    assert (
        await registry.upstream_for(tenant.id, app_id, "/reports/exports/1")
    ).prefix == "/reports"
    await _put(
        control_client, operator, tenant, slug, "status", {"status": "disabled", "reason": "off"}
    )
    assert await registry.upstream_for(tenant.id, app_id, "/reports") is None


async def test_tenant_admins_read_their_apps(client, admin) -> None:
    response = await client.get("/v1/apps/admin/apps", headers=admin.auth)
    assert response.status_code == 200, response.text
    apps = {a["app"]: a for a in response.json()}
    assert set(apps) == {"thinktank", "launchboard", "admin"}
    assert apps["thinktank"]["effective_version"] == "1.0.0"
    assert apps["thinktank"]["status"] == "enabled"
    context = await context_of(client, admin)
    assert context["app_version"] == "1.0.0"
    assert context["app_config"] == {}


async def test_a_disabled_app_says_so_to_every_credential(control_client, operator, db) -> None:
    """Signing in, an API token and an access token all hear `app_disabled`, not a 401 that
    would send a client to ask for a password again."""
    tenant = await make_tenant(db, "thinktank")
    user = await signed_in(control_client, "thinktank", tenant, "creds@example.com")
    created = await control_client.post(
        "/v1/apps/thinktank/api-tokens",
        headers=user.auth,
        json={"name": "ci", "scopes": ["profile"]},
    )
    assert created.status_code == 201, created.text
    api_token = created.json()["token"]
    disabled = await _put(
        control_client,
        operator,
        tenant,
        "thinktank",
        "status",
        {"status": "disabled", "reason": "x"},
    )
    assert disabled.status_code == 200, disabled.text
    answers = [
        await login(control_client, user),
        await control_client.get(
            "/v1/apps/thinktank/context", headers={"Authorization": f"Bearer {api_token}"}
        ),
        await control_client.get("/v1/apps/thinktank/context", headers=user.auth),
    ]
    assert [(a.status_code, a.json()["code"]) for a in answers] == [(403, "app_disabled")] * 3
    # A wrong password is refused the same way: the answer says nothing about the password.
    user.password = "not-the-password-at-all"
    assert (await login(control_client, user)).json()["code"] == "app_disabled"
