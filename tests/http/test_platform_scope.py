"""The platform scope: a platform administrator's token without it has no control-plane power,
and only platform administrators can grant it."""

from __future__ import annotations

from tests.support.accounts import make_tenant, signed_in, tenant_admin


async def operator_token(client, operator, scopes: list[str]) -> dict[str, str]:
    created = await client.post(
        "/v1/apps/admin/api-tokens",
        headers=operator.auth,
        json={"name": "least privilege", "scopes": scopes},
    )
    assert created.status_code == 201, created.text
    return {"Authorization": f"Bearer {created.json()['token']}"}


async def test_a_platform_admins_token_needs_the_platform_scope(
    control_client, operator, db
) -> None:
    tenant = await make_tenant(db, "thinktank")
    setting = f"/v1/platform/tenants/{tenant.slug}/settings/timezone"
    change = {"value": "Europe/Paris", "reason": "leaked token"}
    for scopes in (["profile"], [], ["admin"], ["profile", "admin"]):
        token = await operator_token(control_client, operator, scopes)
        for method, path, body in (
            ("GET", "/v1/platform/tenants", None),
            ("PUT", setting, change),
            (
                "POST",
                f"/v1/platform/tenants/{tenant.slug}/lifecycle",
                {"action": "suspend", "reason": "x"},
            ),
            (
                "POST",
                "/v1/platform/flags",
                {"key": "leak.flag", "type": "boolean", "default": True, "reason": "x"},
            ),
        ):
            response = await control_client.request(method, path, headers=token, json=body)
            assert response.status_code == 404, (scopes, path, response.text)
    # Nothing changed.
    settings = await control_client.get(
        f"/v1/platform/tenants/{tenant.slug}/settings", headers=operator.auth
    )
    assert settings.json()["timezone"] == "UTC"
    detail = await control_client.get(f"/v1/platform/tenants/{tenant.slug}", headers=operator.auth)
    assert detail.json()["tenant"]["status"] == "active"
    # A token that was given the platform scope works.
    platform = await operator_token(control_client, operator, ["platform"])
    assert (await control_client.get("/v1/platform/tenants", headers=platform)).status_code == 200
    assert (await control_client.put(setting, headers=platform, json=change)).status_code == 200


async def test_only_platform_admins_can_grant_the_platform_scope(
    control_client, db, tenant
) -> None:
    admin = await tenant_admin(control_client, db, tenant, "tenant-admin@example.com")
    refused = await control_client.post(
        "/v1/apps/admin/api-tokens",
        headers=admin.auth,
        json={"name": "escalate", "scopes": ["platform"]},
    )
    assert refused.status_code == 422
    user = await signed_in(control_client, "thinktank", tenant, "app-user@example.com")
    for scope in ("admin", "platform"):
        refused = await control_client.post(
            "/v1/apps/thinktank/api-tokens",
            headers=user.auth,
            json={"name": "escalate", "scopes": [scope]},
        )
        assert refused.status_code == 422, scope
