"""The audit log's chain: append-only for every role (the owner included), computed by the
database whatever a caller sends, whole under concurrent writers, and every kind of tampering
found by verification, also after retention pruned its oldest rows."""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime

import psycopg
import pytest
from psycopg.rows import dict_row

from tenantry.audit_log import repository
from tenantry.audit_log.models import chain_hash
from tenantry.kit.context import TenantContext
from tests.support.accounts import Tenant, make_tenant
from tests.support.database import ROLES, audit_log_unguarded
from tests.support.wiring import FIXTURES, services_for


async def record(db, tenant: Tenant, count: int, **fields) -> None:
    audit = services_for(db).audit
    async with db.platform_transaction() as tx:
        for n in range(count):
            await audit.record_in(
                tx,
                tenant_id=tenant.id,
                action=fields.get("action", "test.write"),
                object_type="thing",
                object_id=f"thing-{n}",
                by=FIXTURES,
                metadata=fields.get("metadata", {"n": n}),
                effective_user=fields.get("effective_user"),
            )


async def status(db, tenant: Tenant):
    (found,) = [s async for s in services_for(db).audit.verify(tenant.slug)]
    return found


@pytest.fixture
async def logged(db) -> Tenant:
    """A tenant with a five-row chain: its creation, then four writes."""
    tenant = await make_tenant(db, "thinktank")
    await record(db, tenant, 4)
    return tenant


def superuser(urls):
    return psycopg.connect(urls.admin, row_factory=dict_row)


async def test_the_chain_is_computed_by_the_database(db, logged) -> None:
    found = await status(db, logged)
    assert found.ok, found.problem
    assert (found.rows, found.head_seq) == (5, 5)
    entries = await services_for(db).audit.search(logged.id, limit=10)
    assert [e.seq for e in entries] == [5, 4, 3, 2, 1]
    assert entries[-1].prev_hash == bytes(32)
    for newer, older in itertools.pairwise(entries):
        assert newer.prev_hash == older.hash


async def test_odd_texts_hash_the_same_in_python_and_sql(db) -> None:
    tenant = await make_tenant(db, "thinktank")
    await record(
        db,
        tenant,
        2,
        effective_user="ü:1:~\x1f",
        metadata={"z": "é\u2028", "a": [1.50, None, {"k": "3:abc"}], "bb": 10**20},
    )
    assert (await status(db, tenant)).ok


async def test_a_caller_cannot_choose_seq_or_hash(urls, signer, db, logged) -> None:
    context = signer.sign_tenant(TenantContext(logged.id))
    with psycopg.connect(urls.runtime, row_factory=dict_row) as conn:
        conn.execute("SELECT set_config('tenantry.context', %s, true)", [context])
        row = conn.execute(
            """INSERT INTO tenantry.audit_log
                   (tenant_id, seq, created_at, actor, action, object_type, prev_hash, hash)
               VALUES (%s, 999, '2000-01-01', 'user:x', 'user.forged', 'user', 'x', 'y')
               RETURNING seq, created_at, prev_hash""",
            [logged.id],
        ).fetchone()
        conn.commit()
    assert row["seq"] == 6
    assert row["created_at"].year >= 2025
    assert (await status(db, logged)).ok


@pytest.mark.parametrize("statement", ["UPDATE", "DELETE", "TRUNCATE"])
async def test_runtime_and_platform_cannot_rewrite(urls, signer, logged, statement) -> None:
    sql = {
        "UPDATE": "UPDATE tenantry.audit_log SET actor = 'me'",
        "DELETE": "DELETE FROM tenantry.audit_log",
        "TRUNCATE": "TRUNCATE tenantry.audit_log",
    }[statement]
    for url, token in (
        (urls.runtime, signer.sign_tenant(TenantContext(logged.id))),
        (urls.platform, signer.sign_platform()),
    ):
        with psycopg.connect(url) as conn:
            conn.execute("SELECT set_config('tenantry.context', %s, true)", [token])
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(sql)


