"""The demo knowledge base: seeded for acme's and globex's thinktank, once however often the
seeder runs, and searchable through the API as a demo user."""

from __future__ import annotations

import time

from tenantry.demo import DEMO_PASSWORD
from tenantry.demo import seed_demo as seed_platform_demo
from tenantry.workloads.knowledge.demo import DOCUMENTS, seed_demo
from tests.support.accounts import Tenant, User, login
from tests.support.wiring import services_for
from tests.support.workload_knowledge import search


async def test_demo_tenants_get_a_searchable_knowledge_base_once(client, db) -> None:
    await seed_platform_demo(services_for(db))
    started = time.perf_counter()
    first = await seed_demo(db)
    seconds = time.perf_counter() - started
    again = await seed_demo(db)
    if first["knowledge documents"]:  # a fresh database: everything is new the first time
        assert first["knowledge documents"] == 2 * len(DOCUMENTS)
        assert first["knowledge chunks"] >= 2 * len(DOCUMENTS)
        assert seconds < 10  # part of `make up`, which must stay quick
    assert set(again.values()) == {0}
    acme = await services_for(db).tenants.by_slug("acme")
    alice = User("thinktank", Tenant(acme.id, "acme"), "alice@example.com", DEMO_PASSWORD)
    assert (await login(client, alice)).status_code == 200
    listed = await client.get("/v1/apps/thinktank/knowledge/documents", headers=alice.auth)
    assert sorted(d["title"] for d in listed.json()["items"]) == sorted(d.title for d in DOCUMENTS)
    found = await search(client, alice, "what happens when my laptop is lost", mode="fulltext")
    assert found["hits"][0]["title"] == "Laptops and accounts"
