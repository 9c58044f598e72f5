"""The demo conversations: seeded for acme's and globex's thinktank users, once however often
the seeder runs, and readable through the API as the demo users."""

from __future__ import annotations

from tenantry.demo import DEMO_PASSWORD
from tenantry.demo import seed_demo as seed_platform_demo
from tenantry.workloads.conversations.demo import CHATS, PERSONALITIES, seed_demo
from tests.support.accounts import Tenant, User, login
from tests.support.wiring import services_for


async def test_demo_users_get_chats_once(client, db) -> None:
    await seed_platform_demo(services_for(db))
    first = await seed_demo(db)
    again = await seed_demo(db)
    if first["chats"]:  # a fresh database: everything is new the first time
        assert first["chats"] == 4 * len(CHATS)
        assert first["personalities"] == 2 * len(PERSONALITIES)
        assert first["widgets"] == 2
    assert set(again.values()) == {0}
    acme = await services_for(db).tenants.by_slug("acme")
    alice = User("thinktank", Tenant(acme.id, "acme"), "alice@example.com", DEMO_PASSWORD)
    assert (await login(client, alice)).status_code == 200
    listed = await client.get("/v1/apps/thinktank/chats", headers=alice.auth)
    assert sorted(c["title"] for c in listed.json()["items"]) == sorted(c[0] for c in CHATS)
    chat = next(c for c in listed.json()["items"] if c["title"] == CHATS[0][0])
    messages = await client.get(
        f"/v1/apps/thinktank/chats/{chat['id']}/messages", headers=alice.auth
    )
    stored = messages.json()["items"]
    assert [(m["role"], m["content"]) for m in stored] == list(CHATS[0][2])
    assert stored[-1]["pieces"] > 1
    assert all(m["status"] == "complete" for m in stored)
    memories = await client.get("/v1/apps/thinktank/me/memories", headers=alice.auth)
    assert len(memories.json()["items"]) == 2
