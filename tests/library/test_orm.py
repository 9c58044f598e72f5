"""`ContextSessions`: SQLAlchemy async sessions whose every transaction runs in one signed
context, on the runtime role, leaving nothing behind on the pooled connection."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from tenantry.kit.context import TenantContext
from tenantry.library.orm import ContextSessions
from tests.support.accounts import make_tenant
from tests.support.library import Item
from tests.support.wiring import services_for

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from tenantry.kit.db import Database


@pytest.fixture
async def sessions(library_db: Database) -> AsyncIterator[ContextSessions]:
    # One connection, so every session below reuses the one the previous one returned.
    orm = ContextSessions(library_db, pool_size=1, max_overflow=0)
    yield orm
    await orm.dispose()


@pytest.fixture
async def contexts(library_db: Database) -> tuple[TenantContext, TenantContext]:
    thinktank = services_for(library_db).apps.by_slug("thinktank").id
    a = await make_tenant(library_db, "thinktank")
    b = await make_tenant(library_db, "thinktank")
    return TenantContext(a.id, thinktank), TenantContext(b.id, thinktank)


def item(context: TenantContext, label: str) -> Item:
    assert context.app_id is not None
    return Item(tenant_id=context.tenant_id, app_id=context.app_id, label=label)


async def labels(sessions: ContextSessions, context: TenantContext) -> list[str]:
    async with sessions.session(context) as session:
        found = await session.scalars(select(Item.label).order_by(Item.label))
        return list(found)


async def test_each_context_sees_only_its_rows(
    sessions: ContextSessions, contexts: tuple[TenantContext, TenantContext]
) -> None:
    a, b = contexts
    async with sessions.session(a) as session:
        session.add_all([item(a, "a1"), item(a, "a2")])
    async with sessions.session(b) as session:
        session.add(item(b, "b1"))
    assert await labels(sessions, a) == ["a1", "a2"]
    assert await labels(sessions, b) == ["b1"]
    # Asking for B's rows by tenant in A's context finds nothing.
    async with sessions.session(a) as session:
        count = await session.scalar(
            select(func.count()).select_from(Item).where(Item.tenant_id == b.tenant_id)
        )
    assert count == 0


async def test_a_row_for_another_tenant_is_refused(
    sessions: ContextSessions, contexts: tuple[TenantContext, TenantContext]
) -> None:
    a, b = contexts
    with pytest.raises(DBAPIError) as refused:
        async with sessions.session(a) as session:
            session.add(item(b, "smuggled"))
    assert refused.value.orig is not None
    assert getattr(refused.value.orig, "sqlstate", None) == "42501"
    assert await labels(sessions, b) == []


async def test_a_commit_inside_keeps_the_context_and_the_work_after_it(
    sessions: ContextSessions, contexts: tuple[TenantContext, TenantContext]
) -> None:
    a, _ = contexts
    async with sessions.session(a) as session:
        session.add(item(a, "before"))
        await session.commit()
        # A new transaction: the context is applied again before its first statement.
        session.add(item(a, "after"))
        await session.flush()
        seen = await session.scalars(select(Item.label).order_by(Item.label))
        assert list(seen) == ["after", "before"]
    # What followed the inner commit was committed when the block ended.
    assert await labels(sessions, a) == ["after", "before"]


async def test_a_block_that_raises_writes_nothing(
    sessions: ContextSessions, contexts: tuple[TenantContext, TenantContext]
) -> None:
    a, _ = contexts
    with pytest.raises(RuntimeError, match="changed my mind"):
        async with sessions.session(a) as session:
            session.add(item(a, "undone"))
            await session.flush()
            raise RuntimeError("changed my mind")
    assert await labels(sessions, a) == []


async def test_the_pooled_connection_keeps_no_context(
    sessions: ContextSessions, contexts: tuple[TenantContext, TenantContext]
) -> None:
    a, _ = contexts
    async with sessions.session(a) as session:
        used = await session.scalar(text("SELECT pg_backend_pid()"))
        # SQL inside the transaction stores the context at session level, which its commit
        # would keep.
        await session.execute(
            text(
                "SELECT set_config('tenantry.context', current_setting('tenantry.context'), false)"
            )
        )
        session.add(item(a, "visible"))
    async with sessions.engine.connect() as bare:
        pid = await bare.scalar(text("SELECT pg_backend_pid()"))
        setting = await bare.scalar(text("SELECT current_setting('tenantry.context', true)"))
        visible = await bare.scalar(text("SELECT count(*) FROM libtest.items"))
    assert pid == used  # the very connection the session had
    assert setting in {None, ""}
    assert visible == 0
    assert await labels(sessions, a) == ["visible"]


async def test_a_read_only_context_refuses_writes(
    sessions: ContextSessions, contexts: tuple[TenantContext, TenantContext]
) -> None:
    a, _ = contexts
    async with sessions.session(a) as session:
        session.add(item(a, "kept"))
    reader = TenantContext(a.tenant_id, a.app_id, read_only=True)
    with pytest.raises(DBAPIError) as refused:
        async with sessions.session(reader) as session:
            session.add(item(a, "written by a reader"))
    assert getattr(refused.value.orig, "sqlstate", None) == "25006"  # read-only transaction
    assert await labels(sessions, reader) == ["kept"]
