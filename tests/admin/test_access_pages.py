"""Access control and the audit log in the admin UI, over HTTP: every page renders, every form
works with the session's CSRF token and is refused without it, and the audit log's chain status
reads "intact" until a row is tampered with, then "broken" with the row."""

from __future__ import annotations

import re

import httpx
import psycopg
import pytest

from tenantry.kit.ids import uuid7
from tests.admin.stage import ADMIN_EMAIL, PLATFORM, signed_in_client
from tests.support.database import audit_log_unguarded
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


def test_pages_render_and_links_lead_there(stage, admin) -> None:
    client, _ = admin
    tenant_page = client.get(f"/admin/tenants/{stage.tenant}")
    for area in ("audit-log", "access", "departments", "delegations"):
        assert f'href="/admin/tenants/{stage.tenant}/{area}"' in tenant_page.text
        page = client.get(f"/admin/tenants/{stage.tenant}/{area}")
        assert page.status_code == 200, page.text
    assert client.get("/admin/tenants/no-such-tenant/access").status_code == 404
    assert client.get("/admin/tenants/no-such-tenant/audit-log").status_code == 404


def test_roles_privileges_and_overrides(stage, admin) -> None:
    client, csrf = admin
    base = f"/admin/tenants/{stage.tenant}"
    form = {"key": "reviewers", "name": "Reviewers", "template": "viewer"}
    assert client.post(f"{base}/roles", data=form).status_code == 403
    assert client.post(f"{base}/roles", data={**form, "csrf": "forged"}).status_code == 403
    created = client.post(f"{base}/roles", data={**form, "csrf": csrf})
    assert created.status_code == 303, created.text
    again = client.post(f"{base}/roles", data={**form, "csrf": csrf})
    assert again.status_code == 409
    assert "already exists" in again.text

    grant = {"privilege": "roles.assign", "action": "grant"}
    assert client.post(f"{base}/roles/reviewers/privileges", data=grant).status_code == 403
    done = client.post(f"{base}/roles/reviewers/privileges", data={**grant, "csrf": csrf})
    assert done.status_code == 303, done.text
    page = client.get(f"{base}/access")
    assert re.search(
        r"<td>reviewers</td><td>Reviewers</td><td>viewer</td><td>roles.assign</td>", page.text
    )

    override = {"template": "member", "privilege": "roles.assign", "effect": "revoke"}
    assert client.post(f"{base}/overrides", data=override).status_code == 403
    saved = client.post(f"{base}/overrides", data={**override, "csrf": csrf})
    assert saved.status_code == 303, saved.text
    page = client.get(f"{base}/access")
    assert "<td>member</td><td>roles.assign</td><td>revoke</td>" in page.text
    owner = client.post(f"{base}/overrides", data={**override, "template": "owner", "csrf": csrf})
    assert owner.status_code == 422
    assert "cannot be overridden" in owner.text


def test_assign_and_end_an_assignment(stage, admin) -> None:
    client, csrf = admin
    base = f"/admin/tenants/{stage.tenant}"
    assert (
        client.post(
            f"{base}/roles",
            data={"key": "editors", "name": "Editors", "template": "member", "csrf": csrf},
        ).status_code
        == 303
    )
    form = {
        "role": "editors",
        "subject_kind": "user",
        "subject_id": _person_id(stage),
        "user_app": "thinktank",
        "only_app": "thinktank",
        "expires": "2999-01-01T12:00",
    }
    assert client.post(f"{base}/assignments", data=form).status_code == 403
    assigned = client.post(f"{base}/assignments", data={**form, "csrf": csrf})
    assert assigned.status_code == 303, assigned.text
    page = client.get(f"{base}/access")
    assert "<td>thinktank</td><td>tenant-wide</td><td>2999-01-01 12:00</td>" in page.text
    (ending,) = re.findall(rf'action="({base}/assignments/[0-9a-f-]{{36}}/end)"', page.text)
    assert client.post(ending).status_code == 403
    assert client.post(ending, data={"csrf": csrf}).status_code == 303
    # Ended assignments leave the list (their rows stay, for the record).
    assert ending not in client.get(f"{base}/access").text
    assert client.post(ending, data={"csrf": csrf}).status_code == 404
    bad = client.post(f"{base}/assignments", data={**form, "expires": "soon", "csrf": csrf})
    assert bad.status_code == 422
    assert "not a date" in bad.text


