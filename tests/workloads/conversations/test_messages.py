"""Messages through the API: appends that number a chat's messages without gaps or collisions
under concurrency, streamed pieces applied once and in order, pages by sequence number, and
feedback on a message."""

from __future__ import annotations

import asyncio
import random
import uuid

from tests.support.accounts import signed_in
from tests.support.workload_conversations import call


async def _chat(client, user) -> tuple[dict, str]:
    chat = await call(client, "POST", "/chats", user, {"title": "t"}, 201)
    return chat, f"/chats/{chat['id']}/messages"


async def test_appends_number_the_messages_and_move_the_chat(client, tenant) -> None:
    user = await signed_in(client, "thinktank", tenant, "talker@example.com")
    chat, messages = await _chat(client, user)
    said = await call(client, "POST", messages, user, {"role": "user", "content": "Hello"}, 201)
    assert (said["sequence"], said["status"], said["pieces"]) == (1, "complete", 0)
    assert said["completed_at"] == said["created_at"]
    answer = await call(
        client,
        "POST",
        messages,
        user,
        {"role": "assistant", "content": "Hi!", "prompt_tokens": 12, "completion_tokens": 3},
        201,
    )
    assert answer["sequence"] == 2
    assert (answer["prompt_tokens"], answer["completion_tokens"]) == (12, 3)
    after = await call(client, "GET", f"/chats/{chat['id']}", user)
    assert after["message_count"] == 2
    assert after["last_message_at"] == answer["created_at"] > chat["last_message_at"]
    page = await call(client, "GET", messages, user)
    assert [m["content"] for m in page["items"]] == ["Hello", "Hi!"]
    assert page["next_after"] is None


async def test_concurrent_appends_never_share_a_sequence_number(client, tenant) -> None:
    user = await signed_in(client, "thinktank", tenant, "crowd@example.com")
    chat, messages = await _chat(client, user)
    appended = await asyncio.gather(
        *(
            call(client, "POST", messages, user, {"role": "user", "content": f"m{i}"}, 201)
            for i in range(40)
        )
    )
    assert sorted(m["sequence"] for m in appended) == list(range(1, 41))
    stored = await call(client, "GET", f"{messages}?limit=200", user)
    assert [m["sequence"] for m in stored["items"]] == list(range(1, 41))
    assert sorted(m["content"] for m in stored["items"]) == sorted(f"m{i}" for i in range(40))
    # Each append takes the chat's lock in turn: times follow the sequence, never go back.
    times = [m["created_at"] for m in stored["items"]]
    assert times == sorted(times)
    after = await call(client, "GET", f"/chats/{chat['id']}", user)
    assert after["message_count"] == 40
    assert after["last_message_at"] == times[-1]


async def test_a_streamed_message_takes_each_piece_once_and_in_order(client, tenant) -> None:
    user = await signed_in(client, "thinktank", tenant, "streamer@example.com")
    _, messages = await _chat(client, user)
    started = await call(
        client, "POST", messages, user, {"role": "assistant", "status": "streaming"}, 201
    )
    assert (started["status"], started["content"], started["completed_at"]) == (
        "streaming",
        "",
        None,
    )
    pieces = f"{messages}/{started['id']}/pieces"
    await call(client, "POST", pieces, user, {"index": 0, "content": "The "})
    after_one = await call(client, "POST", pieces, user, {"index": 1, "content": "answer "})
    assert (after_one["content"], after_one["pieces"]) == ("The answer ", 2)
    # A retried piece is acknowledged, not applied again.
    again = await call(client, "POST", pieces, user, {"index": 1, "content": "answer "})
    assert again == after_one
    # A piece past the next expected one: an earlier one is missing.
    early = await client.post(
        f"/v1/apps/thinktank{pieces}", headers=user.auth, json={"index": 3, "content": "!"}
    )
    assert early.status_code == 409
    assert early.json()["code"] == "piece_out_of_order"
    # Completing with fewer pieces than the producer sent is refused.
    short = await client.post(
        f"/v1/apps/thinktank{messages}/{started['id']}/complete",
        headers=user.auth,
        json={"pieces": 3},
    )
    assert short.status_code == 409
    assert short.json()["code"] == "pieces_missing"
    await call(client, "POST", pieces, user, {"index": 2, "content": "is 42."})
    done = await call(
        client,
        "POST",
        f"{messages}/{started['id']}/complete",
        user,
        {"pieces": 3, "prompt_tokens": 20, "completion_tokens": 5},
    )
    assert (done["status"], done["content"], done["pieces"]) == ("complete", "The answer is 42.", 3)
    assert done["completed_at"] is not None
    assert (done["prompt_tokens"], done["completion_tokens"]) == (20, 5)
    # Completing again answers the message as it is; a late retry of a piece too.
    assert await call(client, "POST", f"{messages}/{started['id']}/complete", user, {}) == done
    assert await call(client, "POST", pieces, user, {"index": 0, "content": "The "}) == done
    late = await client.post(
        f"/v1/apps/thinktank{pieces}", headers=user.auth, json={"index": 3, "content": "?"}
    )
    assert late.status_code == 409
    assert late.json()["code"] == "message_complete"


