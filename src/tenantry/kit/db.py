"""Pooled database access where every transaction carries a signed context.

`Database.tenant_transaction(context)` is the only way request code reaches tenant data: it
takes a runtime-role connection, and the signed context rides in the same network round trip as
the transaction's first statement (psycopg pipeline: BEGIN, set_config, the statement, one
sync). `set_config(..., true)` is transaction-local, so nothing survives into the next
transaction on the same pooled connection.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any, LiteralString, Self

import psycopg
from psycopg import sql
from psycopg.rows import DictRow, dict_row
from psycopg_pool import AsyncConnectionPool

from tenantry.kit.context import ContextKey, ContextSigner, TenantContext
from tenantry.kit.errors import ConfigurationError, DatabaseUnavailable

SET_CONTEXT: LiteralString = "SELECT set_config('tenantry.context', %s, true)"
# SQL inside a transaction could store a context at session level; clearing it in the commit's
# round trip keeps it from riding into the next checkout (a rollback undoes it by itself).
CLEAR_SESSION_CONTEXT: LiteralString = "RESET tenantry.context"

Connection = psycopg.AsyncConnection[DictRow]
Cursor = psycopg.AsyncCursor[DictRow]
Params = Sequence[Any] | dict[str, Any] | None
Query = LiteralString | bytes | sql.SQL | sql.Composed


class Transaction:
    """One database transaction with a signed context applied before any statement runs."""

    def __init__(self, connection: Connection, token: str) -> None:
        self._connection = connection
        self._pending_token: str | None = token

    async def execute(self, query: Query, params: Params = None) -> Cursor:
        cursor = self._connection.cursor()
        if self._pending_token is None:
            await cursor.execute(query, params)
            return cursor
        token, self._pending_token = self._pending_token, None
        async with self._connection.pipeline():
            await self._connection.execute(SET_CONTEXT, [token])
            await cursor.execute(query, params)
        return cursor

    async def fetch_one(self, query: Query, params: Params = None) -> DictRow | None:
        return await (await self.execute(query, params)).fetchone()

    async def fetch_all(self, query: Query, params: Params = None) -> list[DictRow]:
        return await (await self.execute(query, params)).fetchall()

    async def connection(self) -> Connection:
        """The raw connection, for COPY or multi-statement scripts; the context is applied first."""
        if self._pending_token is not None:
            token, self._pending_token = self._pending_token, None
            await self._connection.execute(SET_CONTEXT, [token])
        return self._connection


class Database:
    """The runtime pool (tenant requests) and the platform pool (control plane)."""

    def __init__(
        self,
        runtime_url: str,
        platform_url: str,
        *,
        context_ttl_seconds: int = 300,
        min_size: int = 1,
        max_size: int = 10,
    ) -> None:
        self._ttl = context_ttl_seconds
        options: dict[str, Any] = {"row_factory": dict_row}
        self.runtime_pool: AsyncConnectionPool[Connection] = AsyncConnectionPool(
            runtime_url,
            min_size=min_size,
            max_size=max_size,
            kwargs=options,
            open=False,
            name="tenantry-runtime",
        )
        self.platform_pool: AsyncConnectionPool[Connection] = AsyncConnectionPool(
            platform_url,
            min_size=min(min_size, 1),
            max_size=max(2, max_size // 2),
            kwargs=options,
            open=False,
            name="tenantry-platform",
        )
        self._signer: ContextSigner | None = None

    async def open(self) -> None:
        try:
            await self.runtime_pool.open(wait=True, timeout=15)
            await self.platform_pool.open(wait=True, timeout=15)
        except psycopg.OperationalError as exc:
            raise DatabaseUnavailable(f"cannot connect to the database: {exc}") from exc
        await self.reload_signing_key()

    async def close(self) -> None:
        await self.runtime_pool.close()
        await self.platform_pool.close()

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    async def reload_signing_key(self) -> None:
        """Read the newest active key (after `tenantry db rotate-key`, call this or restart)."""
        async with self.platform_pool.connection() as conn:
            row = await (
                await conn.execute("SELECT kid, secret FROM tenantry_private.signing_key()")
            ).fetchone()
            await conn.rollback()
        if row is None or row["kid"] is None:
            raise ConfigurationError("no context-signing key: run `tenantry db upgrade`")
        self._signer = ContextSigner(ContextKey(row["kid"], bytes(row["secret"])), self._ttl)

    @property
    def signer(self) -> ContextSigner:
        if self._signer is None:
            raise ConfigurationError("Database.open() was not called")
        return self._signer

    @asynccontextmanager
    async def tenant_transaction(self, context: TenantContext) -> AsyncIterator[Transaction]:
        token = self.signer.sign_tenant(context)
        async with self._transaction(self.runtime_pool, token) as transaction:
            yield transaction

    @asynccontextmanager
    async def platform_transaction(self) -> AsyncIterator[Transaction]:
        """Control-plane work across tenants; reach it only from platform-authenticated paths."""
        token = self.signer.sign_platform()
        async with self._transaction(self.platform_pool, token) as transaction:
            yield transaction

    @staticmethod
    @asynccontextmanager
    async def _transaction(
        pool: AsyncConnectionPool[Any], token: str
    ) -> AsyncIterator[Transaction]:
        async with pool.connection() as conn:
            transaction = Transaction(conn, token)
            try:
                yield transaction
            except BaseException:
                await conn.rollback()
                raise
            async with conn.pipeline():
                await conn.execute(CLEAR_SESSION_CONTEXT)
                await conn.commit()
