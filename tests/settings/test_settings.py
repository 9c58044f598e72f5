"""Tenant settings over the platform API: validated per key, and every change kept in history."""

from __future__ import annotations

from tests.support.accounts import make_tenant


async def test_settings_validation_and_history(control_client, operator, db) -> None:
    tenant = await make_tenant(db, "thinktank")
    bad = await control_client.put(
        f"/v1/platform/tenants/{tenant.slug}/settings/max_users",
        headers=operator.auth,
        json={"value": 0, "reason": "x"},
    )
    assert bad.status_code == 422
    assert "max_users" in bad.json()["detail"]
    unknown = await control_client.put(
        f"/v1/platform/tenants/{tenant.slug}/settings/no_such",
        headers=operator.auth,
        json={"value": 1, "reason": "x"},
    )
    assert unknown.status_code == 404
    for value in (10, 20):
        ok = await control_client.put(
            f"/v1/platform/tenants/{tenant.slug}/settings/max_users",
            headers=operator.auth,
            json={"value": value, "reason": f"to {value}"},
        )
        assert ok.status_code == 200
    history = (
        await control_client.get(
            f"/v1/platform/tenants/{tenant.slug}/settings-history",
            headers=operator.auth,
            params={"key": "max_users"},
        )
    ).json()
    assert [(h["old_value"], h["new_value"], h["reason"]) for h in history] == [
        (10, 20, "to 20"),
        (None, 10, "to 10"),
    ]
