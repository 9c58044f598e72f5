"""Placements and tenant moves: a tenant moves into a silo database and back with every row,
its users keep working, the silo keeps row-level security on, and a move stopped at any step
(as a crash would stop it) leaves the tenant whole in the one placement the registry names,
which recovery then finishes or undoes."""

from __future__ import annotations

import asyncio
import json
import os
from typing import TYPE_CHECKING

import fasteners
import psycopg
import pytest
from psycopg import conninfo

from tenantry.kit import migrate, silos
from tenantry.kit.context import TenantContext
from tenantry.kit.db import Database
from tenantry.kit.dsn import as_role
from tenantry.kit.errors import Conflict, NotFound, TenantMoving
from tenantry.kit.placements import REFRESH_SECONDS
from tenantry.placements.moves import MoveFailed, TenantMoves
from tests.placements.conftest import counts
from tests.support.accounts import Tenant, User
from tests.support.cli import tenantry
from tests.support.database import (
    LOCK,
    ROLES,
    RUN,
    SERVER_URL,
    Urls,
    drop_database,
    recreate_database,
)
from tests.support.wiring import FIXTURES

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from fastapi import FastAPI

SILO = "silo-a"
STEPS = (
    "precopied", "frozen", "drained", "copied", "switched", "resident", "departed", "cleaned",
)  # fmt: skip


class Crash(BaseException):
    """What a killed process leaves: the move stops where it is, nothing undone in-process."""


def placement_url(admin: str) -> str:
    params = conninfo.conninfo_to_dict(admin)
    return conninfo.make_conninfo(
        "", **{k: str(v) for k, v in params.items() if k in {"host", "port", "dbname"}}
    )


@pytest.fixture(scope="module")
async def silo(worker_id: str, control_app: FastAPI, urls: Urls) -> AsyncIterator[Urls]:
    """A second database on the same server, migrated and registered as a placement."""
    name = f"{RUN}_silo_{worker_id}"
    with fasteners.InterProcessLock(str(LOCK)):
        admin = recreate_database(os.environ[SERVER_URL], name)
        migrate.upgrade(admin, ROLES)
    silos.clear_catalogs(admin)
    await control_app.state.services.placements.add(SILO, placement_url(admin))
    yield Urls(admin, as_role(admin, ROLES.runtime), as_role(admin, ROLES.platform))
    # Tenants left in the silo are forgotten with it.
    with psycopg.connect(urls.admin) as conn:
        conn.execute("DELETE FROM tenantry_private.tenant_moves")
        conn.execute(
            "UPDATE tenantry.tenants SET placement = 'shared' WHERE placement = %s", [SILO]
        )
        conn.execute("DELETE FROM tenantry.placements WHERE name = %s", [SILO])
    control_app.state.services.db.placements.invalidate("placements")
    drop_database(name)


def residency(urls: Urls, tenant: Tenant) -> tuple[str, str] | None:
    with psycopg.connect(urls.admin) as conn:
        row = conn.execute(
            "SELECT t.placement, coalesce(r.state, 'resident') FROM tenantry.tenants t"
            " LEFT JOIN tenantry_private.tenant_residency r ON r.tenant_id = t.id"
            " WHERE t.id = %s",
            [tenant.id],
        ).fetchone()
    return None if row is None else (row[0], row[1])


async def chats(client, user: User) -> list[tuple[str, str]]:
    listed = await client.get("/v1/apps/thinktank/chats", headers=user.auth)
    assert listed.status_code == 200, listed.text
    return sorted((c["id"], c["title"]) for c in listed.json()["items"])


async def start_chat(client, user: User) -> int:
    personas = await client.get("/v1/apps/thinktank/personalities", headers=user.auth)
    created = await client.post(
        "/v1/apps/thinktank/chats",
        headers=user.auth,
        json={"personality_id": personas.json()["items"][0]["id"]},
    )
    return created.status_code


def total(found: dict[str, int]) -> int:
    return sum(found.values())


