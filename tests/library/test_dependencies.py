"""`TenantTransaction` and `TenantSession` (the ORM's) on routes of a module's own (`tests/support/library.py`), served by
`create_app` beside Tenantry's routes: the principal's tenant and app, all or nothing, the
commit before the answer, and the scopes."""

from __future__ import annotations

from typing import TYPE_CHECKING

import psycopg
import pytest

from tests.support.accounts import make_tenant, signed_in
from tests.support.library import REFUSED_AT_COMMIT

if TYPE_CHECKING:
    import httpx

    from tenantry.kit.db import Database
    from tests.support.accounts import User
    from tests.support.database import Urls

ITEMS = "/v1/apps/thinktank/libtest/items"
ORM_ITEMS = "/v1/apps/thinktank/libtest/orm-items"


@pytest.fixture
async def user(library_client: httpx.AsyncClient, library_db: Database) -> User:
    tenant = await make_tenant(library_db, "thinktank")
    return await signed_in(library_client, "thinktank", tenant, "writer@example.com")


def stored(urls: Urls, user: User) -> list[tuple[object, ...]]:
    """The user's items as they are in the database (read past row-level security)."""
    with psycopg.connect(urls.admin) as conn:
        return conn.execute(
            "SELECT i.tenant_id::text, a.slug, i.author_id::text, i.label FROM libtest.items i "
            "JOIN tenantry.apps a ON a.id = i.app_id WHERE i.author_id = %s ORDER BY i.created_at",
            [user.id],
        ).fetchall()


@pytest.mark.parametrize("route", [ITEMS, ORM_ITEMS])
async def test_writes_land_in_the_principals_tenant_and_app(
    library_client: httpx.AsyncClient, library_urls: Urls, user: User, route: str
) -> None:
    response = await library_client.post(route, json={"label": "first"}, headers=user.auth)
    assert response.status_code == 201, response.text
    assert stored(library_urls, user) == [(str(user.tenant.id), "thinktank", user.id, "first")]
    listed = await library_client.get(ITEMS, headers=user.auth)
    assert listed.status_code == 200
    assert [item["label"] for item in listed.json()] == ["first"]


async def test_another_tenant_sees_none_of_it(
    library_client: httpx.AsyncClient, library_db: Database, user: User
) -> None:
    assert (await library_client.post(ITEMS, json={"label": "mine"}, headers=user.auth)).is_success
    other_tenant = await make_tenant(library_db, "thinktank")
    other = await signed_in(library_client, "thinktank", other_tenant, "writer@example.com")
    listed = await library_client.get(ITEMS, headers=other.auth)
    assert listed.status_code == 200
    assert listed.json() == []


@pytest.mark.parametrize("route", [ITEMS, ORM_ITEMS])
async def test_a_route_that_raises_writes_nothing(
    library_client: httpx.AsyncClient, library_urls: Urls, user: User, route: str
) -> None:
    response = await library_client.post(
        route, json={"label": "undone", "fail_after_write": True}, headers=user.auth
    )
    assert response.status_code == 409
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "conflict"
    assert stored(library_urls, user) == []


@pytest.mark.parametrize("route", [ITEMS, ORM_ITEMS])
async def test_a_commit_that_fails_is_an_error_answer(
    library_client: httpx.AsyncClient, library_urls: Urls, user: User, route: str
) -> None:
    # Every statement succeeds; the deferred constraint refuses the row at COMMIT, after the
    # route has returned: the client must hear of it, not get a 201 for a row that is not there.
    response = await library_client.post(
        route, json={"label": REFUSED_AT_COMMIT}, headers=user.auth
    )
    assert response.status_code == 409, response.text
    assert response.json()["code"] == "conflict"
    assert stored(library_urls, user) == []


@pytest.mark.parametrize("route", [ITEMS, ORM_ITEMS])
async def test_scopes_are_required(
    library_client: httpx.AsyncClient, library_urls: Urls, user: User, route: str
) -> None:
    missing = await library_client.post(route, json={"label": "anonymous"})
    assert missing.status_code == 401
    assert missing.json()["code"] == "unauthorized"
    forged = await library_client.post(
        route, json={"label": "forged"}, headers={"Authorization": "Bearer not-a-token"}
    )
    assert forged.status_code == 401
    assert stored(library_urls, user) == []


@pytest.mark.parametrize("route", [ITEMS, ORM_ITEMS])
async def test_a_revoked_session_stops_at_once(
    library_client: httpx.AsyncClient, library_urls: Urls, user: User, route: str
) -> None:
    logout = await library_client.post("/v1/apps/thinktank/auth/logout", headers=user.auth)
    assert logout.status_code == 204, logout.text
    # The access token has not expired, but its session is gone.
    response = await library_client.post(route, json={"label": "late"}, headers=user.auth)
    assert response.status_code == 401
    assert stored(library_urls, user) == []


async def test_the_route_is_in_the_openapi_with_its_scope(library_app) -> None:
    operation = library_app.openapi()["paths"][ITEMS.replace("thinktank", "{app}")]["post"]
    assert operation["security"] == [{"HTTPBearer": ["profile"]}]
