"""Rows in every conversations table for the isolation suites, made through the API, and the
helpers the conversations tests share."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tests.support.accounts import grant, holding, tenant_admin

if TYPE_CHECKING:
    import httpx

    from tenantry.kit.db import Database
    from tests.support.accounts import Tenant, User

MANAGE = "conversations.manage"


async def manager(client: httpx.AsyncClient, db: Database, tenant: Tenant, email: str) -> User:
    """A signed-in thinktank user of `tenant` holding `conversations.manage`."""
    return await holding(client, db, tenant, email, MANAGE)


async def call(
    client: httpx.AsyncClient,
    method: str,
    path: str,
    user: User,
    body: Any = None,
    expect: int = 200,
) -> Any:
    """`method path` as `user` on thinktank, which must answer `expect`; its JSON, if any."""
    response = await client.request(
        method, f"/v1/apps/thinktank{path}", headers=user.auth, json=body
    )
    assert response.status_code == expect, (
        f"{method} {path}: {response.status_code} {response.text}"
    )
    return response.json() if response.content else None


async def populate(client, control_app, tenant, user) -> None:
    """Fill every conversations table for `tenant` (`user` is a signed-in thinktank user)."""
    admin = await tenant_admin(
        client, control_app.state.services.db, tenant, f"ai-root@{tenant.slug}.test"
    )
    await grant(client, admin, user, MANAGE)
    persona = await call(
        client,
        "POST",
        "/manage/personalities",
        user,
        {"name": "Guide", "model": "small-1", "system_prompt": "Be brief."},
        201,
    )
    await call(
        client,
        "POST",
        "/manage/widgets",
        user,
        {"name": "Help", "personality_id": persona["id"], "allowed_origins": ["https://x.test"]},
        201,
    )
    chat = await call(client, "POST", "/chats", user, {"personality_id": persona["id"]}, 201)
    messages = f"/chats/{chat['id']}/messages"
    await call(client, "POST", messages, user, {"role": "user", "content": "Hello"}, 201)
    answer = await call(
        client, "POST", messages, user, {"role": "assistant", "status": "streaming"}, 201
    )
    await call(
        client, "POST", f"{messages}/{answer['id']}/pieces", user, {"index": 0, "content": "Hi"}
    )
    await call(client, "POST", f"{messages}/{answer['id']}/complete", user, {"pieces": 1})
    await call(client, "PUT", f"{messages}/{answer['id']}/feedback", user, {"rating": 5})
    await call(
        client,
        "POST",
        "/meetings",
        user,
        {
            "title": "Weekly",
            "starts_at": "2026-01-05T09:00:00Z",
            "ends_at": "2026-01-05T09:30:00Z",
        },
        201,
    )
    await call(
        client,
        "PUT",
        "/me/ai-preferences",
        user,
        {"preferred_personality_id": persona["id"], "language": "fr"},
    )
    await call(client, "POST", "/me/memories", user, {"content": "Prefers short answers"}, 201)