@pytest.mark.parametrize("statement", ["UPDATE", "DELETE", "TRUNCATE"])
async def test_even_the_owner_cannot_rewrite(urls, signer, logged, statement) -> None:
    sql = {
        "UPDATE": "UPDATE tenantry.audit_log SET actor = 'me' WHERE tenant_id = %s",
        "DELETE": "DELETE FROM tenantry.audit_log WHERE tenant_id = %s",
        "TRUNCATE": "TRUNCATE tenantry.audit_log",
    }[statement]
    params = [] if statement == "TRUNCATE" else [logged.id]
    with superuser(urls) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
            conn.execute(sql, params)
        conn.rollback()
        conn.execute(f'SET ROLE "{ROLES.owner}"')
        conn.execute("SELECT set_config('tenantry.context', %s, true)", [signer.sign_platform()])
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
            conn.execute(sql, params)


async def test_another_tenant_is_out_of_reach_of_the_runtime_role(urls, signer, db) -> None:
    a, b = await make_tenant(db, "thinktank"), await make_tenant(db, "thinktank")
    with psycopg.connect(urls.runtime, row_factory=dict_row) as conn:
        conn.execute(
            "SELECT set_config('tenantry.context', %s, true)",
            [signer.sign_tenant(TenantContext(a.id, cross_app=True))],
        )
        seen = conn.execute("SELECT DISTINCT tenant_id FROM tenantry.audit_log").fetchall()
        assert [r["tenant_id"] for r in seen] == [a.id]
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT * FROM tenantry.audit_chain_state(%s)", [b.id])
        conn.rollback()
        conn.execute(
            "SELECT set_config('tenantry.context', %s, true)",
            [signer.sign_tenant(TenantContext(a.id))],
        )
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(
                """INSERT INTO tenantry.audit_log (tenant_id, actor, action, object_type)
                   VALUES (%s, 'user:x', 'user.forged', 'user')""",
                [b.id],
            )


async def test_concurrent_writers_of_one_tenant_neither_fork_nor_gap(db) -> None:
    tenant = await make_tenant(db, "thinktank")
    await asyncio.gather(*(record(db, tenant, 10) for _ in range(12)))
    found = await status(db, tenant)
    assert found.ok, found.problem
    assert (found.rows, found.head_seq) == (121, 121)


def tamper(urls, *statements: tuple[str, list]) -> None:
    """What an attacker with database superuser access does: triggers off, rows rewritten."""
    with superuser(urls) as conn, audit_log_unguarded(conn):
        for sql, params in statements:
            conn.execute(sql, params)


def rehash(urls, tenant: Tenant, seq: int) -> tuple[str, list]:
    """The statement that gives row `seq` a hash matching its (edited) content."""
    with superuser(urls) as conn:
        row = conn.execute(
            f"SELECT {repository.COLUMNS} FROM tenantry.audit_log "
            "WHERE tenant_id = %s AND seq = %s",
            [tenant.id, seq],
        ).fetchone()
    return (
        "UPDATE tenantry.audit_log SET hash = %s WHERE tenant_id = %s AND seq = %s",
        [chain_hash(bytes(row["prev_hash"]), row), tenant.id, seq],
    )


