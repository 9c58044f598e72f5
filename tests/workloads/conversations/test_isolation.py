"""Breaking out of a tenant, an app or a user: through the API as another user, another app's
user or another tenant's user (every answer a 404, nothing changed), and with raw SQL as the
runtime role in another tenant's or app's signed context (nothing seen, nothing written)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg
import pytest
from psycopg import errors
from psycopg.rows import dict_row

from tenantry.kit.context import TenantContext
from tenantry.kit.ids import uuid7
from tests.support.accounts import Tenant, User, make_tenant, signed_in
from tests.support.workload_conversations import call, populate

TABLES = (
    "personalities",
    "chat_sessions",
    "chat_messages",
    "feedback",
    "meetings",
    "widgets",
    "preferences",
    "memories",
)


@dataclass
class Scene:
    a: Tenant
    b: Tenant
    owner: User  # a thinktank user of A with rows in every table
    ids: dict[str, str]  # owner's chat, message, meeting, memory, personality, widget
    thinktank: Any
    launchboard: Any


@pytest.fixture
async def scene(client, app, db, tenant) -> Scene:
    other = await make_tenant(db, "thinktank", "launchboard")
    owner = await signed_in(client, "thinktank", tenant, "owner@example.com")
    await populate(client, app, tenant, owner)
    await populate(client, app, other, await signed_in(client, "thinktank", other, "b@example.com"))
    chat = (await call(client, "GET", "/chats", owner))["items"][0]
    messages = (await call(client, "GET", f"/chats/{chat['id']}/messages", owner))["items"]
    ids = {
        "chat": chat["id"],
        "message": messages[-1]["id"],
        "meeting": (await call(client, "GET", "/meetings", owner))["items"][0]["id"],
        "memory": (await call(client, "GET", "/me/memories", owner))["items"][0]["id"],
        "personality": (await call(client, "GET", "/manage/personalities", owner))["items"][0][
            "id"
        ],
        "widget": (await call(client, "GET", "/manage/widgets", owner))["items"][0]["id"],
    }
    apps = app.state.services.apps
    return Scene(tenant, other, owner, ids, apps.by_slug("thinktank"), apps.by_slug("launchboard"))


def _attempts(ids: dict[str, str]) -> list[tuple[str, str, Any]]:
    """Every route that names one of the owner's objects, with a valid body."""
    chat, message = f"/chats/{ids['chat']}", f"/chats/{ids['chat']}/messages/{ids['message']}"
    return [
        ("GET", chat, None),
        ("PATCH", chat, {"title": "mine now"}),
        ("DELETE", chat, None),
        ("GET", f"{chat}/messages", None),
        ("POST", f"{chat}/messages", {"role": "user", "content": "injected"}),
        ("POST", f"{message}/pieces", {"index": 1, "content": "injected"}),
        ("POST", f"{message}/complete", {}),
        ("PUT", f"{message}/feedback", {"rating": 1}),
        ("GET", f"{message}/feedback", None),
        ("DELETE", f"{message}/feedback", None),
        ("GET", f"/meetings/{ids['meeting']}", None),
        ("PATCH", f"/meetings/{ids['meeting']}", {"title": "mine now"}),
        ("DELETE", f"/meetings/{ids['meeting']}", None),
        ("GET", f"/me/memories/{ids['memory']}", None),
        ("PATCH", f"/me/memories/{ids['memory']}", {"content": "mine now"}),
        ("DELETE", f"/me/memories/{ids['memory']}", None),
    ]


async def _snapshot(client, owner: User, ids: dict[str, str]) -> list[Any]:
    chat = f"/chats/{ids['chat']}"
    return [
        await call(client, "GET", chat, owner),
        await call(client, "GET", f"{chat}/messages", owner),
        await call(client, "GET", f"{chat}/messages/{ids['message']}/feedback", owner),
        await call(client, "GET", f"/meetings/{ids['meeting']}", owner),
        await call(client, "GET", f"/me/memories/{ids['memory']}", owner),
        await call(client, "GET", "/me/ai-preferences", owner),
        await call(client, "GET", f"/manage/personalities/{ids['personality']}", owner),
        await call(client, "GET", f"/manage/widgets/{ids['widget']}", owner),
    ]


