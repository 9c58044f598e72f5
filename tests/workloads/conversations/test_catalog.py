"""Personalities and widgets: the app's users read personalities (never their system prompts);
only holders of `conversations.manage` create, change and delete them and the widgets."""

from __future__ import annotations

from tests.support.accounts import signed_in
from tests.support.workload_conversations import call, manager

PERSONA = {"name": "Tutor", "model": "small-1", "system_prompt": "Teach.", "temperature": 0.2}


async def test_managers_manage_and_users_read_personalities(client, db, tenant) -> None:
    boss = await manager(client, db, tenant, "boss@example.com")
    user = await signed_in(client, "thinktank", tenant, "pupil@example.com")
    made = await call(client, "POST", "/manage/personalities", boss, PERSONA, 201)
    assert {k: made[k] for k in PERSONA} == PERSONA
    assert made["description"] == ""
    seen = await call(client, "GET", f"/personalities/{made['id']}", user)
    assert "system_prompt" not in seen
    assert seen == {k: made[k] for k in ("id", "name", "description", "model", "temperature")}
    listed = await call(client, "GET", "/personalities", user)
    assert [p["id"] for p in listed["items"]] == [made["id"]]
    assert "system_prompt" not in listed["items"][0]
    full = await call(client, "GET", f"/manage/personalities/{made['id']}", boss)
    assert full["system_prompt"] == "Teach."

    changed = await call(
        client, "PATCH", f"/manage/personalities/{made['id']}", boss, {"temperature": 1.5}
    )
    assert (changed["temperature"], changed["name"]) == (1.5, "Tutor")
    # Names are unique in the app whatever their case, on creation and on renaming.
    twin = await client.post(
        "/v1/apps/thinktank/manage/personalities",
        headers=boss.auth,
        json={**PERSONA, "name": "  tUTOR "},
    )
    assert twin.status_code == 409
    assert twin.json()["code"] == "name_taken"
    other = await call(
        client, "POST", "/manage/personalities", boss, {**PERSONA, "name": "Coach"}, 201
    )
    clash = await client.patch(
        f"/v1/apps/thinktank/manage/personalities/{other['id']}",
        headers=boss.auth,
        json={"name": "TUTOR"},
    )
    assert clash.status_code == 409
    assert clash.json()["code"] == "name_taken"

    # A chat, a widget and preferences name it; deleting it leaves them without one.
    chat = await call(client, "POST", "/chats", user, {"personality_id": made["id"]}, 201)
    widget = await call(
        client, "POST", "/manage/widgets", boss, {"name": "W", "personality_id": made["id"]}, 201
    )
    await call(client, "PUT", "/me/ai-preferences", user, {"preferred_personality_id": made["id"]})
    await call(client, "DELETE", f"/manage/personalities/{made['id']}", boss, expect=204)
    await call(client, "GET", f"/personalities/{made['id']}", user, expect=404)
    assert (await call(client, "GET", f"/chats/{chat['id']}", user))["personality_id"] is None
    assert (await call(client, "GET", f"/manage/widgets/{widget['id']}", boss))[
        "personality_id"
    ] is None
    assert (await call(client, "GET", "/me/ai-preferences", user))[
        "preferred_personality_id"
    ] is None
    await call(client, "DELETE", f"/manage/personalities/{made['id']}", boss, expect=404)