async def test_pieces_delivered_several_times_at_once_are_applied_once(client, tenant) -> None:
    """Each piece is sent three times concurrently (a producer retrying through a flaky
    network), beside appends of other messages to the same chat."""
    user = await signed_in(client, "thinktank", tenant, "flaky@example.com")
    chat, messages = await _chat(client, user)
    streams = [
        await call(
            client, "POST", messages, user, {"role": "assistant", "status": "streaming"}, 201
        )
        for _ in range(2)
    ]
    words = [f"w{i} " for i in range(15)]

    async def deliver(message_id: str, index: int) -> None:
        path = f"/v1/apps/thinktank{messages}/{message_id}/pieces"
        body = {"index": index, "content": words[index]}
        answers = await asyncio.gather(
            *(client.post(path, headers=user.auth, json=body) for _ in range(3))
        )
        assert all(a.status_code == 200 for a in answers), [a.text for a in answers]

    async def produce(message_id: str) -> None:
        for index in range(len(words)):
            await deliver(message_id, index)

    async def chatter() -> None:
        for i in range(10):
            await call(client, "POST", messages, user, {"role": "user", "content": f"u{i}"}, 201)

    await asyncio.gather(*(produce(s["id"]) for s in streams), chatter())
    for stream in streams:
        done = await call(
            client, "POST", f"{messages}/{stream['id']}/complete", user, {"pieces": len(words)}
        )
        assert done["content"] == "".join(words)
    stored = await call(client, "GET", f"{messages}?limit=200", user)
    assert [m["sequence"] for m in stored["items"]] == list(range(1, 13))
    assert (await call(client, "GET", f"/chats/{chat['id']}", user))["message_count"] == 12


async def test_a_retried_append_with_its_id_is_stored_once(client, tenant) -> None:
    user = await signed_in(client, "thinktank", tenant, "retry@example.com")
    chat, messages = await _chat(client, user)
    body = {"id": str(uuid.uuid4()), "role": "user", "content": "once"}
    first = await call(client, "POST", messages, user, body, 201)
    again = await call(client, "POST", messages, user, body, 200)
    assert again == first
    assert (await call(client, "GET", f"/chats/{chat['id']}", user))["message_count"] == 1
    # The id of a message of another chat is not this chat's to reuse.
    _, other = await _chat(client, user)
    taken = await client.post(f"/v1/apps/thinktank{other}", headers=user.auth, json=body)
    assert taken.status_code == 409, taken.text


async def test_pages_by_sequence_see_each_message_once_while_more_arrive(client, tenant) -> None:
    user = await signed_in(client, "thinktank", tenant, "reader@example.com")
    _, messages = await _chat(client, user)
    for i in range(25):
        await call(client, "POST", messages, user, {"role": "user", "content": f"m{i}"}, 201)
    seen, after, sizes = [], 0, []
    while True:
        page = await call(client, "GET", f"{messages}?limit=10&after={after}", user)
        seen += [m["sequence"] for m in page["items"]]
        sizes.append(len(page["items"]))
        if page["next_after"] is None:
            break
        after = page["next_after"]
        if len(seen) < 25:  # new messages land at the end while the reader pages
            await call(client, "POST", messages, user, {"role": "user", "content": "new"}, 201)
    assert seen == list(range(1, len(seen) + 1))
    assert len(seen) == 27
    assert sizes[0] == 10


