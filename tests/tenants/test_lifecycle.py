"""Provisioning, lifecycle transitions, purge, the tenant list and search, and the platform
API's access rules."""

from __future__ import annotations

import pytest

from tenantry.kit.errors import Conflict, InvalidInput
from tenantry.kit.ids import uuid7
from tenantry.tenants.lifecycle import ProvisionRequest
from tests.support.accounts import Tenant, latest_mail, make_tenant, signed_in, tenant_admin
from tests.support.wiring import FIXTURES, PLATFORM


def request(**overrides) -> ProvisionRequest:
    slug = overrides.pop("slug", f"p-{uuid7().hex[-10:]}")
    return ProvisionRequest(
        slug=slug,
        name=overrides.pop("name", "Provisioned Ltd"),
        plan=overrides.pop("plan", "business"),
        apps=overrides.pop("apps", ["thinktank", "launchboard"]),
        admin_email=overrides.pop("admin_email", f"boss@{slug}.test"),
        settings=overrides.pop("settings", {"locale": "de-DE"}),
    )


async def test_provision_over_http_is_idempotent(control_client, operator, db) -> None:
    body = request().model_dump()
    headers = {**operator.auth, "Idempotency-Key": f"key-{uuid7()}"}
    first = await control_client.post("/v1/platform/tenants", json=body, headers=headers)
    assert first.status_code == 201, first.text
    again = await control_client.post("/v1/platform/tenants", json=body, headers=headers)
    assert again.status_code == 200
    assert again.json()["created"] is False
    assert again.json()["tenant"]["id"] == first.json()["tenant"]["id"]
    changed = await control_client.post(
        "/v1/platform/tenants", json={**body, "name": "Other"}, headers=headers
    )
    assert changed.status_code == 409
    detail = (
        await control_client.get(f"/v1/platform/tenants/{body['slug']}", headers=operator.auth)
    ).json()
    assert detail["tenant"]["status"] == "active"
    assert [a["slug"] for a in detail["apps"]] == ["admin", "launchboard", "thinktank"]
    assert detail["settings"]["locale"] == "de-DE"
    assert detail["settings"]["max_users"] == 500  # business plan default
    assert [e["to_status"] for e in detail["events"]] == ["pending", "active"]
    # The first administrator is invited by mail and can set a password and sign in.
    code = await latest_mail(db, body["admin_email"])
    accepted = await control_client.post(
        "/v1/apps/admin/auth/password-reset/confirm",
        json={"token": code, "password": "first-admin-passphrase-61"},
    )
    assert accepted.status_code == 204
    login = await control_client.post(
        "/v1/apps/admin/auth/login",
        json={
            "tenant": body["slug"],
            "email": body["admin_email"],
            "password": "first-admin-passphrase-61",
        },
    )
    assert login.status_code == 200


@pytest.mark.parametrize(
    "step", ["tenant", "idempotency", "settings", "apps", "admin", "activate", "commit"]
)
async def test_a_failure_at_any_step_leaves_nothing(control_app, db, step) -> None:
    service = control_app.state.services.tenant_admin
    req = request()

    def explode(name: str) -> None:
        if name == step:
            raise RuntimeError(f"crash at {name}")

    with pytest.raises(RuntimeError, match=f"crash at {step}"):
        await service.provision(req, by=FIXTURES, idempotency_key=f"k-{uuid7()}", on_step=explode)
    async with db.platform_transaction() as tx:
        assert (
            await tx.fetch_one("SELECT 1 FROM tenantry.tenants WHERE slug = %s", [req.slug]) is None
        )
        for table in (
            "tenant_apps",
            "tenant_settings",
            "app_users",
            "mail_outbox",
            "tenant_lifecycle_events",
        ):
            row = await tx.fetch_one(
                f"SELECT count(*) AS n FROM tenantry.{table} t JOIN tenantry.tenants x ON x.id = t.tenant_id WHERE x.slug = %s",
                [req.slug],
            )
            assert row["n"] == 0, table
    # And the same request succeeds afterwards.
    assert (await service.provision(req, by=FIXTURES)).created is True


async def test_provisioning_rejects_bad_input_before_writing(control_app) -> None:
    service = control_app.state.services.tenant_admin
    with pytest.raises(InvalidInput, match="max_users"):
        await service.provision(request(settings={"max_users": -1}), by=FIXTURES)
    with pytest.raises(InvalidInput, match="unknown app"):
        await service.provision(request(apps=["no-such-app"]), by=FIXTURES)
    taken = request()
    await service.provision(taken, by=FIXTURES)
    with pytest.raises(Conflict):
        await service.provision(request(slug=taken.slug), by=FIXTURES)