async def test_personalities_page_by_name(client, db, tenant) -> None:
    boss = await manager(client, db, tenant, "pager-boss@example.com")
    names = ["delta", "Alpha", "charlie", "Echo", "bravo"]
    for name in names:
        await call(client, "POST", "/manage/personalities", boss, {**PERSONA, "name": name}, 201)
    walked, cursor = [], None
    while True:
        page = await call(
            client, "GET", f"/personalities?limit=2{'&cursor=' + cursor if cursor else ''}", boss
        )
        walked += [p["name"] for p in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert walked == sorted(names, key=str.lower)


async def test_widgets_are_managed_with_the_privilege(client, db, tenant) -> None:
    boss = await manager(client, db, tenant, "widgets@example.com")
    persona = await call(client, "POST", "/manage/personalities", boss, PERSONA, 201)
    widget = await call(
        client,
        "POST",
        "/manage/widgets",
        boss,
        {
            "name": "Support bubble",
            "personality_id": persona["id"],
            "allowed_origins": [
                "https://shop.example",
                "https://shop.example",
                "http://localhost:8080",
            ],
            "config": {"theme": {"color": "#123456"}, "greeting": "Hi"},
        },
        201,
    )
    assert widget["allowed_origins"] == ["https://shop.example", "http://localhost:8080"]
    assert widget["enabled"] is True
    assert widget["config"] == {"theme": {"color": "#123456"}, "greeting": "Hi"}
    off = await call(
        client,
        "PATCH",
        f"/manage/widgets/{widget['id']}",
        boss,
        {"enabled": False, "personality_id": None, "config": {}},
    )
    assert (off["enabled"], off["personality_id"], off["config"]) == (False, None, {})
    assert off["allowed_origins"] == widget["allowed_origins"]
    listed = await call(client, "GET", "/manage/widgets", boss)
    assert [w["id"] for w in listed["items"]] == [widget["id"]]
    dup = await client.post(
        "/v1/apps/thinktank/manage/widgets", headers=boss.auth, json={"name": "SUPPORT BUBBLE"}
    )
    assert dup.status_code == 409
    assert dup.json()["code"] == "name_taken"
    for body in (
        {"name": "x", "allowed_origins": ["https://shop.example/path"]},
        {"name": "x", "allowed_origins": ["ftp://shop.example"]},
        {"name": "x", "allowed_origins": ["https://a.example"] * 51},
        {"name": "x", "config": {"blob": "x" * 17000}},
        {"name": "x", "config": []},
        {"name": ""},
        {"name": "x", "enabled": None},
    ):
        bad = await client.post("/v1/apps/thinktank/manage/widgets", headers=boss.auth, json=body)
        assert bad.status_code == 422, (body, bad.text)
    unknown = await client.post(
        "/v1/apps/thinktank/manage/widgets",
        headers=boss.auth,
        json={"name": "x", "personality_id": "0190d6f0-0000-7000-8000-000000000000"},
    )
    assert unknown.status_code == 422
    assert unknown.json()["code"] == "unknown_personality"
    await call(client, "DELETE", f"/manage/widgets/{widget['id']}", boss, expect=204)
    await call(client, "GET", f"/manage/widgets/{widget['id']}", boss, expect=404)


async def test_without_the_privilege_nothing_is_managed(client, db, tenant) -> None:
    boss = await manager(client, db, tenant, "holder@example.com")
    persona = await call(client, "POST", "/manage/personalities", boss, PERSONA, 201)
    widget = await call(client, "POST", "/manage/widgets", boss, {"name": "W"}, 201)
    user = await signed_in(client, "thinktank", tenant, "plain@example.com")
    for method, path, body in (
        ("GET", "/manage/personalities", None),
        ("POST", "/manage/personalities", {**PERSONA, "name": "Mine"}),
        ("GET", "/manage/widgets", None),
        ("POST", "/manage/widgets", {"name": "Mine"}),
    ):
        response = await client.request(
            method, f"/v1/apps/thinktank{path}", headers=user.auth, json=body
        )
        assert response.status_code == 403, (method, path, response.text)
        assert response.json()["code"] == "insufficient_privilege"
    # A route naming an object answers as if it did not exist.
    for method, path, body in (
        ("GET", f"/manage/personalities/{persona['id']}", None),
        ("PATCH", f"/manage/personalities/{persona['id']}", {"name": "Taken over"}),
        ("DELETE", f"/manage/personalities/{persona['id']}", None),
        ("GET", f"/manage/widgets/{widget['id']}", None),
        ("PATCH", f"/manage/widgets/{widget['id']}", {"enabled": False}),
        ("DELETE", f"/manage/widgets/{widget['id']}", None),
    ):
        response = await client.request(
            method, f"/v1/apps/thinktank{path}", headers=user.auth, json=body
        )
        assert response.status_code == 404, (method, path, response.text)
    assert (await call(client, "GET", f"/manage/personalities/{persona['id']}", boss))[
        "name"
    ] == "Tutor"
    assert (await call(client, "GET", f"/manage/widgets/{widget['id']}", boss))["enabled"] is True
