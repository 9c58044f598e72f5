"""Contexts never survive their transaction on pooled connections, under interleaving."""

from __future__ import annotations

import asyncio
import random
from typing import TYPE_CHECKING

import pytest

from tenantry.kit.db import Database

if TYPE_CHECKING:
    from tests.isolation.world import World


async def test_interleaved_tenants_on_a_small_pool(urls, world: World) -> None:
    pairs = list(world.users)
    rng = random.Random(7)
    async with urls.database(min_size=2, max_size=2) as db:

        async def one(i: int) -> None:
            tenant, app = rng.choice(pairs)
            context = world.context(tenant, app, app_user_id=world.users[(tenant, app)][0])
            async with db.tenant_transaction(context) as tx:
                await asyncio.sleep(0)  # let other tasks interleave between statements
                rows = await tx.fetch_all("SELECT tenant_id, app_id, id FROM tenantry.app_users")
                assert {(r["tenant_id"], r["app_id"]) for r in rows} == {(tenant, app)}, i
                assert {r["id"] for r in rows} == set(world.users[(tenant, app)])
                me = await tx.fetch_one("SELECT tenantry.current_app_user_id() AS me")
                assert me is not None
                assert me["me"] == world.users[(tenant, app)][0]
            if i % 10 == 0:
                # Straight after, a bare checkout of the same pool sees nothing at all.
                async with db.runtime_pool.connection() as conn:
                    cur = await conn.execute("SELECT count(*) AS n FROM tenantry.app_users")
                    assert (await cur.fetchone())["n"] == 0
                    await conn.rollback()

        await asyncio.gather(*(one(i) for i in range(300)))


async def test_a_failed_transaction_rolls_back_and_leaves_no_context(
    db: Database, world: World
) -> None:
    context = world.context(world.tenant_a, world.app_1)
    with pytest.raises(RuntimeError, match="boom"):
        async with db.tenant_transaction(context) as tx:
            await tx.execute(
                "UPDATE tenantry.app_users SET display_name = 'changed' WHERE tenant_id = %s",
                [world.tenant_a],
            )
            raise RuntimeError("boom")
    async with db.tenant_transaction(context) as tx:
        row = await tx.fetch_one(
            "SELECT count(*) AS n FROM tenantry.app_users WHERE display_name = 'changed'"
        )
    assert row is not None
    assert row["n"] == 0


async def test_single_message_read_sees_exactly_its_context(db: Database, world: World) -> None:
    query = "SELECT tenant_id, app_id, id FROM tenantry.app_users ORDER BY id"
    for (tenant, app), ids in world.users.items():
        rows = await db.read(world.context(tenant, app), query)
        assert [r["id"] for r in rows] == sorted(ids)
        assert {(r["tenant_id"], r["app_id"]) for r in rows} == {(tenant, app)}
    # No rows is an empty list, and a query with its own parameters keeps them in order.
    tenant, app = world.tenant_a, world.app_1
    none = await db.read(
        world.context(tenant, app),
        "SELECT id FROM tenantry.app_users WHERE id = %s",
        [world.users[(world.tenant_b, app)][0]],
    )
    assert none == []
    # The context is gone after the read: a bare checkout sees nothing.
    async with db.runtime_pool.connection() as conn:
        cur = await conn.execute("SELECT count(*) AS n FROM tenantry.app_users")
        assert (await cur.fetchone())["n"] == 0
        await conn.rollback()


async def test_single_message_read_requirements(db: Database, world: World) -> None:
    tenant, app = world.tenant_a, world.app_1
    mine, theirs = world.users[(tenant, app)][0], world.users[(world.tenant_b, app)][0]
    check = "SELECT 1 FROM tenantry.app_users WHERE id = %s"
    rows = await db.read(
        world.context(tenant, app),
        "SELECT 1 AS one",
        require=[(check, [mine], LookupError("mine"))],
    )
    assert rows == [{"one": 1}]
    # Another tenant's row does not exist for this context, so the requirement fails.
    with pytest.raises(LookupError, match="theirs"):
        await db.read(
            world.context(tenant, app),
            "SELECT 1 AS one",
            require=[(check, [theirs], LookupError("theirs"))],
        )
    # Requirements are evaluated even when the query itself returns nothing.
    with pytest.raises(LookupError):
        await db.read(
            world.context(tenant, app),
            "SELECT 1 WHERE false",
            require=[(check, [theirs], LookupError("x"))],
        )