async def test_a_tenant_moves_into_a_silo_and_back_whole(
    exported, silo: Urls, urls: Urls, control_app, control_client
) -> None:
    tenant, user = exported
    services = control_app.state.services
    before, listed = counts(urls, tenant), await chats(control_client, user)
    assert total(before) > 30

    report = await services.moves.move(tenant.slug, SILO, by=FIXTURES)
    assert (report.source, report.target) == ("shared", SILO)
    assert report.rows == total(before) + 1  # and the tenant's own row
    # Every row in the silo, none left at home, where the registry says where it lives.
    moved = counts(silo, tenant)
    assert {k: v for k, v in moved.items() if k != "tenantry.audit_log"} == {
        k: v for k, v in before.items() if k != "tenantry.audit_log"
    }
    assert moved["tenantry.audit_log"] == before["tenantry.audit_log"] + 1  # tenant.moved
    assert total(counts(urls, tenant)) == 0
    assert residency(urls, tenant) == (SILO, "departed")
    assert residency(silo, tenant) == (SILO, "resident")
    [chain] = [c async for c in services.audit.verify(tenant.slug)]
    assert chain.ok, chain.problem

    # The same requests keep working, served from the silo; writes land there.
    assert await chats(control_client, user) == listed
    assert await start_chat(control_client, user) == 201
    assert counts(silo, tenant)["ai.chat_sessions"] == before["ai.chat_sessions"] + 1
    assert total(counts(urls, tenant)) == 0

    back = await services.moves.move(tenant.slug, "shared", by=FIXTURES)
    assert back.target == "shared"
    assert total(counts(silo, tenant)) == 0
    assert residency(silo, tenant) is None
    assert residency(urls, tenant) == ("shared", "resident")
    assert len(await chats(control_client, user)) == len(listed) + 1
    [chain] = [c async for c in services.audit.verify(tenant.slug)]
    assert chain.ok, chain.problem


async def test_the_silo_keeps_row_level_security_and_its_own_keys(
    exported, silo: Urls, control_app
) -> None:
    tenant, _ = exported
    services = control_app.state.services
    await services.moves.move(tenant.slug, SILO, by=FIXTURES)
    with psycopg.connect(silo.admin) as conn:
        unprotected = conn.execute(
            "SELECT s.table_name FROM tenantry.scoped_tables s"
            " JOIN pg_class c ON c.oid = format('%I.%I', s.table_schema, s.table_name)::regclass"
            " WHERE NOT (c.relrowsecurity AND c.relforcerowsecurity)"
        ).fetchall()
        home_kid = services.db.signer.kid
        silo_kids = [r[0] for r in conn.execute("SELECT kid FROM tenantry_private.context_keys")]
    assert unprotected == []
    assert home_kid not in silo_kids  # a context signed for one database is not valid in another

    app_id = services.apps.by_slug("thinktank").id
    # As the runtime role in the silo: the home database's signature opens nothing there.
    home_token = services.db.signer.sign_tenant(TenantContext(tenant.id, app_id))
    with psycopg.connect(silo.runtime) as conn:
        conn.execute("SELECT set_config('tenantry.context', %s, false)", [home_token])
        assert conn.execute("SELECT count(*) FROM ai.chat_sessions").fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM tenantry.app_users").fetchone()[0] == 0


async def test_a_stale_router_is_refused_then_learns(
    exported, silo: Urls, urls: Urls, control_app
) -> None:
    """Another process that has not heard of the move yet still routes the tenant home: its
    write meets the old copy, which refuses it (503, retry), and its next attempt goes to the
    silo. The old copy is deleted only after every process has read the registry again."""
    tenant, _ = exported
    app_id = control_app.state.services.apps.by_slug("thinktank").id
    context = TenantContext(tenant.id, app_id)
    update = "UPDATE tenantry.app_users SET display_name = 'Renamed' WHERE tenant_id = %s"
    other = urls.database(min_size=0, max_size=2)
    refused = []

    async def stale_write(step: str) -> None:
        if step == "departed":
            with pytest.raises(TenantMoving):
                async with other.tenant_transaction(context) as tx:
                    await tx.execute(update, [tenant.id])
            refused.append(step)

    async with other:
        assert await other.placement_of(tenant.id) == "shared"  # learned before the move
        moves = TenantMoves(control_app.state.services.db, checkpoint=stale_write)
        report = await moves.move(tenant.slug, SILO, by=FIXTURES)
        assert refused == ["departed"]
        assert report.seconds >= REFRESH_SECONDS
        async with other.tenant_transaction(context) as tx:
            assert (await tx.execute(update, [tenant.id])).rowcount > 0
    with psycopg.connect(silo.admin) as conn:
        renamed = conn.execute(
            "SELECT count(*) FROM tenantry.app_users WHERE tenant_id = %s"
            " AND display_name = 'Renamed'",
            [tenant.id],
        ).fetchone()[0]
    assert renamed > 0


