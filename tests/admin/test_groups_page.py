"""A tenant's groups and guest policy in the admin UI, over HTTP: groups are created, renamed,
given and relieved of members and deleted with the session's CSRF token (refused without it), the
guest policy is saved, a refused change shows its reason with its status, and a tenant's page
never shows another tenant's groups."""

from __future__ import annotations

import re

import httpx
import pytest

from tenantry.kit.ids import uuid7
from tests.admin.stage import ADMIN_EMAIL, PLATFORM, signed_in_client
from tests.support.wiring import PASSWORD


@pytest.fixture
def admin(stage):
    client, csrf = signed_in_client(stage)
    yield client, csrf
    client.close()


def _api_login(client: httpx.Client, tenant: str, app: str, email: str) -> dict[str, str]:
    body = {"tenant": tenant, "email": email, "password": PASSWORD}
    login = client.post(f"/v1/apps/{app}/auth/login", json=body)
    assert login.status_code == 200, login.text
    return {"Authorization": f"Bearer {login.json()['access_token']}"}


def _person_id(stage) -> str:
    with httpx.Client(base_url=stage.url) as api:
        auth = _api_login(api, stage.tenant, "thinktank", stage.person)
        return api.get("/v1/apps/thinktank/me", headers=auth).json()["id"]


def _group_id(page: str, name: str) -> str:
    found = re.search(rf'id="group-h-([0-9a-f-]{{36}})">{re.escape(name)} <', page)
    assert found, f"no group {name!r} on the page"
    return found.group(1)


def _other_tenant(stage) -> str:
    slug = f"ui-other-{uuid7().hex[-6:]}"
    with httpx.Client(base_url=stage.url) as api:
        auth = _api_login(api, PLATFORM, "admin", ADMIN_EMAIL)
        body = {
            "slug": slug,
            "name": "Other Co",
            "plan": "business",
            "apps": ["thinktank"],
            "admin_email": f"boss@{slug}.test",
        }
        assert api.post("/v1/platform/tenants", headers=auth, json=body).status_code == 201
    return slug


def test_the_page_is_linked_from_the_tenant_page(stage, admin) -> None:
    client, _ = admin
    tenant_page = client.get(f"/admin/tenants/{stage.tenant}")
    assert f'href="/admin/tenants/{stage.tenant}/groups"' in tenant_page.text
    page = client.get(f"/admin/tenants/{stage.tenant}/groups")
    assert page.status_code == 200, page.text
    assert "<h2>Guests</h2>" in page.text
    assert "No guests." in page.text
    assert client.get("/admin/tenants/no-such-tenant/groups").status_code == 404


def test_a_group_with_a_member_from_creation_to_deletion(stage, admin) -> None:
    client, csrf = admin
    base = f"/admin/tenants/{stage.tenant}"
    name = f"Reviewers {uuid7().hex[-6:]}"
    form = {"name": name, "description": "They review"}
    assert client.post(f"{base}/groups", data=form).status_code == 403
    assert client.post(f"{base}/groups", data={**form, "csrf": "forged"}).status_code == 403
    created = client.post(f"{base}/groups", data={**form, "csrf": csrf})
    assert created.status_code == 303, created.text
    page = client.get(created.headers["location"]).text
    assert f"group {name} created" in page
    group = _group_id(page, name)
    assert "They review" in page

    renamed = f"{name} (senior)"
    change = {"name": renamed, "description": "Senior reviewers"}
    assert client.post(f"{base}/groups/{group}", data=change).status_code == 403
    saved = client.post(f"{base}/groups/{group}", data={**change, "csrf": csrf})
    assert saved.status_code == 303, saved.text
    page = client.get(f"{base}/groups").text
    assert _group_id(page, renamed) == group
    assert "Senior reviewers" in page

    person = _person_id(stage)
    member = {"app": "launchboard", "user_id": person}
    assert client.post(f"{base}/groups/{group}/members", data=member).status_code == 403
    # The person's id is their thinktank identity: in launchboard it names nobody.
    wrong_app = client.post(f"{base}/groups/{group}/members", data={**member, "csrf": csrf})
    assert wrong_app.status_code == 404
    assert "no such user" in wrong_app.text
    member["app"] = "thinktank"
    added = client.post(f"{base}/groups/{group}/members", data={**member, "csrf": csrf})
    assert added.status_code == 303, added.text
    page = client.get(f"{base}/groups").text
    assert f"<td>{person}</td><td>thinktank</td>" in page
    assert "1 member<" in page

    removal = f"{base}/groups/{group}/members/{person}/remove"
    assert client.post(removal).status_code == 403
    assert client.post(removal, data={"csrf": csrf}).status_code == 303
    assert f"<td>{person}</td>" not in client.get(f"{base}/groups").text
    again = client.post(removal, data={"csrf": csrf})
    assert again.status_code == 404
    assert "no such member" in again.text

    deletion = f"{base}/groups/{group}/delete"
    assert client.post(deletion).status_code == 403
    assert client.post(deletion, data={"csrf": csrf}).status_code == 303
    assert f"group-{group}" not in client.get(f"{base}/groups").text
    gone = client.post(deletion, data={"csrf": csrf})
    assert gone.status_code == 404
    assert "no such group" in gone.text


