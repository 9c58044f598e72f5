"""A user's own AI preferences, memories and meetings through the API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.support.accounts import signed_in
from tests.support.workload_conversations import call, manager


def _at(hours: float) -> str:
    return (datetime(2026, 3, 2, 9, tzinfo=UTC) + timedelta(hours=hours)).isoformat()


async def test_preferences_start_as_defaults_and_are_replaced_whole(client, db, tenant) -> None:
    boss = await manager(client, db, tenant, "prefs-boss@example.com")
    persona = await call(
        client, "POST", "/manage/personalities", boss, {"name": "P", "model": "m"}, 201
    )
    user = await signed_in(client, "thinktank", tenant, "prefs@example.com")
    defaults = await call(client, "GET", "/me/ai-preferences", user)
    assert defaults == {
        "preferred_personality_id": None,
        "language": None,
        "tone": None,
        "extras": {},
        "updated_at": None,
    }
    saved = await call(
        client,
        "PUT",
        "/me/ai-preferences",
        user,
        {
            "preferred_personality_id": persona["id"],
            "language": "fr-CA",
            "tone": "friendly",
            "extras": {"emoji": False},
        },
    )
    assert saved["language"] == "fr-CA"
    assert saved["updated_at"] is not None
    assert await call(client, "GET", "/me/ai-preferences", user) == saved
    # A PUT replaces the whole document: what it leaves out goes back to its default.
    replaced = await call(client, "PUT", "/me/ai-preferences", user, {"tone": "formal"})
    assert replaced["tone"] == "formal"
    assert (replaced["language"], replaced["preferred_personality_id"], replaced["extras"]) == (
        None,
        None,
        {},
    )
    # Another user of the app still has the defaults.
    other = await signed_in(client, "thinktank", tenant, "prefs-other@example.com")
    assert (await call(client, "GET", "/me/ai-preferences", other))["tone"] is None
    for body in (
        {"language": "french!"},
        {"tone": "LOUD"},
        {"extras": ["a"]},
        {"extras": {"x": "y" * 20000}},
        {"color": "red"},
    ):
        bad = await client.put("/v1/apps/thinktank/me/ai-preferences", headers=user.auth, json=body)
        assert bad.status_code == 422, (body, bad.text)
    unknown = await client.put(
        "/v1/apps/thinktank/me/ai-preferences",
        headers=user.auth,
        json={"preferred_personality_id": "0190d6f0-0000-7000-8000-000000000000"},
    )
    assert unknown.status_code == 422
    assert unknown.json()["code"] == "unknown_personality"


async def test_memories_are_kept_listed_changed_and_forgotten(client, tenant) -> None:
    user = await signed_in(client, "thinktank", tenant, "memory@example.com")
    made = [
        await call(client, "POST", "/me/memories", user, {"content": f"fact {i}"}, 201)
        for i in range(5)
    ]
    assert (made[0]["kind"], made[0]["importance"], made[0]["expires_at"]) == ("fact", 3, None)
    walked, cursor = [], None
    while True:
        page = await call(
            client, "GET", f"/me/memories?limit=2{'&cursor=' + cursor if cursor else ''}", user
        )
        walked += [m["id"] for m in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert walked == [m["id"] for m in reversed(made)]  # newest first

    changed = await call(
        client,
        "PATCH",
        f"/me/memories/{made[0]['id']}",
        user,
        {"importance": 5, "kind": "preference", "expires_at": "2099-01-01T00:00:00Z"},
    )
    assert (changed["importance"], changed["kind"], changed["content"]) == (
        5,
        "preference",
        "fact 0",
    )
    permanent = await call(
        client, "PATCH", f"/me/memories/{made[0]['id']}", user, {"expires_at": None}
    )
    assert permanent["expires_at"] is None
    # An expired memory is gone from every read.
    past = await call(
        client,
        "POST",
        "/me/memories",
        user,
        {"content": "old news", "expires_at": "2020-01-01T00:00:00Z"},
        201,
    )
    assert past["id"] not in [
        m["id"] for m in (await call(client, "GET", "/me/memories", user))["items"]
    ]
    await call(client, "GET", f"/me/memories/{past['id']}", user, expect=404)
    await call(client, "DELETE", f"/me/memories/{made[1]['id']}", user, expect=204)
    await call(client, "GET", f"/me/memories/{made[1]['id']}", user, expect=404)
    for method, path, body in (
        ("POST", "/me/memories", {"content": ""}),
        ("POST", "/me/memories", {"content": "x" * 4001}),
        ("POST", "/me/memories", {"content": "x", "importance": 9}),
        ("POST", "/me/memories", {"content": "x", "kind": "Not A Label"}),
        ("POST", "/me/memories", {"content": "x", "expires_at": "2030-01-01T00:00:00"}),
        ("PATCH", f"/me/memories/{made[2]['id']}", {}),
        ("PATCH", f"/me/memories/{made[2]['id']}", {"content": None}),
        ("GET", "/me/memories?cursor=Zm9v", None),
    ):
        bad = await client.request(
            method, f"/v1/apps/thinktank{path}", headers=user.auth, json=body
        )
        assert bad.status_code == 422, (method, path, body, bad.text)


async def test_meetings_are_planned_listed_and_edited(client, tenant) -> None:
    user = await signed_in(client, "thinktank", tenant, "planner@example.com")
    made = [
        await call(
            client,
            "POST",
            "/meetings",
            user,
            {"title": f"m{i}", "starts_at": _at(i), "ends_at": _at(i + 0.5)},
            201,
        )
        for i in (3, 1, 2, 0)
    ]
    assert made[0]["status"] == "scheduled"
    assert made[0]["transcript"] == ""
    walked, cursor = [], None
    while True:
        page = await call(
            client, "GET", f"/meetings?limit=3{'&cursor=' + cursor if cursor else ''}", user
        )
        assert all("transcript" not in m for m in page["items"])
        walked += [m["title"] for m in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert walked == ["m3", "m2", "m1", "m0"]  # latest start first

    meeting = made[1]
    done = await call(
        client,
        "PATCH",
        f"/meetings/{meeting['id']}",
        user,
        {"status": "completed", "transcript": "A: hi\nB: hello", "summary": "Greetings."},
    )
    assert (done["status"], done["transcript"], done["summary"]) == (
        "completed",
        "A: hi\nB: hello",
        "Greetings.",
    )
    moved = await call(client, "PATCH", f"/meetings/{meeting['id']}", user, {"ends_at": _at(5)})
    assert moved["ends_at"] == _at(5).replace("+00:00", "Z")
    # The new end must still follow the start (the stored one, when only the end changes).
    early = await client.patch(
        f"/v1/apps/thinktank/meetings/{meeting['id']}", headers=user.auth, json={"ends_at": _at(0)}
    )
    assert early.status_code == 422
    assert early.json()["code"] == "invalid_time_range"
    for body in (
        {"title": "x", "starts_at": _at(1), "ends_at": _at(1)},
        {"title": "x", "starts_at": "2026-01-01T10:00:00", "ends_at": "2026-01-01T11:00:00"},
        {"title": "", "starts_at": _at(1), "ends_at": _at(2)},
        {"title": "x", "starts_at": _at(1), "ends_at": _at(2), "status": "postponed"},
    ):
        bad = await client.post("/v1/apps/thinktank/meetings", headers=user.auth, json=body)
        assert bad.status_code == 422, (body, bad.text)
    await call(client, "DELETE", f"/meetings/{meeting['id']}", user, expect=204)
    await call(client, "GET", f"/meetings/{meeting['id']}", user, expect=404)