WHERE = "WHERE tenant_id = %s AND seq = %s"
INSERT_AFTER_5 = (
    "INSERT INTO tenantry.audit_log (tenant_id, seq, actor, action, object_type, prev_hash, hash) "
    "SELECT tenant_id, 6, actor, action, object_type, hash, hash FROM tenantry.audit_log "
    f"{WHERE}"
)
REWIND_HEAD = (
    "UPDATE tenantry_private.audit_chain_heads h SET seq = 4, hash = a.hash "
    "FROM tenantry.audit_log a WHERE a.tenant_id = h.tenant_id AND a.seq = 4 "
    "AND h.tenant_id = %s"
)


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("edited", "row seq 3 was edited"),
        ("edited and rehashed", "row seq 4 does not follow row seq 3"),
        ("deleted", "row seq 3 is missing (deleted)"),
        ("last deleted", "row seq 5 is missing (deleted)"),
        ("inserted", "row seq 6 is beyond the chain head seq 5 (inserted)"),
        ("reordered", "row seq 2 does not follow row seq 1"),
        ("head rewound", "row seq 5 is beyond the chain head seq 4 (inserted)"),
    ],
)
async def test_each_kind_of_tampering_is_found(urls, db, logged, kind, expected) -> None:
    t = logged.id
    if kind == "edited":
        tamper(urls, (f"UPDATE tenantry.audit_log SET actor = 'cli:eve' {WHERE}", [t, 3]))
    elif kind == "edited and rehashed":
        tamper(urls, (f"UPDATE tenantry.audit_log SET actor = 'cli:eve' {WHERE}", [t, 3]))
        tamper(urls, rehash(urls, logged, 3))
    elif kind == "deleted":
        tamper(urls, (f"DELETE FROM tenantry.audit_log {WHERE}", [t, 3]))
    elif kind == "last deleted":
        tamper(urls, (f"DELETE FROM tenantry.audit_log {WHERE}", [t, 5]))
    elif kind == "inserted":
        tamper(
            urls,
            (INSERT_AFTER_5, [t, 5]),
        )
        tamper(urls, rehash(urls, logged, 6))
    elif kind == "reordered":
        tamper(
            urls,
            (f"UPDATE tenantry.audit_log SET seq = -2 {WHERE}", [t, 2]),
            (f"UPDATE tenantry.audit_log SET seq = 2 {WHERE}", [t, 3]),
            (f"UPDATE tenantry.audit_log SET seq = 3 {WHERE}", [t, -2]),
        )
    elif kind == "head rewound":
        tamper(
            urls,
            (REWIND_HEAD, [t]),
        )
    found = await status(db, logged)
    assert not found.ok
    assert found.problem.startswith(expected), found.problem


async def test_pruning_keeps_verification_green(db, urls) -> None:
    tenant = await make_tenant(db, "thinktank")
    await record(db, tenant, 3)
    await asyncio.sleep(0.01)
    cutoff = datetime.now(UTC)
    await asyncio.sleep(0.01)
    await record(db, tenant, 2)
    audit = services_for(db).audit
    pruned = await audit.prune_before(tenant.id, tenant.slug, cutoff, by=FIXTURES)
    assert (pruned.rows, pruned.through_seq) == (4, 4)
    found = await status(db, tenant)
    assert found.ok, found.problem
    assert (found.checkpoint_seq, found.rows, found.head_seq) == (4, 3, 7)
    entries = await audit.search(tenant.id, limit=10)
    assert entries[0].action == "audit.prune"
    assert entries[0].metadata["rows"] == 4
    # Nothing newer than the cutoff is ever pruned; a second run has nothing to do.
    again = await audit.prune_before(tenant.id, tenant.slug, cutoff, by=FIXTURES)
    assert again.rows == 0
    # The rows behind the checkpoint are gone for good, and tampering is still found.
    tamper(urls, (f"UPDATE tenantry.audit_log SET actor = 'cli:eve' {WHERE}", [tenant.id, 6]))
    assert (await status(db, tenant)).problem.startswith("row seq 6 was edited")


async def test_prune_follows_each_plans_retention(db) -> None:
    tenant = await make_tenant(db, "thinktank")
    await record(db, tenant, 2)
    services = services_for(db)
    days = await services.settings_admin.audit_retention_days(tenant.slug)
    assert days == 90  # the free plan's default
    kept = await services.audit.prune(
        services.settings_admin.audit_retention_days, by=FIXTURES, slug=tenant.slug
    )
    assert [p.rows for p in kept] == [0]
    later = datetime.now(UTC).replace(year=datetime.now(UTC).year + 1)
    gone = await services.audit.prune(
        services.settings_admin.audit_retention_days, by=FIXTURES, slug=tenant.slug, now=later
    )
    assert [p.rows for p in gone] == [3]
    assert (await status(db, tenant)).ok


