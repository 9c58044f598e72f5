"""Tenant administrators' own resources: app users do not see them, people are found across
the tenant's apps, nobody signs up to the admin app, and a revoked admin session stops at once."""

from __future__ import annotations

from tests.support.accounts import make_tenant, signed_in


async def test_admin_resources_do_not_exist_for_app_users(client, tenant) -> None:
    user = await signed_in(client, "thinktank", tenant, "curious@example.com")
    for path in (
        "/v1/apps/thinktank/security-events",
        "/v1/apps/thinktank/people?email=x@example.com",
    ):
        response = await client.get(path, headers=user.auth)
        assert response.status_code == 404, path


async def test_cross_app_people_for_admins_only(client, db, tenant, admin) -> None:
    a = await signed_in(client, "thinktank", tenant, "Person@Example.com")
    b = await signed_in(client, "launchboard", tenant, "person@example.com")
    elsewhere = await make_tenant(db, "thinktank")
    await signed_in(client, "thinktank", elsewhere, "person@example.com")
    found = await client.get(
        "/v1/apps/admin/people", headers=admin.auth, params={"email": "PERSON@example.com"}
    )
    assert found.status_code == 200
    identities = found.json()
    assert {(i["app_slug"], i["app_user_id"]) for i in identities} == {
        ("thinktank", a.id),
        ("launchboard", b.id),
    }
    assert len({i["person_id"] for i in identities}) == 1
    by_person = await client.get(
        "/v1/apps/admin/people",
        headers=admin.auth,
        params={"person_id": identities[0]["person_id"]},
    )
    assert {i["app_user_id"] for i in by_person.json()} == {a.id, b.id}


async def test_nobody_signs_up_to_the_admin_app(client, tenant) -> None:
    for slug in (tenant.slug, "platform"):
        response = await client.post(
            "/v1/apps/admin/auth/signup",
            json={
                "tenant": slug,
                "email": "intruder@evil.example",
                "password": "strong-enough-passphrase-9",
            },
        )
        assert response.status_code == 404, response.text
    external = await client.post(
        "/v1/apps/admin/auth/external", json={"tenant": tenant.slug, "id_token": "x" * 20}
    )
    assert external.status_code == 404


async def test_revoked_admin_session_stops_at_once(client, admin) -> None:
    assert (
        await client.get("/v1/apps/admin/security-events", headers=admin.auth)
    ).status_code == 200
    assert (await client.post("/v1/apps/admin/auth/logout", headers=admin.auth)).status_code == 204
    assert (
        await client.get("/v1/apps/admin/security-events", headers=admin.auth)
    ).status_code == 401
    assert (
        await client.get("/v1/apps/admin/people", headers=admin.auth, params={"email": "a@b.co"})
    ).status_code == 401
