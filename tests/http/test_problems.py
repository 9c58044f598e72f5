"""Bad requests are RFC 9457 problems naming the field, never a 500: validation errors,
malformed bodies, unknown routes and methods, characters PostgreSQL cannot store."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        (
            "/v1/apps/thinktank/auth/login",
            {"tenant": "acme", "email": "not-an-email", "password": "x"},
            "email",
        ),
        (
            "/v1/apps/thinktank/auth/login",
            {"tenant": "Bad Slug", "email": "a@b.co", "password": "x"},
            "tenant",
        ),
        ("/v1/apps/thinktank/auth/signup", {"tenant": "acme", "email": "a@b.co"}, "password"),
        ("/v1/apps/thinktank/auth/refresh", {"refresh_token": "x"}, "refresh_token"),
        (
            "/v1/apps/thinktank/auth/login",
            {"tenant": "acme", "email": "a@b.co", "password": "x", "extra": 1},
            "extra",
        ),
    ],
)
async def test_validation_errors_are_problem_json_with_fields(client, path, body, field) -> None:
    response = await client.post(path, json=body)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["code"] == "validation_failed"
    assert any(e["field"] == field for e in problem["errors"]), problem["errors"]


async def test_malformed_bodies_and_unknown_routes(client) -> None:
    garbage = await client.post(
        "/v1/apps/thinktank/auth/login",
        content=b"{not json",
        headers={"content-type": "application/json"},
    )
    assert garbage.status_code == 422
    assert (await client.get("/v1/apps/thinktank/nothing-here")).json()["code"] == "not_found"
    assert (await client.get("/v1/apps/BAD!/me")).status_code == 404
    assert (
        await client.get("/v1/apps/nope/me", headers={"Authorization": "Bearer x"})
    ).status_code == 404
    assert (await client.put("/v1/apps/thinktank/me")).json()["code"] == "method_not_allowed"


async def test_unstorable_characters_are_a_422_not_a_500(client, tenant) -> None:
    for body, status in (
        ({"email": "nul\x00@example.com", "password": "x"}, 422),
        ({"tenant": tenant.slug, "email": "a@b.co", "password": "pass\x00word-long-enough"}, 401),
    ):
        response = await client.post("/v1/apps/thinktank/auth/login", json=body)
        assert response.status_code == status, response.text
        assert response.headers["content-type"] == "application/problem+json"
