"""A cross-tenant workgroup over the HTTP API, end to end: the host invites, the guest accepts
from their home tenant, switches to the host with a token exchange (a token of the host only,
capped by the host's policy), and loses the host the moment the host removes them."""

from __future__ import annotations

import jwt

from tests.identity.test_token_exchange import exchange
from tests.support.accounts import User, latest_mail, make_tenant, tenant_admin
from tests.support.invitations import invited_user

POLICY = {"guests_in": True, "guests_out": True, "guest_apps": ["thinktank"]}


async def _workgroup(client, db):
    host = await make_tenant(db, "thinktank")
    home = await make_tenant(db, "thinktank")
    host_admin = await tenant_admin(client, db, host, f"boss@{host.slug}.test")
    home_admin = await tenant_admin(client, db, home, f"boss@{home.slug}.test")
    for admin, max_role in ((host_admin, "auditor"), (home_admin, "viewer")):
        saved = await client.put(
            "/v1/apps/admin/policy", headers=admin.auth, json={**POLICY, "guest_max_role": max_role}
        )
        assert saved.status_code == 200, saved.text
    group = await client.post(
        "/v1/apps/admin/groups", headers=host_admin.auth, json={"name": "Deal"}
    )
    assert group.status_code == 201, group.text
    for path, body in (
        ("/v1/apps/admin/roles", {"key": "reviewers", "name": "Reviewers", "template": "auditor"}),
        (
            "/v1/apps/admin/assignments",
            {"role": "reviewers", "subject": {"kind": "group", "id": group.json()["id"]}},
        ),
    ):
        made = await client.post(path, headers=host_admin.auth, json=body)
        assert made.status_code == 201, made.text
    # Invited into the home tenant, so Tenantry has proven the address.
    member = await invited_user(client, db, home_admin, "thinktank", f"partner@{home.slug}.test")
    return host_admin, member, group.json()["id"]


async def test_a_guest_joins_switches_and_is_removed(client, db) -> None:
    host_admin, member, group_id = await _workgroup(client, db)
    invited = await client.post(
        f"/v1/apps/admin/groups/{group_id}/guest-invitations",
        headers=host_admin.auth,
        json={"app": "thinktank", "email": member.email},
    )
    assert invited.status_code == 201, invited.text
    listed = await client.get("/v1/apps/admin/guest-invitations", headers=host_admin.auth)
    assert [i["email"] for i in listed.json()] == [member.email]

    code = await latest_mail(db, member.email)
    accepted = await client.post(
        "/v1/apps/thinktank/guest-invitations/accept", headers=member.auth, json={"code": code}
    )
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["tenant_slug"] == host_admin.tenant.slug
    guest_id = accepted.json()["app_user_id"]
    again = await client.post(
        "/v1/apps/thinktank/guest-invitations/accept", headers=member.auth, json={"code": code}
    )
    assert (again.status_code, again.json()["code"]) == (409, "guest_invitation_closed")

    tenants = await client.get("/v1/apps/thinktank/me/tenants", headers=member.auth)
    assert {t["tenant_slug"] for t in tenants.json()} == {
        member.tenant.slug,
        host_admin.tenant.slug,
    }
    switched = await exchange(client, member, host_admin.tenant.slug)
    assert switched.status_code == 200, switched.text
    token = switched.json()["access_token"]
    claims = jwt.decode(token, options={"verify_signature": False})
    assert (claims["sub"], claims["tenant_id"]) == (guest_id, str(host_admin.tenant.id))
    guest = User("thinktank", host_admin.tenant, member.email, "", id=guest_id, access=token)
    context = await client.get("/v1/apps/thinktank/context", headers=guest.auth)
    assert context.status_code == 200, context.text
    # The group's auditor role, capped by the host's guest_max_role (auditor): nothing more.
    assert set(context.json()["privileges"]) == {"audit.read", "settings.read"}
    me = await client.get("/v1/apps/thinktank/me", headers=guest.auth)
    assert me.json()["id"] == guest_id != member.id

    guests = await client.get("/v1/apps/admin/guests", headers=host_admin.auth)
    assert [(g["app_user_id"], g["groups"]) for g in guests.json()] == [(guest_id, ["Deal"])]
    removed = await client.delete(f"/v1/apps/admin/guests/{guest_id}", headers=host_admin.auth)
    assert removed.status_code == 204, removed.text
    assert (await client.get("/v1/apps/thinktank/me", headers=guest.auth)).status_code == 401
    # The home identity is untouched.
    assert (await client.get("/v1/apps/thinktank/me", headers=member.auth)).status_code == 200


async def test_the_guest_routes_refuse_strangers(client, db) -> None:
    _, member, group_id = await _workgroup(client, db)
    # The guest's own session cannot invite into the host, nor read its guests.
    stranger = await client.post(
        f"/v1/apps/thinktank/groups/{group_id}/guest-invitations",
        headers=member.auth,
        json={"app": "thinktank", "email": "x@example.com"},
    )
    assert stranger.status_code in (403, 404), stranger.text
    forged = await client.post(
        "/v1/apps/thinktank/guest-invitations/accept",
        headers=member.auth,
        json={"code": "tenantry_ott_" + "a" * 71},
    )
    assert (forged.status_code, forged.json()["code"]) == (404, "guest_invitation_not_found")
    unsigned = await client.post(
        "/v1/apps/thinktank/guest-invitations/accept", json={"code": "tenantry_ott_" + "a" * 71}
    )
    assert unsigned.status_code == 401


async def test_a_revoked_session_accepts_nothing(client, db) -> None:
    host_admin, member, group_id = await _workgroup(client, db)
    invited = await client.post(
        f"/v1/apps/admin/groups/{group_id}/guest-invitations",
        headers=host_admin.auth,
        json={"app": "thinktank", "email": member.email},
    )
    assert invited.status_code == 201, invited.text
    code = await latest_mail(db, member.email)
    logout = await client.post("/v1/apps/thinktank/auth/logout", headers=member.auth)
    assert logout.status_code == 204, logout.text
    # The access token has not expired, but its session has ended.
    refused = await client.post(
        "/v1/apps/thinktank/guest-invitations/accept", headers=member.auth, json={"code": code}
    )
    assert refused.status_code == 401, refused.text
    guests = await client.get("/v1/apps/admin/guests", headers=host_admin.auth)
    assert guests.json() == []