def test_chain_status_turns_broken_when_a_row_is_tampered_with(stage, urls, admin) -> None:
    client, csrf = admin
    slug = f"ui-chain-{uuid7().hex[-6:]}"
    with httpx.Client(base_url=stage.url) as api:
        auth = _api_login(api, PLATFORM, "admin", ADMIN_EMAIL)
        body = {
            "slug": slug,
            "name": "Chain Co",
            "plan": "business",
            "apps": ["thinktank"],
            "admin_email": f"boss@{slug}.test",
        }
        assert api.post("/v1/platform/tenants", headers=auth, json=body).status_code == 201
    page = client.get(f"/admin/tenants/{slug}/audit-log")
    assert 'data-chain="intact"' in page.text
    assert "Chain intact" in page.text
    seqs = [int(s) for s in re.findall(r"<tr><td>(\d+)</td>", page.text)]
    assert seqs
    assert seqs == sorted(seqs, reverse=True)
    filtered = client.get(f"/admin/tenants/{slug}/audit-log", params={"action": "no.such.action"})
    assert "No entries." in filtered.text

    with psycopg.connect(urls.admin) as conn, audit_log_unguarded(conn):
        conn.execute(
            "UPDATE tenantry.audit_log SET actor = 'cli:eve' WHERE tenant_id = "
            "(SELECT id FROM tenantry.tenants WHERE slug = %s) AND seq = 1",
            [slug],
        )
    broken = client.get(f"/admin/tenants/{slug}/audit-log")
    assert 'data-chain="broken"' in broken.text
    assert re.search(r"Chain broken</strong>: .*seq 1", broken.text), broken.text
    walk = f"/admin/tenants/{slug}/audit-log/verify"
    assert client.post(walk, data={}).status_code == 403  # no CSRF token
    walked = client.post(walk, data={"csrf": csrf}, follow_redirects=True)
    assert f"{slug}: TAMPERED: row seq 1 was edited" in walked.text


def test_departments_members_and_delegated_administrators(stage, admin) -> None:
    client, csrf = admin
    base = f"/admin/tenants/{stage.tenant}"
    assert client.get(f"{base}/departments").status_code == 200
    assert client.post(f"{base}/departments", data={"name": "Research"}).status_code == 403
    for name in ("Research", "Lab"):
        made = client.post(f"{base}/departments", data={"name": name, "csrf": csrf})
        assert made.status_code == 303, made.text
    page = client.get(f"{base}/departments").text
    ids = dict(re.findall(r'department=([0-9a-f-]{36})">(\w+)</a>', page))
    research, lab = (next(i for i, n in ids.items() if n == want) for want in ("Research", "Lab"))

    # Move Lab under Research; Research under Lab would be a cycle.
    move = {"name": "Lab", "parent_id": research}
    assert client.post(f"{base}/departments/{lab}", data=move).status_code == 403
    assert client.post(f"{base}/departments/{lab}", data={**move, "csrf": csrf}).status_code == 303
    cycle = {"name": "Research", "parent_id": lab, "csrf": csrf}
    refused = client.post(f"{base}/departments/{research}", data=cycle)
    assert refused.status_code in {409, 422}, refused.text
    chosen = client.get(f"{base}/departments", params={"department": lab}).text
    assert "Path: Research / Lab" in chosen

    person = _person_id(stage)
    member = {"app": "thinktank", "user_id": person}
    assert client.post(f"{base}/departments/{lab}/members", data=member).status_code == 403
    added = client.post(f"{base}/departments/{lab}/members", data={**member, "csrf": csrf})
    assert added.status_code == 303, added.text
    chosen = client.get(f"{base}/departments", params={"department": lab}).text
    assert f"<td>{person}</td><td>thinktank</td>" in chosen
    removal = f"{base}/departments/{lab}/members/{person}/remove"
    assert client.post(removal).status_code == 403
    assert client.post(removal, data={"csrf": csrf}).status_code == 303
    assert "No members." in client.get(f"{base}/departments", params={"department": lab}).text

    delegation = {"user_app": "thinktank", "user_id": person, "department_id": research}
    assert client.post(f"{base}/delegated-admins", data=delegation).status_code == 403
    made = client.post(f"{base}/delegated-admins", data={**delegation, "csrf": csrf})
    assert made.status_code == 303, made.text
    page = client.get(f"{base}/departments").text
    assert f"<td>{person}</td><td>admin</td><td>Research</td><td>never</td>" in page


def test_delegations_are_listed_and_revoked(stage, admin) -> None:
    client, csrf = admin
    base = f"/admin/tenants/{stage.tenant}"
    delegate = f"drew-{uuid7().hex[-6:]}@example.com"
    with httpx.Client(base_url=stage.url) as api:
        body = {"tenant": stage.tenant, "email": delegate, "password": PASSWORD}
        assert api.post("/v1/apps/thinktank/auth/signup", json=body).status_code == 202
        auth = _api_login(api, stage.tenant, "thinktank", stage.person)
        grant = {"email": delegate, "reason": "holiday cover", "minutes": 60}
        made = api.post("/v1/apps/thinktank/delegations", headers=auth, json=grant)
        assert made.status_code == 201, made.text
        grant_id = made.json()["id"]
    page = client.get(f"{base}/delegations")
    assert page.status_code == 200
    assert "<td>holiday cover</td>" in page.text
    revoke = f"{base}/delegations/{grant_id}/revoke"
    assert client.post(revoke).status_code == 403
    assert client.post(revoke, data={"csrf": csrf}).status_code == 303
    assert ">revoked<" in client.get(f"{base}/delegations").text
    assert client.post(revoke, data={"csrf": csrf}).status_code == 404
    assert client.get("/admin/tenants/no-such-tenant/delegations").status_code == 404