async def test_writes_made_while_the_copy_runs_move_too(
    exported, silo: Urls, urls: Urls, control_app, control_client
) -> None:
    """The tenant is not frozen while its rows are copied: what it writes, changes and
    deletes meanwhile (after the copy's snapshot) is caught up under the freeze."""
    tenant, user = exported
    db = control_app.state.services.db
    app_id = control_app.state.services.apps.by_slug("thinktank").id
    context = TenantContext(tenant.id, app_id)
    seen: dict[str, object] = {}

    async def while_copied(step: str) -> None:
        if step != "precopied":
            return
        seen["write"] = await start_chat(control_client, user)  # a new row, its audit entry
        async with db.tenant_transaction(context) as tx:
            await tx.execute(
                "UPDATE tenantry.app_users SET display_name = 'Renamed meanwhile'"
                " WHERE tenant_id = %s",
                [tenant.id],
            )
            gone = await tx.fetch_one(
                "DELETE FROM ai.chat_sessions WHERE tenant_id = %s AND id = (SELECT id"
                " FROM ai.chat_sessions WHERE tenant_id = %s ORDER BY id LIMIT 1) RETURNING id",
                [tenant.id, tenant.id],
            )
        seen["deleted"] = gone
        seen["names"] = names_in(urls)

    def names_in(where: Urls) -> set[tuple[object, object]]:
        with psycopg.connect(where.admin) as conn:
            return set(conn.execute(
                "SELECT id, display_name FROM tenantry.app_users WHERE tenant_id = %s",
                [tenant.id],
            ).fetchall())  # fmt: skip

    await TenantMoves(db, checkpoint=while_copied).move(tenant.slug, SILO, by=FIXTURES)
    assert seen["write"] == 201
    assert seen["deleted"] is not None
    assert names_in(silo) == seen["names"]
    assert "Renamed meanwhile" in {name for _, name in seen["names"]}
    with psycopg.connect(silo.admin) as conn:
        deleted = conn.execute(
            "SELECT count(*) FROM ai.chat_sessions WHERE id = %s", [seen["deleted"]["id"]]
        ).fetchone()
    assert deleted == (0,)
    assert total(counts(urls, tenant)) == 0
    # The audit chain carried on across the two copies and still verifies where it lives.
    [chain] = [c async for c in control_app.state.services.audit.verify(tenant.slug)]
    assert chain.ok, chain.problem


async def test_a_row_written_in_a_savepoint_during_the_copy_moves_too(
    exported, silo: Urls, control_app
) -> None:
    """A transaction open while the copy takes its snapshot, its write made in a savepoint
    (an id of its own, which the snapshot does not list): the catch-up misses it by `xmin`,
    the verification sees the table differ, and the table is copied whole again."""
    tenant, _ = exported
    db = control_app.state.services.db
    app_id = control_app.state.services.apps.by_slug("thinktank").id
    opened, release = asyncio.Event(), asyncio.Event()

    async def writer() -> None:
        async with db.tenant_transaction(TenantContext(tenant.id, app_id)) as tx:
            conn = await tx.connection()
            async with conn.transaction():  # a savepoint
                await tx.execute(
                    "UPDATE tenantry.app_users SET display_name = 'In a savepoint'"
                    " WHERE tenant_id = %s",
                    [tenant.id],
                )
            opened.set()
            await release.wait()

    async def commit_during_drain(step: str) -> None:
        if step == "frozen":
            release.set()

    task = asyncio.create_task(writer())
    await opened.wait()
    moves = TenantMoves(db, checkpoint=commit_during_drain)
    await moves.move(tenant.slug, SILO, by=FIXTURES)
    await task
    with psycopg.connect(silo.admin) as conn:
        names = {r[0] for r in conn.execute(
            "SELECT display_name FROM tenantry.app_users WHERE tenant_id = %s AND app_id = %s",
            [tenant.id, app_id],
        )}  # fmt: skip
    assert names == {"In a savepoint"}