async def test_every_transition_and_refusal(control_client, operator, db) -> None:
    tenant = await make_tenant(db, "thinktank")
    user = await signed_in(control_client, "thinktank", tenant, "member@example.com")

    async def act(action: str, expected: int) -> dict:
        response = await control_client.post(
            f"/v1/platform/tenants/{tenant.slug}/lifecycle",
            headers=operator.auth,
            json={"action": action, "reason": f"test {action}"},
        )
        assert response.status_code == expected, (action, response.text)
        return response.json()

    await act("activate", 409)  # already active
    await act("resume", 409)
    await act("deprovision", 409)  # must be suspended first
    assert (await act("suspend", 200))["status"] == "suspended"
    # Refused at once, in this process (no waiting for a cache to expire).
    refused = await control_client.get("/v1/apps/thinktank/me", headers=user.auth)
    assert refused.status_code == 403
    assert refused.json()["code"] == "tenant_inactive"
    await act("suspend", 409)
    assert (await act("resume", 200))["status"] == "active"
    assert (await control_client.get("/v1/apps/thinktank/me", headers=user.auth)).status_code == 200
    await act("suspend", 200)
    deprovisioned = await act("deprovision", 200)
    assert deprovisioned["status"] == "deprovisioned"
    assert deprovisioned["purge_after"] is not None
    await act("resume", 409)
    bad = await control_client.post(
        f"/v1/platform/tenants/{tenant.slug}/lifecycle",
        headers=operator.auth,
        json={"action": "explode", "reason": "x"},
    )
    assert bad.status_code == 422
    detail = (
        await control_client.get(f"/v1/platform/tenants/{tenant.slug}", headers=operator.auth)
    ).json()
    assert [(e["from_status"], e["to_status"]) for e in detail["events"]] == [
        (None, "active"),  # created by the fixture
        ("active", "suspended"),
        ("suspended", "active"),
        ("active", "suspended"),
        ("suspended", "deprovisioned"),
    ]
    assert all(
        e["actor"] == f"platform-admin:{operator.id}" and e["reason"].startswith("test ")
        for e in detail["events"][1:]
    )


async def test_purge_leaves_zero_rows_in_every_tenant_table(
    control_client, control_app, operator, db
) -> None:
    service = control_app.state.services.tenant_admin
    provisioned = await service.provision(request(), by=FIXTURES)
    slug = provisioned.tenant.slug
    tenant_id = provisioned.tenant.id
    user = await signed_in(
        control_client, "thinktank", Tenant(tenant_id, slug), "doomed@example.com"
    )
    await control_client.post(
        "/v1/apps/thinktank/api-tokens", headers=user.auth, json={"name": "x"}
    )
    await control_client.get("/v1/apps/thinktank/launchboard-probe", headers=user.auth)
    await control_client.get("/v1/apps/launchboard/me", headers=user.auth)  # a security event
    await control_app.state.services.settings_admin.set(
        slug, "timezone", "Europe/Berlin", by=FIXTURES, reason="t"
    )
    await control_app.state.services.domains.add(slug, f"{slug}.example", by=FIXTURES)

    early = await control_client.post(
        f"/v1/platform/tenants/{slug}/purge", headers=operator.auth, json={"reason": "x"}
    )
    assert early.status_code == 409  # still active
    for action in ("suspend", "deprovision"):
        await service.transition(slug, action, reason="closing", by=FIXTURES)
    grace = await control_client.post(
        f"/v1/platform/tenants/{slug}/purge", headers=operator.auth, json={"reason": "x"}
    )
    assert grace.status_code == 409
    assert "grace period" in grace.json()["detail"]

    purged = await control_client.post(
        f"/v1/platform/tenants/{slug}/purge",
        headers=operator.auth,
        json={"reason": "customer left", "force": True},
    )
    assert purged.status_code == 200, purged.text
    report = purged.json()
    assert set(report["remaining"].values()) == {0}
    assert report["deleted"]["tenantry.app_users"] == 2  # the first administrator and doomed
    # The cross-app attempt and the domain added.
    assert report["deleted"]["tenantry.security_events"] == 2
    # Independently of the report: every table with a tenant_id column, from the live catalog.
    async with db.platform_transaction() as tx:
        tables = await tx.fetch_all(
            """SELECT format('%%I.%%I', table_schema, table_name) AS name, kept_after_purge
                 FROM tenantry.scoped_tables""",
            [],
        )
        for table in tables:
            row = await tx.fetch_one(
                f"SELECT count(*) AS n FROM {table['name']} WHERE tenant_id = %s", [tenant_id]
            )
            if table["kept_after_purge"]:
                assert row["n"] > 0, table["name"]
            else:
                assert row["n"] == 0, table["name"]
        status = await tx.fetch_one(
            "SELECT status FROM tenantry.tenants WHERE id = %s", [tenant_id]
        )
    assert status["status"] == "purged"
    again = await control_client.post(
        f"/v1/platform/tenants/{slug}/purge",
        headers=operator.auth,
        json={"reason": "x", "force": True},
    )
    assert again.status_code == 409


