"""The webhook endpoints API for tenant administrators (`webhooks.manage`): the secret is shown
at creation and rotation only, unsafe URLs are refused, another tenant's endpoint is a 404, and
a user without the privilege reaches nothing."""

from __future__ import annotations

from tests.support.accounts import make_tenant, signed_in, tenant_admin

BASE = "/v1/apps/admin/webhooks"
HOOK = {"url": "https://hooks.example.com/tenantry", "event_types": ["thinktank.*"]}


async def test_an_endpoint_from_creation_to_deletion(client, db) -> None:
    tenant = await make_tenant(db, "thinktank")
    admin = await tenant_admin(client, db, tenant, f"boss@{tenant.slug}.test")
    created = await client.post(BASE, headers=admin.auth, json={**HOOK, "description": "CRM"})
    assert created.status_code == 201, created.text
    endpoint = created.json()
    assert endpoint["secret"].startswith("whsec_")
    assert (endpoint["status"], endpoint["event_types"]) == ("enabled", ["thinktank.*"])
    one = f"{BASE}/{endpoint['id']}"
    read = await client.get(one, headers=admin.auth)
    assert read.status_code == 200
    assert "secret" not in read.json()
    assert [e["id"] for e in (await client.get(BASE, headers=admin.auth)).json()] == [
        endpoint["id"]
    ]
    changed = await client.patch(one, headers=admin.auth, json={"event_types": ["billing.*"]})
    assert changed.json()["event_types"] == ["billing.*"]
    rotated = await client.post(f"{one}/rotate-secret", headers=admin.auth)
    assert rotated.json()["secret"].startswith("whsec_")
    assert rotated.json()["secret"] != endpoint["secret"]
    disabled = await client.post(f"{one}/disable", headers=admin.auth, json={"reason": "moving"})
    assert (disabled.json()["status"], disabled.json()["disabled_reason"]) == (
        "disabled",
        "moving",
    )
    enabled = await client.post(f"{one}/enable", headers=admin.auth)
    assert enabled.json()["status"] == "enabled"
    assert (await client.get(f"{one}/attempts", headers=admin.auth)).json() == []
    assert (await client.delete(one, headers=admin.auth)).status_code == 204
    assert (await client.get(one, headers=admin.auth)).status_code == 404


async def test_unsafe_urls_strangers_and_other_tenants_are_refused(client, db) -> None:
    mine, theirs = await make_tenant(db, "thinktank"), await make_tenant(db, "thinktank")
    admin = await tenant_admin(client, db, mine, f"boss@{mine.slug}.test")
    other = await tenant_admin(client, db, theirs, f"boss@{theirs.slug}.test")
    for url in ("http://hooks.example.com/x", "https://127.0.0.1/x", "https://10.0.0.8/x"):
        refused = await client.post(BASE, headers=admin.auth, json={**HOOK, "url": url})
        assert refused.status_code == 422, (url, refused.text)
    theirs_hook = (await client.post(BASE, headers=other.auth, json=HOOK)).json()
    for method, path in (
        ("GET", f"{BASE}/{theirs_hook['id']}"),
        ("DELETE", f"{BASE}/{theirs_hook['id']}"),
        ("POST", f"{BASE}/{theirs_hook['id']}/rotate-secret"),
    ):
        answer = await client.request(method, path, headers=admin.auth)
        assert answer.status_code == 404, (method, path, answer.text)
    member = await signed_in(client, "thinktank", mine, "member@example.com")
    assert (await client.get("/v1/apps/thinktank/webhooks", headers=member.auth)).status_code in (
        403,
        404,
    )
    assert (await client.get(BASE)).status_code == 401
