"""Chats through the API: a user's own sessions, their keyset-paginated list, renaming,
archiving and deleting, and the answers to bad input."""

from __future__ import annotations

import asyncio

from tests.support.accounts import signed_in
from tests.support.workload_conversations import call


async def test_a_chat_is_created_read_renamed_archived_and_deleted(client, tenant) -> None:
    user = await signed_in(client, "thinktank", tenant, "chatter@example.com")
    chat = await call(client, "POST", "/chats", user, {"title": "Trip"}, 201)
    assert chat["title"] == "Trip"
    assert chat["status"] == "active"
    assert chat["message_count"] == 0
    assert chat["personality_id"] is None
    assert chat["last_message_at"] == chat["created_at"]
    assert await call(client, "GET", f"/chats/{chat['id']}", user) == chat

    renamed = await call(client, "PATCH", f"/chats/{chat['id']}", user, {"title": "Trip to Oslo"})
    assert renamed["title"] == "Trip to Oslo"
    assert renamed["updated_at"] > chat["updated_at"]
    archived = await call(client, "PATCH", f"/chats/{chat['id']}", user, {"status": "archived"})
    assert archived["status"] == "archived"
    active = await call(client, "GET", "/chats", user)
    assert chat["id"] not in [c["id"] for c in active["items"]]
    listed = await call(client, "GET", "/chats?status=archived", user)
    assert [c["id"] for c in listed["items"]] == [chat["id"]]

    # An archived chat keeps its messages but takes no new ones.
    refused = await client.post(
        f"/v1/apps/thinktank/chats/{chat['id']}/messages",
        headers=user.auth,
        json={"role": "user", "content": "more"},
    )
    assert refused.status_code == 409, refused.text
    assert refused.json()["code"] == "chat_archived"

    await call(client, "DELETE", f"/chats/{chat['id']}", user, expect=204)
    await call(client, "GET", f"/chats/{chat['id']}", user, expect=404)
    await call(client, "DELETE", f"/chats/{chat['id']}", user, expect=404)


async def test_the_list_walks_every_chat_once_while_new_ones_arrive(client, tenant) -> None:
    """Pages of 7 over 30 chats, with new chats and new messages landing between the pages:
    no chat is repeated, none of those that were there when the walk began is skipped unless a
    message moved it to the top (ahead of the walk), and the new ones are ahead of the walk."""
    user = await signed_in(client, "thinktank", tenant, "pager@example.com")
    first = [
        (await call(client, "POST", "/chats", user, {"title": f"c{i}"}, 201)) for i in range(30)
    ]
    before = [c["id"] for c in reversed(first)]  # newest first
    seen: list[str] = []
    arrived: list[str] = []
    moved: list[str] = []
    touched: list[str] = []  # every chat created or moved during the walk, in order
    cursor = None
    while True:
        query = f"/chats?limit=7{'&cursor=' + cursor if cursor else ''}"
        page = await call(client, "GET", query, user)
        seen += [c["id"] for c in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
        arrived.append((await call(client, "POST", "/chats", user, {"title": "late"}, 201))["id"])
        touched.append(arrived[-1])
        # A message in a chat not seen yet moves it to the top, ahead of the walk.
        unseen = next(c for c in reversed(before) if c not in seen and c not in moved)
        await call(
            client, "POST", f"/chats/{unseen}/messages", user, {"role": "user", "content": "x"}, 201
        )
        moved.append(unseen)
        touched.append(unseen)
    assert len(seen) == len(set(seen)), "a chat came twice"
    assert not set(arrived) & set(seen), "chats created during the walk are ahead of it"
    assert [c for c in before if c not in moved] == [c for c in seen if c not in moved]
    # A fresh walk from the top sees everything, most recent activity first.
    everything = await call(client, "GET", "/chats?limit=200", user)
    ids = [c["id"] for c in everything["items"]]
    assert ids[: len(touched)] == list(reversed(touched))
    assert set(ids) == set(before) | set(arrived)
    stamps = [(c["last_message_at"], c["id"]) for c in everything["items"]]
    assert stamps == sorted(stamps, reverse=True)


async def test_chats_with_the_same_time_are_ordered_by_id(client, tenant) -> None:
    """Ties on `last_message_at` (chats created at once) fall back to the id: pages of one
    still visit each chat exactly once."""
    user = await signed_in(client, "thinktank", tenant, "ties@example.com")
    made = await asyncio.gather(*(call(client, "POST", "/chats", user, {}, 201) for _ in range(6)))
    walked, cursor = [], None
    for _ in range(10):
        page = await call(
            client, "GET", f"/chats?limit=1{'&cursor=' + cursor if cursor else ''}", user
        )
        walked += [c["id"] for c in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(walked) == sorted(c["id"] for c in made)
    assert len(walked) == 6


async def test_bad_input_is_a_problem_with_a_stable_code(client, tenant) -> None:
    user = await signed_in(client, "thinktank", tenant, "sloppy@example.com")
    chat = await call(client, "POST", "/chats", user, {}, 201)
    cases = [
        ("POST", "/chats", {"title": "x" * 201}, 422, "validation_failed"),
        ("POST", "/chats", {"surprise": 1}, 422, "validation_failed"),
        (
            "POST",
            "/chats",
            {"personality_id": "0190d6f0-0000-7000-8000-000000000000"},
            422,
            "unknown_personality",
        ),
        ("PATCH", f"/chats/{chat['id']}", {}, 422, "validation_failed"),
        ("PATCH", f"/chats/{chat['id']}", {"title": None}, 422, "validation_failed"),
        ("PATCH", f"/chats/{chat['id']}", {"status": "deleted"}, 422, "validation_failed"),
        ("GET", "/chats?status=lost", None, 422, "validation_failed"),
        ("GET", "/chats?limit=0", None, 422, "validation_failed"),
        ("GET", "/chats?limit=201", None, 422, "validation_failed"),
        ("GET", "/chats?cursor=not*base64", None, 422, "validation_failed"),
        ("GET", "/chats?cursor=Zm9v", None, 422, "invalid_cursor"),
        ("GET", "/chats/not-a-uuid", None, 422, "validation_failed"),
        ("GET", "/chats/0190d6f0-0000-7000-8000-000000000000", None, 404, "not_found"),
        ("POST", "/chats", {"title": "nul \u0000 byte"}, 422, "invalid_input"),
    ]
    for method, path, body, status, code in cases:
        response = await client.request(
            method, f"/v1/apps/thinktank{path}", headers=user.auth, json=body
        )
        assert response.status_code == status, (method, path, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["code"] == code, (method, path, response.text)
    # A cursor of the active list is not one of the archived list.
    for _ in range(2):
        await call(client, "POST", "/chats", user, {}, 201)
    page = await call(client, "GET", "/chats?limit=1", user)
    wrong = await client.get(
        f"/v1/apps/thinktank/chats?status=archived&cursor={page['next_cursor']}",
        headers=user.auth,
    )
    assert wrong.status_code == 422
    assert wrong.json()["code"] == "invalid_cursor"
