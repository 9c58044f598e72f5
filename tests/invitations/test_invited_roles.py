"""An invitation's roles: refused when the inviter could not assign them, assigned to the new
identity (for the invited app only) in the transaction that accepts it."""

from __future__ import annotations

from tests.support.accounts import User, latest_mail, login, make_tenant, tenant_admin
from tests.support.invitations import accept, invite
from tests.support.wiring import PASSWORD


async def _privileges(client, user: User) -> set[str]:
    context = await client.get(f"/v1/apps/{user.app}/context", headers=user.auth)
    assert context.status_code == 200, context.text
    return set(context.json()["privileges"])


async def test_the_invited_roles_are_held_once_accepted(client, db) -> None:
    tenant = await make_tenant(db, "thinktank")
    admin = await tenant_admin(client, db, tenant, f"boss-{tenant.slug}@example.com")
    created = await invite(client, admin, "thinktank", "auditor@example.com", ["auditor"])
    assert created.status_code == 201, created.text
    accepted = await accept(client, "thinktank", await latest_mail(db, "auditor@example.com"))
    assert accepted.status_code == 201, accepted.text
    user = User("thinktank", tenant, "auditor@example.com", PASSWORD)
    assert (await login(client, user)).status_code == 200
    assert await _privileges(client, user) == {"audit.read", "settings.read"}
    assignments = await client.get("/v1/apps/admin/assignments", headers=admin.auth)
    mine = [a for a in assignments.json() if a["subject_id"] == user.id]
    assert [(a["role"], a["only_app_id"]) for a in mine] == [("auditor", None)]
    log = await client.get(
        "/v1/apps/admin/audit-log?action=role.assigned_by_invitation", headers=admin.auth
    )
    assert [e["object_id"] for e in log.json()["items"]] == [user.id]


async def test_an_invitation_never_carries_more_than_its_inviter_holds(client, db) -> None:
    tenant = await make_tenant(db, "thinktank")
    owner = await tenant_admin(client, db, tenant, f"owner-{tenant.slug}@example.com")
    # An administrator holding the admin template (no policies.manage), invited by the owner.
    made = await invite(client, owner, "admin", "deputy@example.com", ["admin"])
    assert made.status_code == 201, made.text
    assert (await accept(client, "admin", await latest_mail(db, "deputy@example.com"))).is_success
    deputy = User("admin", tenant, "deputy@example.com", PASSWORD)
    assert (await login(client, deputy)).status_code == 200
    governor = await client.post(
        "/v1/apps/admin/roles",
        headers=owner.auth,
        json={"key": "governor", "name": "Governor", "privileges": ["policies.manage"]},
    )
    assert governor.status_code == 201, governor.text

    escalating = await invite(client, deputy, "thinktank", "x@example.com", ["governor"])
    assert (escalating.status_code, escalating.json()["code"]) == (403, "insufficient_privilege")
    unknown = await invite(client, deputy, "thinktank", "y@example.com", ["no-such-role"])
    assert unknown.status_code == 422, unknown.text
    allowed = await invite(client, deputy, "thinktank", "z@example.com", ["member"])
    assert allowed.status_code == 201, allowed.text
