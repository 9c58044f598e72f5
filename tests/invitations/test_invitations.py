"""Invitations through the HTTP API: invite, mail, accept, list; expiry, reuse, revocation,
resend limits, another tenant's invitations, and two acceptances racing for one token."""

from __future__ import annotations

import asyncio

from tests.support.accounts import User, latest_mail, login, make_tenant, signed_in, tenant_admin
from tests.support.invitations import accept, invite
from tests.support.wiring import PASSWORD


async def _admin(client, db, *apps: str) -> User:
    tenant = await make_tenant(db, *(apps or ("thinktank",)))
    return await tenant_admin(client, db, tenant, f"boss-{tenant.slug}@example.com")


async def test_invite_accept_sign_in_and_list(client, db) -> None:
    admin = await _admin(client, db)
    created = await invite(client, admin, "thinktank", "Newcomer@Example.com", ["member"])
    assert created.status_code == 201, created.text
    assert created.json()["status"] == "pending"
    assert created.json()["role_keys"] == ["member"]
    code = await latest_mail(db, "Newcomer@Example.com")
    accepted = await accept(client, "thinktank", code)
    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["created"] is True
    user = User("thinktank", admin.tenant, "newcomer@example.com", PASSWORD)
    assert (await login(client, user)).status_code == 200
    me = await client.get("/v1/apps/thinktank/me", headers=user.auth)
    assert me.json()["email_verified"] is True
    listed = await client.get("/v1/apps/admin/apps/thinktank/invitations", headers=admin.auth)
    assert [(i["status"], i["app_user_id"]) for i in listed.json()] == [("accepted", user.id)]
    pending = await client.get(
        "/v1/apps/admin/apps/thinktank/invitations?status=pending", headers=admin.auth
    )
    assert pending.json() == []


async def test_an_existing_identity_is_reused(client, db) -> None:
    admin = await _admin(client, db)
    existing = await signed_in(client, "thinktank", admin.tenant, "known@example.com")
    assert (await invite(client, admin, "thinktank", "known@example.com")).status_code == 201
    accepted = await accept(client, "thinktank", await latest_mail(db, "known@example.com"), None)
    assert accepted.status_code == 201, accepted.text
    assert accepted.json() == {**accepted.json(), "created": False, "app_user_id": existing.id}


async def test_a_token_is_single_use_and_expires(client, db) -> None:
    admin = await _admin(client, db)
    await invite(client, admin, "thinktank", "once@example.com")
    code = await latest_mail(db, "once@example.com")
    assert (await accept(client, "thinktank", code)).status_code == 201
    again = await accept(client, "thinktank", code)
    assert (again.status_code, again.json()["code"]) == (409, "invitation_used")

    await invite(client, admin, "thinktank", "late@example.com")
    late = await latest_mail(db, "late@example.com")
    async with db.platform_transaction() as tx:  # a week passes
        await tx.execute(
            "UPDATE tenantry.invitations SET expires_at = now() - interval '1 second' "
            "WHERE email = 'late@example.com'"
        )
    expired = await accept(client, "thinktank", late)
    assert (expired.status_code, expired.json()["code"]) == (409, "invitation_expired")
    # An expired invitation makes way for a new one.
    assert (await invite(client, admin, "thinktank", "late@example.com")).status_code == 201
    unknown = await accept(client, "thinktank", "tenantry_ott_" + "a" * 71)
    assert unknown.status_code == 404


async def test_revoke_and_resend(client, db) -> None:
    admin = await _admin(client, db)
    created = (await invite(client, admin, "thinktank", "maybe@example.com")).json()
    twice = await invite(client, admin, "thinktank", "maybe@example.com")
    assert (twice.status_code, twice.json()["code"]) == (409, "already_invited")
    first = await latest_mail(db, "maybe@example.com")
    base = f"/v1/apps/admin/apps/thinktank/invitations/{created['id']}"
    too_soon = await client.post(f"{base}/resend", headers=admin.auth)
    assert too_soon.status_code == 429
    async with db.platform_transaction() as tx:  # a few minutes pass
        await tx.execute(
            "UPDATE tenantry.invitations SET last_sent_at = now() - interval '5 minutes' "
            "WHERE id = %s",
            [created["id"]],
        )
    resent = await client.post(f"{base}/resend", headers=admin.auth)
    assert resent.status_code == 200, resent.text
    assert resent.json()["send_count"] == 2
    second = await latest_mail(db, "maybe@example.com")
    assert second != first
    assert (await accept(client, "thinktank", first)).status_code == 404  # replaced
    revoked = await client.post(f"{base}/revoke", headers=admin.auth, json={"reason": "oops"})
    assert revoked.json()["status"] == "revoked"
    refused = await accept(client, "thinktank", second)
    assert (refused.status_code, refused.json()["code"]) == (409, "invitation_revoked")


async def test_another_tenants_invitations_are_not_found(client, db) -> None:
    alice = await _admin(client, db)
    mallory = await _admin(client, db)
    created = (await invite(client, alice, "thinktank", "target@example.com")).json()
    base = f"/v1/apps/admin/apps/thinktank/invitations/{created['id']}"
    for action, body in (("revoke", {}), ("resend", None)):
        response = await client.post(f"{base}/{action}", headers=mallory.auth, json=body)
        assert response.status_code == 404, (action, response.text)
    listed = await client.get("/v1/apps/admin/apps/thinktank/invitations", headers=mallory.auth)
    assert listed.json() == []
    # Naming alice's tenant in the request is refused outright.
    forged = await client.post(
        "/v1/apps/admin/apps/thinktank/invitations",
        headers={**mallory.auth, "X-Tenant-Id": str(alice.tenant.id)},
        json={"email": "x@example.com"},
    )
    assert forged.status_code == 403
    # An app the tenant does not have, and a user of an app (not an administrator).
    elsewhere = await invite(client, alice, "launchboard", "x@example.com")
    assert elsewhere.status_code == 404
    member = await signed_in(client, "thinktank", alice.tenant, "member@example.com")
    denied = await client.get("/v1/apps/thinktank/apps/thinktank/invitations", headers=member.auth)
    assert denied.status_code == 404
    # Alice's invitation still works.
    code = await latest_mail(db, "target@example.com")
    assert (await accept(client, "thinktank", code)).status_code == 201


async def test_two_acceptances_race_exactly_one_wins(client, db) -> None:
    admin = await _admin(client, db)
    await invite(client, admin, "thinktank", "racer@example.com")
    code = await latest_mail(db, "racer@example.com")
    answers = await asyncio.gather(*(accept(client, "thinktank", code) for _ in range(4)))
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [201, 409, 409, 409], [a.text for a in answers]
    assert {a.json()["code"] for a in answers if a.status_code == 409} == {"invitation_used"}
    async with db.platform_transaction() as tx:
        row = await tx.fetch_one(
            "SELECT count(*) AS n FROM tenantry.app_users WHERE email = 'racer@example.com' "
            "AND tenant_id = %s",
            [admin.tenant.id],
        )
    assert row["n"] == 1
