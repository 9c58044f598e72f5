"""The events table is partitioned by month: rows land in their month, partitions are reached
only through the parent, `audit-db` watches them, and retention drops whole months."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

import psycopg
import pytest
from psycopg.rows import dict_row

from tenantry.isolation.audit import run_checks
from tenantry.kit.context import TenantContext
from tenantry.kit.errors import InvalidInput
from tenantry.kit.ids import uuid7
from tests.support.database import ROLES

if TYPE_CHECKING:
    from tests.events.conftest import World
    from tests.support.database import Urls


def _month(offset: int) -> datetime:
    now = datetime.now(UTC)
    index = now.year * 12 + now.month - 1 + offset
    return datetime(index // 12, index % 12 + 1, 1, tzinfo=UTC)


def _partition(offset: int) -> str:
    return f"events_p{_month(offset):%Y%m}"


async def _insert_at(world: World, created_at: datetime) -> str:
    """An event stored at a given time (the platform path), and the partition it landed in."""
    async with world.services.db.platform_transaction() as tx:
        row = await tx.fetch_one(
            """INSERT INTO tenantry.events (tenant_id, app_id, id, type, payload, created_at)
               VALUES (%s, %s, %s, %s, '{}', %s) RETURNING tableoid::regclass::text AS part""",
            [world.tenant_id, world.app_id, uuid7(), world.type("order.paid"), created_at],
        )
    assert row is not None
    return str(row["part"])


async def test_rows_land_in_their_month(world: World) -> None:
    assert {_partition(0), _partition(1), _partition(2)} <= set(await world.events.partitions())
    event = await world.events.publish(world.tenant_id, world.app_id, world.type("order.paid"), {})
    async with world.services.db.platform_transaction() as tx:
        row = await tx.fetch_one(
            "SELECT tableoid::regclass::text AS part FROM tenantry.events WHERE id = %s",
            [event.id],
        )
    assert row == {"part": _partition(0)}
    assert await _insert_at(world, _month(2)) == _partition(2)


async def test_a_partition_is_refused_to_the_served_roles(world: World, urls: Urls) -> None:
    await world.events.publish(world.tenant_id, world.app_id, world.type("order.paid"), {})
    part = _partition(0)
    for url in (urls.runtime, urls.platform):
        with psycopg.connect(url) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(f"SELECT count(*) FROM tenantry.{part}")
    # Through the parent, the app's own context sees its rows.
    context = TenantContext(world.tenant_id, world.app_id)
    async with world.services.db.tenant_transaction(context) as tx:
        row = await tx.fetch_one("SELECT count(*) AS n FROM tenantry.events")
    assert row == {"n": 1}
    # Another app's context of the same tenant sees none of them.
    other = TenantContext(world.tenant_id, world.consumer_app_id)
    async with world.services.db.tenant_transaction(other) as tx:
        row = await tx.fetch_one("SELECT count(*) AS n FROM tenantry.events")
    assert row == {"n": 0}


def test_audit_db_flags_a_partition_without_row_level_security(urls: Urls) -> None:
    part = f"tenantry.{_partition(1)}"
    with psycopg.connect(urls.admin, row_factory=dict_row) as conn:
        conn.execute(f'SET ROLE "{ROLES.owner}"')
        assert not [f for f in run_checks(conn, ROLES) if f.object.startswith(part)]
        conn.execute(f"ALTER TABLE {part} DISABLE ROW LEVEL SECURITY")
        conn.execute(f"ALTER TABLE {part} NO FORCE ROW LEVEL SECURITY")
        conn.execute(f'GRANT SELECT ON {part} TO "{ROLES.runtime}"')
        found = {f.check for f in run_checks(conn, ROLES) if f.object == part}
        conn.rollback()
    assert {"rls_disabled", "rls_not_forced", "partition_reachable"} <= found


async def test_prune_drops_whole_old_months(world: World) -> None:
    created = await world.events.ensure_partitions(months_ahead=0, months_back=6)
    assert _partition(-6) in created or _partition(-6) in await world.events.partitions()
    old = await _insert_at(world, _month(-5))
    assert old == _partition(-5)
    recent = await world.events.publish(world.tenant_id, world.app_id, world.type("order.paid"), {})
    dropped = await world.events.prune(older_than_months=3)
    assert {_partition(-6), _partition(-5), _partition(-4)} <= set(dropped)
    assert _partition(-3) not in dropped
    partitions = await world.events.partitions()
    assert _partition(-5) not in partitions
    assert {_partition(-3), _partition(0)} <= set(partitions)
    page = await world.events.stream(world.tenant_id)
    assert [e.id for e in page] == [recent.id]
    with pytest.raises(InvalidInput):
        await world.events.prune(older_than_months=0)