async def test_another_user_app_or_tenant_gets_404_and_changes_nothing(client, db, scene) -> None:
    before = await _snapshot(client, scene.owner, scene.ids)
    neighbour = await signed_in(client, "thinktank", scene.a, "neighbour@example.com")
    other_app = await signed_in(client, "launchboard", scene.a, "owner@example.com")
    stranger = await signed_in(client, "thinktank", scene.b, "stranger@example.com")
    for user in (neighbour, other_app, stranger):
        for method, path, body in _attempts(scene.ids):
            response = await client.request(
                method, f"/v1/apps/{user.app}{path}", headers=user.auth, json=body
            )
            assert response.status_code == 404, (user.email, user.app, method, path, response.text)
            assert response.json()["code"] == "not_found"
        # Their own lists and preferences show none of the owner's rows.
        for path in ("/chats", "/chats?status=archived", "/meetings", "/me/memories"):
            listed = await client.get(f"/v1/apps/{user.app}{path}", headers=user.auth)
            assert listed.json()["items"] == [], (user.email, path)
        preferences = await client.get(f"/v1/apps/{user.app}/me/ai-preferences", headers=user.auth)
        assert preferences.json()["updated_at"] is None
    # Managers of another tenant (B's user holds conversations.manage in B) do not reach A's.
    b_manager = await signed_in(client, "thinktank", scene.b, "b@example.com")
    for path in (
        f"/manage/personalities/{scene.ids['personality']}",
        f"/manage/widgets/{scene.ids['widget']}",
        f"/personalities/{scene.ids['personality']}",
    ):
        response = await client.get(f"/v1/apps/thinktank{path}", headers=b_manager.auth)
        assert response.status_code == 404, (path, response.text)
    deleted = await client.delete(
        f"/v1/apps/thinktank/manage/personalities/{scene.ids['personality']}",
        headers=b_manager.auth,
    )
    assert deleted.status_code == 404
    assert await _snapshot(client, scene.owner, scene.ids) == before


@pytest.fixture
def runtime(urls):
    with psycopg.connect(urls.runtime, row_factory=dict_row) as conn:
        yield conn


def _enter(conn, signer, context: TenantContext) -> None:
    conn.execute("SELECT set_config('tenantry.context', %s, true)", [signer.sign_tenant(context)])


def _count(conn, table: str, where: str = "true", params: Any = None) -> int:
    query = f"SELECT count(*) AS n FROM ai.{table} WHERE {where}"
    return conn.execute(query, params).fetchone()["n"]


def test_other_tenants_and_apps_see_and_touch_nothing(runtime, signer, scene) -> None:
    a, b, thinktank = scene.a.id, scene.b.id, scene.thinktank.id
    # Tenant B's context: its own rows in every table, none of A's, even by id.
    _enter(runtime, signer, TenantContext(b, thinktank))
    for table in TABLES:
        assert _count(runtime, table) > 0, table
        assert _count(runtime, table, "tenant_id <> %s", [b]) == 0, table
        assert (
            runtime.execute(
                f"UPDATE ai.{table} SET tenant_id = tenant_id WHERE tenant_id = %s", [a]
            ).rowcount
            == 0
        )
        assert runtime.execute(f"DELETE FROM ai.{table} WHERE tenant_id = %s", [a]).rowcount == 0
    assert _count(runtime, "chat_sessions", "id = %s", [scene.ids["chat"]]) == 0
    runtime.rollback()
    # Writing a row into A from B's context: refused by the policy's WITH CHECK.
    _enter(runtime, signer, TenantContext(b, thinktank))
    with pytest.raises(errors.InsufficientPrivilege):
        runtime.execute(
            "INSERT INTO ai.memories (tenant_id, app_id, id, app_user_id, content) "
            "VALUES (%s, %s, %s, %s, 'planted')",
            [a, thinktank, uuid7(), scene.owner.id],
        )
    runtime.rollback()
    # Another app of A (launchboard): none of thinktank's rows.
    _enter(runtime, signer, TenantContext(a, scene.launchboard.id))
    for table in TABLES:
        assert _count(runtime, table) == 0, table
    runtime.rollback()
    # No context at all: nothing.
    for table in TABLES:
        assert _count(runtime, table) == 0, table
    runtime.rollback()


def test_references_never_cross_an_app_or_a_tenant(runtime, signer, scene) -> None:
    a, launchboard = scene.a.id, scene.launchboard.id
    # A launchboard message in thinktank's chat: the (tenant, app, chat) key has no such chat.
    _enter(runtime, signer, TenantContext(a, launchboard))
    with pytest.raises(errors.ForeignKeyViolation):
        runtime.execute(
            "INSERT INTO ai.chat_messages (tenant_id, app_id, id, session_id, sequence, role, "
            "status) VALUES (%s, %s, %s, %s, 99, 'user', 'streaming')",
            [a, launchboard, uuid7(), scene.ids["chat"]],
        )
    runtime.rollback()
    # Moving A's chat to launchboard from thinktank's context: the policy refuses the new row.
    _enter(runtime, signer, TenantContext(a, scene.thinktank.id))
    with pytest.raises((errors.InsufficientPrivilege, errors.ForeignKeyViolation)):
        runtime.execute(
            "UPDATE ai.chat_sessions SET app_id = %s WHERE id = %s",
            [launchboard, scene.ids["chat"]],
        )
    runtime.rollback()
    # Feedback in B on A's message: B's context cannot reference it (no such key in B).
    _enter(runtime, signer, TenantContext(scene.b.id, scene.thinktank.id))
    b_user = runtime.execute("SELECT app_user_id FROM ai.chat_sessions LIMIT 1").fetchone()
    with pytest.raises(errors.ForeignKeyViolation):
        runtime.execute(
            "INSERT INTO ai.feedback (tenant_id, app_id, id, message_id, app_user_id, rating) "
            "VALUES (%s, %s, %s, %s, %s, 1)",
            [scene.b.id, scene.thinktank.id, uuid7(), scene.ids["message"], b_user["app_user_id"]],
        )
    runtime.rollback()
