"""Invitations as a tenant administrator and the invited person use them, over the HTTP API."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tests.support.accounts import User, latest_mail, login
from tests.support.wiring import PASSWORD

if TYPE_CHECKING:
    import httpx

    from tenantry.kit.db import Database


async def invite(
    client: httpx.AsyncClient, admin: User, app: str, email: str, roles: list[str] | None = None
) -> httpx.Response:
    return await client.post(
        f"/v1/apps/admin/apps/{app}/invitations",
        headers=admin.auth,
        json={"email": email, "roles": roles or []},
    )


async def accept(
    client: httpx.AsyncClient, app: str, token: str, password: str | None = PASSWORD
) -> httpx.Response:
    body: dict[str, str] = {"token": token}
    if password is not None:
        body["password"] = password
    return await client.post(f"/v1/apps/{app}/invitations/accept", json=body)


async def invited_user(
    client: httpx.AsyncClient, db: Database, admin: User, app: str, email: str
) -> User:
    """A signed-in user who joined `admin`'s tenant by accepting an invitation."""
    response = await invite(client, admin, app, email)
    assert response.status_code == 201, response.text
    accepted = await accept(client, app, await latest_mail(db, email))
    assert accepted.status_code == 201, accepted.text
    user = User(app, admin.tenant, email, PASSWORD)
    assert (await login(client, user)).status_code == 200
    return user