async def test_a_frozen_tenant_answers_reads_and_refuses_writes(
    exported, silo: Urls, control_app, control_client
) -> None:
    tenant, user = exported
    seen: dict[str, object] = {}

    async def during(step: str) -> None:
        if step == "drained":
            seen["read"] = len(await chats(control_client, user))
            seen["write"] = await start_chat(control_client, user)
            other = await control_client.get("/v1/apps/thinktank/chats", headers=user.auth)
            seen["ok"] = other.status_code

    moves = TenantMoves(control_app.state.services.db, checkpoint=during)
    await moves.move(tenant.slug, SILO, by=FIXTURES)
    assert seen["read"] > 0
    assert seen["write"] == 503
    assert await start_chat(control_client, user) == 201  # once moved


async def test_a_move_waits_for_open_transactions_or_gives_up(
    exported, silo: Urls, urls: Urls, control_app
) -> None:
    """A transaction that began before the freeze is waited for, and its write moves too; one
    that stays open past the limit fails the move, which is undone."""
    tenant, _ = exported
    db = control_app.state.services.db
    app_id = control_app.state.services.apps.by_slug("thinktank").id
    rename = "UPDATE tenantry.app_users SET display_name = %s WHERE tenant_id = %s"
    opened, release = asyncio.Event(), asyncio.Event()

    async def writer(name: str) -> None:
        async with db.tenant_transaction(TenantContext(tenant.id, app_id)) as tx:
            await tx.execute(rename, [name, tenant.id])
            opened.set()
            await release.wait()

    # Gives up: the writer holds its transaction past the drain limit.
    task = asyncio.create_task(writer("Held"))
    await opened.wait()
    with pytest.raises(MoveFailed, match="still open"):
        await TenantMoves(db, drain_seconds=0.5).move(tenant.slug, SILO, by=FIXTURES)
    release.set()
    await task
    assert residency(urls, tenant) == ("shared", "resident")
    assert residency(silo, tenant) is None

    # Waits: the writer commits while the move drains; its write is in the silo.
    opened.clear()
    release.clear()
    task = asyncio.create_task(writer("Waited for"))
    await opened.wait()
    move = asyncio.create_task(TenantMoves(db).move(tenant.slug, SILO, by=FIXTURES))
    await asyncio.sleep(0.5)
    assert not move.done()
    release.set()
    await task
    await move
    with psycopg.connect(silo.admin) as conn:
        names = {r[0] for r in conn.execute(
            "SELECT display_name FROM tenantry.app_users WHERE tenant_id = %s", [tenant.id]
        )}  # fmt: skip
    assert "Waited for" in names
    assert "Held" not in names


@pytest.mark.parametrize("step", STEPS)
async def test_a_move_stopped_at_any_step_leaves_the_tenant_whole_in_one_place(
    step: str, exported, silo: Urls, urls: Urls, control_app, control_client
) -> None:
    tenant, user = exported
    db = control_app.state.services.db
    before = {k: v for k, v in counts(urls, tenant).items() if k != "tenantry.audit_log"}

    async def crash(at: str) -> None:
        if at == step:
            raise Crash(at)

    with pytest.raises(Crash):
        await TenantMoves(db, checkpoint=crash).move(tenant.slug, SILO, by=FIXTURES)
    placement, _ = residency(urls, tenant)
    assert placement == (SILO if STEPS.index(step) >= STEPS.index("switched") else "shared")
    lives = silo if placement == SILO else urls
    assert {k: v for k, v in counts(lives, tenant).items() if k != "tenantry.audit_log"} == before

    # Nothing else may start over it; recovery finishes or undoes it.
    with pytest.raises(Conflict, match="unfinished"):
        await TenantMoves(db).move(tenant.slug, SILO, by=FIXTURES)
    [(slug, outcome)] = await TenantMoves(db).recover()
    assert slug == tenant.slug
    assert outcome == ("finished" if placement == SILO else "undone")
    elsewhere = urls if placement == SILO else silo
    assert total(counts(elsewhere, tenant)) == 0
    assert {k: v for k, v in counts(lives, tenant).items() if k != "tenantry.audit_log"} == before
    assert residency(lives, tenant) == (placement, "resident")
    assert await TenantMoves(db).recover() == []
    # Served, and writable, where it lives.
    assert await chats(control_client, user)
    assert await start_chat(control_client, user) == 201
    [chain] = [c async for c in control_app.state.services.audit.verify(tenant.slug)]
    assert chain.ok, chain.problem


