"""Rows in every knowledge table for the isolation suites, made through the API, and the
helpers the knowledge tests share."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tests.support.accounts import grant, holding, tenant_admin

if TYPE_CHECKING:
    import httpx

    from tenantry.kit.db import Database
    from tests.support.accounts import Tenant, User

MANAGE = "knowledge.manage"
HANDBOOK = """Expense reports are due on the fifth working day of each month. Attach every receipt.

Travel is booked through the travel desk. Trains are preferred for trips under four hours.

Laptops are replaced every three years. A broken laptop is swapped the same day at the help desk."""


async def editor(client: httpx.AsyncClient, db: Database, tenant: Tenant, email: str) -> User:
    """A signed-in thinktank user of `tenant` holding `knowledge.manage`."""
    return await holding(client, db, tenant, email, MANAGE)


async def add_document(
    client: httpx.AsyncClient, user: User, title: str, content: str, expect: int = 201, **extra: Any
) -> dict[str, Any]:
    response = await client.post(
        "/v1/apps/thinktank/knowledge/documents",
        headers=user.auth,
        json={"title": title, "content": content, **extra},
    )
    assert response.status_code == expect, response.text
    return response.json()


async def search(
    client: httpx.AsyncClient, user: User, q: str, expect: int = 200, **params: Any
) -> dict[str, Any]:
    response = await client.get(
        "/v1/apps/thinktank/knowledge/search", headers=user.auth, params={"q": q, **params}
    )
    assert response.status_code == expect, response.text
    return response.json()


async def populate(client, control_app, tenant, user) -> None:
    """Fill every knowledge table for `tenant` (`user` is a signed-in thinktank user): a
    document gives a row in documents, chunks (with embeddings where pgvector is) and terms."""
    admin = await tenant_admin(
        client, control_app.state.services.db, tenant, f"kb-root@{tenant.slug}.test"
    )
    await grant(client, admin, user, MANAGE)
    await add_document(client, user, f"Handbook of {tenant.slug}", HANDBOOK, source="handbook.md")
