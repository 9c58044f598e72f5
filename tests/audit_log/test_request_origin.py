"""An entry names the request that made the change and the platform administrator who sent it,
with no route passing either down by hand."""

from __future__ import annotations

from tests.support.accounts import make_tenant


async def test_an_entry_carries_its_request_id_and_actor(control_client, db, operator) -> None:
    tenant = await make_tenant(db, "thinktank")
    changed = await control_client.put(
        f"/v1/platform/tenants/{tenant.slug}/settings/timezone",
        headers={**operator.auth, "X-Request-Id": "req-audit-origin-1"},
        json={"value": "Asia/Tokyo", "reason": "customer asked"},
    )
    assert changed.status_code == 200, changed.text
    page = await control_client.get(
        f"/v1/platform/tenants/{tenant.slug}/audit-log",
        headers=operator.auth,
        params={"action": "setting.change"},
    )
    assert page.status_code == 200, page.text
    [entry] = page.json()["items"]
    assert entry["request_id"] == "req-audit-origin-1"
    assert entry["actor"] == f"platform-admin:{operator.id}"
    assert (entry["delegated"], entry["impersonated"]) == (False, False)