async def test_many_entries_in_one_statement_chain_in_order(db, urls, signer) -> None:
    tenant = await make_tenant(db, "thinktank")
    audit = services_for(db).audit
    entries = [
        {"action": "test.bulk", "object_type": "thing", "object_id": n, "metadata": {"n": n}}
        for n in range(50)
    ]
    async with db.tenant_transaction(TenantContext(tenant.id)) as tx:
        receipts = await audit.record_many_in(tx, tenant_id=tenant.id, by=FIXTURES, entries=entries)
    assert [r.seq for r in receipts] == list(range(2, 52))
    # A set-based insert in the tenant's own context goes through the same trigger.
    with psycopg.connect(urls.runtime) as conn:
        conn.execute(
            "SELECT set_config('tenantry.context', %s, true)",
            [signer.sign_tenant(TenantContext(tenant.id))],
        )
        conn.execute(
            """INSERT INTO tenantry.audit_log (tenant_id, actor, action, object_type, object_id)
               SELECT %s, 'user:x', 'test.series', 'thing', g::text
                 FROM generate_series(1, 300) g""",
            [tenant.id],
        )
    found = await status(db, tenant)
    assert found.ok, found.problem
    assert found.head_seq == 351
    newest = await audit.search(tenant.id, action="test.bulk", limit=1)
    assert newest[0].object_id == "49"


async def test_a_glance_at_a_long_chain_checks_what_came_since(
    db, urls, logged, monkeypatch
) -> None:
    """The admin page's glance: a chain longer than FULL_WALK_ROWS resumes where this process
    last found it intact; what is appended after that, tampered with, is found at once; an
    edit behind it waits for the full walk, which finds it."""
    glance = services_for(db).audit.glance
    monkeypatch.setattr("tenantry.audit_log.verify.FULL_WALK_ROWS", 2)
    first = await glance(logged.slug)
    assert (first.ok, first.resumed_seq, first.rows) == (True, None, 5)
    await record(db, logged, 3)
    second = await glance(logged.slug)
    assert (second.ok, second.resumed_seq, second.rows, second.head_seq) == (True, 5, 3, 8)
    await record(db, logged, 2)
    tamper(urls, (f"UPDATE tenantry.audit_log SET actor = 'cli:eve' {WHERE}", [logged.id, 9]))
    assert (await glance(logged.slug)).problem.startswith("row seq 9 was edited")


async def test_an_edit_behind_the_glance_waits_for_the_full_walk(
    db, urls, logged, monkeypatch
) -> None:
    glance = services_for(db).audit.glance
    monkeypatch.setattr("tenantry.audit_log.verify.FULL_WALK_ROWS", 2)
    assert (await glance(logged.slug)).ok
    tamper(urls, (f"UPDATE tenantry.audit_log SET actor = 'cli:eve' {WHERE}", [logged.id, 3]))
    assert (await glance(logged.slug)).ok  # behind the resumed point: not looked at
    assert (await status(db, logged)).problem.startswith("row seq 3 was edited")
    # The failed walk forgot the resumed point: the next glance walks everything again.
    again = await glance(logged.slug)
    assert again.resumed_seq is None
    assert again.problem.startswith("row seq 3 was edited")


async def test_a_short_chain_is_always_walked_in_full(db, urls, logged) -> None:
    glance = services_for(db).audit.glance
    assert (await glance(logged.slug)).ok
    tamper(urls, (f"UPDATE tenantry.audit_log SET actor = 'cli:eve' {WHERE}", [logged.id, 2]))
    assert (await glance(logged.slug)).problem.startswith("row seq 2 was edited")