async def test_a_message_stays_within_its_limit(client, tenant) -> None:
    user = await signed_in(client, "thinktank", tenant, "verbose@example.com")
    _, messages = await _chat(client, user)
    too_long = await client.post(
        f"/v1/apps/thinktank{messages}",
        headers=user.auth,
        json={"role": "user", "content": "x" * 200_001},
    )
    assert too_long.status_code == 422
    started = await call(
        client,
        "POST",
        messages,
        user,
        {"role": "assistant", "status": "streaming", "content": "y" * 199_999},
        201,
    )
    pieces = f"/v1/apps/thinktank{messages}/{started['id']}/pieces"
    over = await client.post(pieces, headers=user.auth, json={"index": 0, "content": "zz"})
    assert over.status_code == 422
    assert over.json()["code"] == "message_too_long"
    fits = await client.post(pieces, headers=user.auth, json={"index": 0, "content": "z"})
    assert fits.status_code == 200
    assert len(fits.json()["content"]) == 200_000


async def test_bad_message_input_is_refused(client, tenant) -> None:
    user = await signed_in(client, "thinktank", tenant, "badmsg@example.com")
    _, messages = await _chat(client, user)
    started = await call(
        client, "POST", messages, user, {"role": "assistant", "status": "streaming"}, 201
    )
    base = f"{messages}/{started['id']}"
    cases = [
        ("POST", messages, {"role": "robot", "content": "x"}),
        ("POST", messages, {"role": "user", "status": "done"}),
        ("POST", messages, {"role": "user", "prompt_tokens": -1}),
        ("POST", f"{base}/pieces", {"index": -1, "content": "x"}),
        ("POST", f"{base}/pieces", {"index": 0, "content": ""}),
        ("POST", f"{base}/complete", {"pieces": -2}),
        ("GET", f"{messages}?after=-1", None),
        ("PUT", f"{base}/feedback", {"rating": 0}),
        ("PUT", f"{base}/feedback", {"rating": 6}),
    ]
    for method, path, body in cases:
        response = await client.request(
            method, f"/v1/apps/thinktank{path}", headers=user.auth, json=body
        )
        assert response.status_code == 422, (method, path, response.text)
        assert response.json()["code"] == "validation_failed"
    missing = str(uuid.uuid4())
    for method, path, body in (
        ("POST", f"{messages}/{missing}/pieces", {"index": 0, "content": "x"}),
        ("POST", f"{messages}/{missing}/complete", {}),
        ("PUT", f"{messages}/{missing}/feedback", {"rating": 3}),
        ("GET", f"/chats/{missing}/messages", None),
        ("POST", f"/chats/{missing}/messages", {"role": "user", "content": "x"}),
    ):
        response = await client.request(
            method, f"/v1/apps/thinktank{path}", headers=user.auth, json=body
        )
        assert response.status_code == 404, (method, path, response.text)


async def test_feedback_is_one_per_message_and_user(client, tenant) -> None:
    user = await signed_in(client, "thinktank", tenant, "critic@example.com")
    _, messages = await _chat(client, user)
    answer = await call(client, "POST", messages, user, {"role": "assistant", "content": "42"}, 201)
    feedback = f"{messages}/{answer['id']}/feedback"
    await call(client, "GET", feedback, user, expect=404)
    first = await call(client, "PUT", feedback, user, {"rating": 2, "comment": "vague"})
    assert (first["rating"], first["comment"], first["message_id"]) == (2, "vague", answer["id"])
    changed = await call(client, "PUT", feedback, user, {"rating": 5})
    assert (changed["rating"], changed["comment"]) == (5, "")
    assert changed["created_at"] == first["created_at"]
    assert await call(client, "GET", feedback, user) == changed
    # Concurrent ratings of one message end as one row.
    ratings = random.sample(range(1, 6), 5)
    await asyncio.gather(*(call(client, "PUT", feedback, user, {"rating": r}) for r in ratings))
    assert (await call(client, "GET", feedback, user))["rating"] in ratings
    await call(client, "DELETE", feedback, user, expect=204)
    await call(client, "DELETE", feedback, user, expect=404)
    # The message must be in the chat the path names.
    _, other = await _chat(client, user)
    await call(client, "PUT", f"{other}/{answer['id']}/feedback", user, {"rating": 1}, 404)
