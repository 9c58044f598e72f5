"""SQLAlchemy 2 (async) sessions bound to a signed tenant context, for teams that use the ORM.

    sessions = ContextSessions(db)          # an open tenantry Database (or shared_sessions(db))
    async with sessions.session(principal.context) as session:
        session.add(Note(tenant_id=..., app_id=..., body="..."))
    # committed here (whatever is open, also after a commit() inside); rolled back if the
    # block raised

Every transaction the session begins carries the context (and the tenant's plan's statement
timeout, whose cancellations are `StatementTimeout`, a 503), applied with the transaction-local
`set_config(..., true)` before its first statement (so a `commit()` inside the block and the
work after it stay in the same tenant and app), and the context is cleared whenever a
connection goes back to the pool, as Tenantry's own transactions do.

In a route, `tenantry.library.dependencies.TenantSession(*scopes)` yields the verified principal
and a session in its context, as `TenantTransaction` does with a transaction.
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import psycopg
from sqlalchemy import event
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine

from tenantry.kit.migrate import sqlalchemy_url
from tenantry.kit.tenant_limits import setting_context, timed_out

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from sqlalchemy.engine import Connection
    from sqlalchemy.orm import Session, SessionTransaction
    from sqlalchemy.pool import PoolResetState

    from tenantry.kit.context import TenantContext
    from tenantry.kit.db import Database


class ContextSessions:
    """Sessions on the runtime role's connections (the `Database`'s runtime URL)."""

    def __init__(self, database: Database, *, pool_size: int = 5, **engine_options: Any) -> None:  # noqa: ANN401 - passed through to SQLAlchemy
        self._database = database
        url = sqlalchemy_url(database.runtime_url)
        if not database.prepared_statements:
            engine_options.setdefault("connect_args", {}).setdefault("prepare_threshold", None)
        self.engine: AsyncEngine = create_async_engine(url, pool_size=pool_size, **engine_options)
        event.listen(self.engine.sync_engine, "reset", _forget_context)

    @asynccontextmanager
    async def session(self, context: TenantContext) -> AsyncIterator[AsyncSession]:
        """A session whose transactions all run in `context`; committed when the block ends."""
        signer = self._database.signer
        timeout_ms = self._database.statement_timeout_ms(context.tenant_id)
        forwarded = self._database.distributed

        def apply(
            _session: Session, transaction: SessionTransaction, connection: Connection
        ) -> None:
            if transaction.nested:
                return
            token = signer.sign_tenant(context)
            for statement, values in setting_context(token, timeout_ms, forwarded):
                text = statement if isinstance(statement, str) else statement.as_string()
                connection.exec_driver_sql(text, tuple(values))
            if context.read_only:
                connection.exec_driver_sql("SET TRANSACTION READ ONLY")

        async with AsyncSession(self.engine, expire_on_commit=False) as session:
            event.listen(session.sync_session, "after_begin", apply)
            try:
                yield session
                # Whatever transaction is open now: after a `commit()` inside the block, the
                # work that followed it is in a new one, which must not be dropped at close.
                await session.commit()
            except DBAPIError as exc:
                await session.rollback()
                if isinstance(exc.orig, psycopg.errors.QueryCanceled):
                    raise timed_out() from exc  # the plan's statement timeout, a 503
                raise
            except BaseException:
                await session.rollback()
                raise

    async def dispose(self) -> None:
        await self.engine.dispose()


_SHARED: dict[int, ContextSessions] = {}


def shared_sessions(database: Database) -> ContextSessions:
    """One `ContextSessions` per open `Database`, made on first use and disposed when the
    database closes (what `TenantSession` routes share)."""
    key = id(database)
    sessions = _SHARED.get(key)
    if sessions is None:
        sessions = _SHARED[key] = ContextSessions(database)

        async def dispose() -> None:
            del _SHARED[key]
            await sessions.dispose()

        database.close_callbacks.append(dispose)
    return sessions


def _forget_context(dbapi_connection: Any, _record: Any, state: PoolResetState) -> None:  # noqa: ANN401 - SQLAlchemy's pool event signature
    """A statement inside a transaction could have stored a context at session level
    (`set_config(..., false)`), which its commit kept: clear it before the connection goes
    back to the pool. The pool's own rollback comes after this event, and would undo a RESET
    left in an open transaction, so the RESET is committed here."""
    if state.terminate_only or not state.asyncio_safe:
        return  # the connection is closed, not pooled (or there is no event loop to reset on)
    dbapi_connection.rollback()
    cursor = dbapi_connection.cursor()
    cursor.execute("RESET tenantry.context")
    cursor.close()
    dbapi_connection.commit()