async def test_moves_refuse_what_cannot_be_done(exported, silo: Urls, control_app) -> None:
    tenant, _ = exported
    moves = control_app.state.services.moves
    with pytest.raises(NotFound):
        await moves.move("no-such-tenant", SILO, by=FIXTURES)
    with pytest.raises(NotFound):
        await moves.move(tenant.slug, "nowhere", by=FIXTURES)
    with pytest.raises(Conflict, match="already lives"):
        await moves.move(tenant.slug, "shared", by=FIXTURES)
    placements = control_app.state.services.placements
    with pytest.raises(Conflict):
        await placements.add(SILO, "host=localhost dbname=x")
    await moves.move(tenant.slug, SILO, by=FIXTURES)
    with pytest.raises(Conflict, match="move them first"):
        await placements.remove(SILO)


async def test_the_command_line_adds_a_placement_moves_and_checks_everywhere(
    exported, urls: Urls, worker_id: str
) -> None:
    tenant, _ = exported
    name = f"{RUN}_cli_silo_{worker_id}"
    where = placement_url(conninfo.make_conninfo(urls.admin, dbname=name))
    try:
        added = tenantry(urls, "placements", "add", "cli-silo", where)
        assert added.returncode == 0, added.stderr
        listed = tenantry(urls, "placements", "list", "--json")
        assert {"placement": "cli-silo", "url": where, "tenants": 0} in json.loads(listed.stdout)

        moved = tenantry(urls, "tenants", "move", tenant.slug, "--to", "cli-silo")
        assert moved.returncode == 0, moved.stderr
        assert f"{tenant.slug} moved shared → cli-silo" in moved.stdout
        for check in (
            ("audit-db", "--all"),
            ("doctor", "--skip-drift"),
            ("db", "upgrade", "--all"),
        ):
            done = tenantry(urls, *check)
            assert done.returncode == 0, (check, done.stdout, done.stderr)
        assert "catalogs copied to" in tenantry(urls, "db", "upgrade", "--all").stdout

        # One readable line and exit 1 for what cannot be done.
        for refused, message in (
            (("placements", "remove", "cli-silo"), "move them first"),
            (("tenants", "move", tenant.slug, "--to", "cli-silo"), "already lives in"),
            (("tenants", "move", tenant.slug, "--to", "nowhere"), "no placement"),
            (("placements", "add", "x", "postgresql://u:pw@localhost/x"), "remove password"),
        ):
            done = tenantry(urls, *refused)
            assert done.returncode == 1
            assert message in done.stderr
            assert "Traceback" not in done.stderr

        back = tenantry(urls, "tenants", "move", tenant.slug, "--to", "shared")
        assert back.returncode == 0, back.stderr
        assert tenantry(urls, "placements", "remove", "cli-silo").returncode == 0
        assert tenantry(urls, "placements", "recover").stdout.strip() == "no unfinished moves"
    finally:
        with psycopg.connect(urls.admin) as conn:
            conn.execute("DELETE FROM tenantry.placements WHERE name = 'cli-silo'")
        drop_database(name)


async def test_a_long_transaction_renews_its_context(urls: Urls, exported) -> None:
    """A context expires; work that outlasts it (a move, an export) signs a fresh one, or its
    later statements would see no rows and write none."""
    tenant, _ = exported
    query = "SELECT count(*) AS n FROM tenantry.app_users WHERE tenant_id = %s"
    short = Database(urls.runtime, urls.platform, context_ttl_seconds=1, min_size=0, max_size=1)
    async with short, short.platform_transaction() as tx:
        assert (await tx.fetch_one(query, [tenant.id]))["n"] > 0
        await asyncio.sleep(2.1)
        assert (await tx.fetch_one(query, [tenant.id]))["n"] == 0  # expired: nothing
        await tx.renew(1.0)
        assert (await tx.fetch_one(query, [tenant.id]))["n"] > 0