async def test_platform_api_is_invisible_to_everyone_else(control_client, db, tenant) -> None:
    admin = await tenant_admin(control_client, db, tenant, "not-platform@example.com")
    app_user = await signed_in(control_client, "thinktank", tenant, "not-platform@example.com")
    for user in (admin, app_user):
        response = await control_client.get("/v1/platform/tenants", headers=user.auth)
        assert response.status_code == 404, response.text
    assert (await control_client.get("/v1/platform/tenants")).status_code == 401


async def test_tenant_list_search_filter_and_pagination(control_client, operator, db) -> None:
    marker = uuid7().hex[-6:]
    for n in range(3):
        await control_client.post(
            "/v1/platform/tenants",
            headers=operator.auth,
            json=request(
                slug=f"list-{marker}-{n}", plan="free" if n else "enterprise"
            ).model_dump(),
        )
    page = (
        await control_client.get(
            "/v1/platform/tenants", headers=operator.auth, params={"q": marker, "limit": 2}
        )
    ).json()
    assert page["total"] == 3
    assert len(page["items"]) == 2
    rest = (
        await control_client.get(
            "/v1/platform/tenants",
            headers=operator.auth,
            params={"q": marker, "limit": 2, "offset": 2},
        )
    ).json()
    assert [t["slug"] for t in rest["items"]] == [f"list-{marker}-2"]
    enterprise = (
        await control_client.get(
            "/v1/platform/tenants",
            headers=operator.auth,
            params={"q": marker, "plan": "enterprise"},
        )
    ).json()
    assert [t["slug"] for t in enterprise["items"]] == [f"list-{marker}-0"]


async def test_a_revoked_platform_admin_session_stops_at_once(
    control_client, control_app, db, operator
) -> None:
    async with db.platform_transaction() as tx:
        row = await tx.fetch_one("SELECT id FROM tenantry.tenants WHERE slug = %s", [PLATFORM])
    ops = await tenant_admin(
        control_client, db, Tenant(row["id"], PLATFORM), f"ops-{uuid7().hex[-6:]}@example.com"
    )
    assert (await control_client.get("/v1/platform/tenants", headers=ops.auth)).status_code == 200
    assert (
        await control_client.post("/v1/apps/admin/auth/logout", headers=ops.auth)
    ).status_code == 204
    assert (await control_client.get("/v1/platform/tenants", headers=ops.auth)).status_code == 401


async def test_the_operator_tenant_cannot_lock_its_operators_out(control_client, operator) -> None:
    for action in ("suspend", "deprovision"):
        response = await control_client.post(
            f"/v1/platform/tenants/{PLATFORM}/lifecycle",
            headers=operator.auth,
            json={"action": action, "reason": "oops"},
        )
        assert response.status_code == 409, response.text
    purge = await control_client.post(
        f"/v1/platform/tenants/{PLATFORM}/purge",
        headers=operator.auth,
        json={"reason": "x", "force": True},
    )
    assert purge.status_code == 409
    assert (
        await control_client.get("/v1/platform/tenants", headers=operator.auth)
    ).status_code == 200


async def test_a_deprovisioned_tenants_configuration_is_frozen(
    control_client, control_app, operator, db
) -> None:
    services = control_app.state.services
    slug = (await services.tenant_admin.provision(request(), by=FIXTURES)).tenant.slug
    for action in ("suspend", "deprovision"):
        await services.tenant_admin.transition(slug, action, reason="closing", by=FIXTURES)
    attempts = [
        control_client.put(
            f"/v1/platform/tenants/{slug}/settings/locale",
            headers=operator.auth,
            json={"value": "en-GB", "reason": "x"},
        ),
        control_client.post(
            f"/v1/platform/tenants/{slug}/domains",
            headers=operator.auth,
            json={"domain": f"{slug}.example"},
        ),
    ]
    for attempt in attempts:
        response = await attempt
        assert response.status_code == 409, response.text
        assert "frozen" in response.json()["detail"]
    empty_key = await control_client.post(
        "/v1/platform/tenants",
        headers={**operator.auth, "Idempotency-Key": ""},
        json=request().model_dump(),
    )
    assert empty_key.status_code == 422


async def test_tenant_search_matches_wildcards_literally(control_client, operator) -> None:
    marker = uuid7().hex[-6:]
    for slug, name in ((f"pct-{marker}", f"100% {marker}"), (f"num-{marker}", f"1000 {marker}")):
        created = await control_client.post(
            "/v1/platform/tenants",
            headers=operator.auth,
            json=request(slug=slug, name=name).model_dump(),
        )
        assert created.status_code == 201, created.text
    for query, expected in (("100%", [f"pct-{marker}"]), ("_", [])):
        page = await control_client.get(
            "/v1/platform/tenants", headers=operator.auth, params={"q": f"{query} {marker}"}
        )
        assert [t["slug"] for t in page.json()["items"]] == expected, query