def test_refusals_show_their_reason_not_a_500(stage, admin) -> None:
    client, csrf = admin
    base = f"/admin/tenants/{stage.tenant}"
    name = f"Twins {uuid7().hex[-6:]}"
    assert client.post(f"{base}/groups", data={"name": name, "csrf": csrf}).status_code == 303
    twin = client.post(f"{base}/groups", data={"name": name, "csrf": csrf})
    assert twin.status_code == 409
    assert 'role="alert"' in twin.text
    assert "conflicts with an existing entry (groups)" in twin.text
    # The page around the refusal is whole: the group that exists is still listed.
    assert _group_id(twin.text, name)

    unknown = uuid7()
    missing = client.post(f"{base}/groups/{unknown}", data={"name": "Nobody", "csrf": csrf})
    assert missing.status_code == 404
    assert "no such group" in missing.text
    member = {"app": "no-such-app", "user_id": str(uuid7()), "csrf": csrf}
    group = _group_id(twin.text, name)
    bad_app = client.post(f"{base}/groups/{group}/members", data=member)
    assert bad_app.status_code == 404
    assert "no app" in bad_app.text


def test_the_guest_policy_is_saved_and_shown(stage, admin) -> None:
    client, csrf = admin
    base = f"/admin/tenants/{stage.tenant}"
    page = client.get(f"{base}/groups").text
    # No policy saved: everything denied, a guest capped at a viewer.
    assert re.search(r'name="guests_in" value="true" >', page)
    assert "<option selected>viewer</option>" in page
    assert ">owner<" not in page

    policy = {"guests_in": "true", "guest_apps": ["thinktank"], "guest_max_role": "member"}
    assert client.post(f"{base}/guest-policy", data=policy).status_code == 403
    saved = client.post(f"{base}/guest-policy", data={**policy, "csrf": csrf})
    assert saved.status_code == 303, saved.text
    page = client.get(saved.headers["location"]).text
    assert "guest policy saved" in page
    assert 'name="guests_in" value="true" checked' in page
    assert 'name="guests_out" value="true" >' in page
    assert 'name="guest_apps" value="thinktank" checked' in page
    assert 'name="guest_apps" value="launchboard" >' in page
    assert "<option selected>member</option>" in page

    owner = client.post(
        f"{base}/guest-policy", data={**policy, "guest_max_role": "owner", "csrf": csrf}
    )
    assert owner.status_code == 422
    assert "a guest may hold" in owner.text
    into_admin = {**policy, "guest_apps": ["admin"], "csrf": csrf}
    refused = client.post(f"{base}/guest-policy", data=into_admin)
    assert refused.status_code == 422
    assert "never enter the admin app" in refused.text
    # The refused policies changed nothing.
    assert "<option selected>member</option>" in client.get(f"{base}/groups").text


def test_a_tenants_page_never_shows_another_tenants_groups(stage, admin) -> None:
    client, csrf = admin
    other = _other_tenant(stage)
    ours, theirs = f"Ours {uuid7().hex[-6:]}", f"Theirs {uuid7().hex[-6:]}"
    for slug, name in ((stage.tenant, ours), (other, theirs)):
        made = client.post(f"/admin/tenants/{slug}/groups", data={"name": name, "csrf": csrf})
        assert made.status_code == 303, made.text
    our_page = client.get(f"/admin/tenants/{stage.tenant}/groups").text
    their_page = client.get(f"/admin/tenants/{other}/groups").text
    assert ours in our_page
    assert theirs not in our_page
    assert theirs in their_page
    assert ours not in their_page

    # Another tenant's group, named through this tenant's page, is no group at all.
    their_group = _group_id(their_page, theirs)
    base = f"/admin/tenants/{stage.tenant}/groups/{their_group}"
    for url, form in (
        (base, {"name": "Taken over"}),
        (f"{base}/delete", {}),
        (f"{base}/members", {"app": "thinktank", "user_id": _person_id(stage)}),
    ):
        refused = client.post(url, data={**form, "csrf": csrf})
        assert refused.status_code == 404, (url, refused.text)
        assert "no such group" in refused.text
    assert theirs in client.get(f"/admin/tenants/{other}/groups").text


def test_a_guest_is_invited_listed_and_the_invitation_revoked(stage, admin) -> None:
    client, csrf = admin
    slug = _other_tenant(stage)
    base = f"/admin/tenants/{slug}"
    policy = {"guests_in": "true", "guest_apps": ["thinktank"], "guest_max_role": "viewer"}
    assert client.post(f"{base}/guest-policy", data={**policy, "csrf": csrf}).status_code == 303
    made = client.post(f"{base}/groups", data={"name": "Advisers", "csrf": csrf})
    assert made.status_code == 303, made.text
    group_id = _group_id(client.get(f"{base}/groups").text, "Advisers")
    invite = {"group_id": group_id, "app": "thinktank", "email": "adviser@example.com"}
    assert client.post(f"{base}/guest-invitations", data=invite).status_code == 403
    invited = client.post(
        f"{base}/guest-invitations", data={**invite, "csrf": csrf}, follow_redirects=True
    )
    assert "adviser@example.com invited" in invited.text
    table = re.search(r'<table id="guest-invitations">.*?</table>', invited.text, re.DOTALL)
    assert table
    assert "adviser@example.com" in table.group(0)
    assert "Advisers" in table.group(0)
    invitation_id = re.search(r"/guest-invitations/([0-9a-f-]{36})/revoke", invited.text)
    assert invitation_id
    revoke = f"{base}/guest-invitations/{invitation_id.group(1)}/revoke"
    revoked = client.post(revoke, data={"csrf": csrf}, follow_redirects=True)
    assert "invitation revoked" in revoked.text
    assert "No open invitations." in revoked.text
    again = client.post(revoke, data={"csrf": csrf})
    assert (again.status_code, "no open invitation" in again.text) == (404, True)
    # An app the tenant does not admit guests in is refused with its reason.
    elsewhere = {**invite, "app": "launchboard", "csrf": csrf}
    refused = client.post(f"{base}/guest-invitations", data=elsewhere)
    assert refused.status_code == 403, refused.text
    assert "does not admit guests in this app" in refused.text
