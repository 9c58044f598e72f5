"""Pooled database access where every transaction carries a signed context.

`Database.tenant_transaction(context)` is the only way request code reaches tenant data: it
takes a runtime-role connection, and the signed context rides in the same network round trip as
the transaction's first statement (psycopg pipeline: BEGIN, set_config, the statement, one
sync). `set_config(..., true)` is transaction-local, so nothing survives into the next
transaction on the same pooled connection.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from functools import lru_cache
from typing import TYPE_CHECKING, Any, LiteralString, Self

import psycopg
from psycopg.rows import DictRow, dict_row
from psycopg_pool import AsyncConnectionPool

from tenantry.kit import observe, tenant_limits
from tenantry.kit.context import ContextKey, ContextSigner, TenantContext
from tenantry.kit.errors import (
    ConfigurationError,
    DatabaseUnavailable,
    TenantMoving,
)
from tenantry.kit.invalidation import CHANNEL, NOTIFY
from tenantry.kit.placements import (
    LOAD_PLACEMENTS,
    LOAD_TENANTS,
    PLACEMENTS_SCOPE,
    SHARED,
    PlacementRouter,
)
from tenantry.kit.transaction import (
    SET_CONTEXT,
    Connection,
    Cursor,
    Query,
    Requirement,
    Transaction,
    conflict,
)

# Re-exported: callers import the transaction's types from here, beside `Database`.
__all__ = [
    "SET_CONTEXT",
    "Connection",
    "Cursor",
    "Database",
    "Query",
    "Requirement",
    "Transaction",
    "conflict",
]

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
    from uuid import UUID

# SQL inside a transaction could store a context at session level; clearing it in the commit's
# message keeps it from riding into the next checkout (a rollback undoes it by itself).
COMMIT = b"RESET tenantry.context; COMMIT"
ROLLBACK = b"ROLLBACK"


@lru_cache(maxsize=1024)
def _single_message_read(query: str, checks: tuple[str, ...]) -> bytes:
    """The statement `Database.read` sends; composed once per query text.

    Placeholders in textual order: the context, the checks, then the query's own.
    """
    flags = (
        "ARRAY[" + ", ".join(f"EXISTS ({check})" for check in checks) + "]::boolean[]"
        if checks
        else "'{}'::boolean[]"
    )
    return (
        "WITH ctx AS MATERIALIZED (SELECT set_config('tenantry.context', %s, true) AS token) "
        f"SELECT {flags} AS __checks, q.* FROM ctx "
        "LEFT JOIN LATERAL (SELECT true AS __row, inner_q.* "
        f"FROM ({query}) AS inner_q WHERE ctx.token IS NOT NULL OFFSET 0) AS q ON true"
    ).encode()


CITUS_INSTALLED = "SELECT count(*) > 0 AS citus FROM pg_extension WHERE extname = 'citus'"
CONNECT_TIMEOUT_SECONDS = 3
RECONNECT_TIMEOUT_SECONDS = 3.0


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
        prepared_statements: bool = True,
        acquire_timeout: float = 30.0,
    ) -> None:
        self._ttl = context_ttl_seconds
        # For engines beside the pool on the same role (`tenantry.library.orm`).
        self.runtime_url = runtime_url
        # False behind a transaction pooler: a statement prepared on one server connection
        # is unknown on the next (psycopg prepares a statement on its fifth run).
        self.prepared_statements = prepared_statements
        options: dict[str, Any] = {
            "row_factory": dict_row,
            "autocommit": True,
            "prepare_threshold": 5 if prepared_statements else None,
            # A server that does not answer fails the attempt instead of holding it.
            "connect_timeout": CONNECT_TIMEOUT_SECONDS,
        }

        # `acquire_timeout`: how long a caller waits for a connection (the service passes a
        # short one: during an outage a request answers 503 at once, never hangs). A failed
        # reconnection gives up after a few seconds rather than backing off for minutes, so
        # the next caller starts a fresh attempt: the pool refills within seconds of the
        # database's return.
        def pool(url: str, name: str, low: int, high: int) -> AsyncConnectionPool[Connection]:
            return AsyncConnectionPool(
                url,
                min_size=low,
                max_size=high,
                kwargs=options,
                open=False,
                name=f"tenantry-{name}",
                timeout=acquire_timeout,
                reconnect_timeout=RECONNECT_TIMEOUT_SECONDS,
            )

        self.runtime_pool = pool(runtime_url, "runtime", min_size, max_size)
        self.platform_pool = pool(platform_url, "platform", min(min_size, 1), max(2, max_size // 2))
        # Silos: tenants living outside the shared database, with small pools of their own.
        self.placements = PlacementRouter(
            self._placement_registry,
            runtime_url,
            platform_url,
            lambda url, name: pool(url, name, 0, max(2, max_size // 2)),
            self._load_signer,
        )
        self._signer: ContextSigner | None = None
        # Called with the invalidated scopes after each commit that named some.
        self.commit_listeners: list[Callable[[list[str]], Awaitable[None]]] = []
        # Awaited by close(), for resources tied to this database's lifetime.
        self.close_callbacks: list[Callable[[], Awaitable[None]]] = []
        # Fair share of the runtime pool and per-plan statement timeouts; None: neither.
        self.governor: tenant_limits.TenantGovernor | None = None
        # A Citus coordinator: the context is set with a `SET LOCAL` Citus forwards to the
        # workers, whose policies verify it (`tenantry.isolation.citus_sql`); found on open.
        self.distributed = False

    async def open(self) -> None:
        try:
            await self.runtime_pool.open(wait=True, timeout=15)
            await self.platform_pool.open(wait=True, timeout=15)
        except psycopg.OperationalError as exc:
            raise DatabaseUnavailable(f"cannot connect to the database: {exc}") from exc
        await self.reload_signing_key()
        async with self.platform_pool.connection() as conn:
            found = await (await conn.execute(CITUS_INSTALLED)).fetchone()
        self.distributed = bool(found and found["citus"])

    async def close(self) -> None:
        for callback in self.close_callbacks:
            await callback()
        await self.placements.close()
        await self.runtime_pool.close()
        await self.platform_pool.close()

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    async def reload_signing_key(self) -> None:
        """Read the newest active key (after `tenantry db rotate-key`, call this or restart);
        each silo has keys of its own, read again on next use."""
        self._signer = await self._load_signer(self.platform_pool)
        await self.placements.reload_signers()

    async def _placement_registry(self) -> tuple[list[DictRow], list[DictRow]]:
        """Where tenants outside `shared` live, and each placement's URL (home database)."""
        async with self.platform_transaction() as tx:
            return await tx.fetch_all(LOAD_TENANTS), await tx.fetch_all(LOAD_PLACEMENTS)

    async def _load_signer(self, pool: AsyncConnectionPool[Connection]) -> ContextSigner:
        async with pool.connection() as conn:
            row = await (
                await conn.execute("SELECT kid, secret FROM tenantry_private.signing_key()")
            ).fetchone()
            await conn.rollback()
        if row is None or row["kid"] is None:
            raise ConfigurationError("no context-signing key: run `tenantry db upgrade`")
        return ContextSigner(ContextKey(row["kid"], bytes(row["secret"])), self._ttl)

    @property
    def signer(self) -> ContextSigner:
        if self._signer is None:
            raise ConfigurationError("Database.open() was not called")
        return self._signer

    @asynccontextmanager
    async def tenant_transaction(self, context: TenantContext) -> AsyncIterator[Transaction]:
        pool, signer = await self._runtime(context.tenant_id)
        token = signer.sign_tenant(context)
        admission, timeout_ms = self._governed(context)
        async with (
            admission,
            self._transaction(
                pool,
                token,
                read_only=context.read_only,
                statement_timeout_ms=timeout_ms,
                scope=(context.tenant_id, context.app_id),
            ) as transaction,
        ):
            yield transaction

    def _governed(
        self, context: TenantContext
    ) -> tuple[AbstractAsyncContextManager[None], int | None]:
        """The tenant's admission to the runtime pool, and its statement timeout."""
        if self.governor is None:
            return nullcontext(), None
        tenant = context.tenant_id
        return self.governor.admission(tenant), self.governor.statement_timeout_ms(tenant)

    def statement_timeout_ms(self, tenant_id: UUID) -> int | None:
        """The tenant's plan's statement timeout (None: none), for sessions of another pool."""
        return None if self.governor is None else self.governor.statement_timeout_ms(tenant_id)

    async def check(self, context: TenantContext, require: Sequence[Requirement]) -> None:
        """Only the requirements, in the context, in one round trip: each failing one raises
        its error (a revoked session on a cached read, for instance)."""
        if require:
            await self.read(context, "SELECT 1 AS ok", require=require)

    async def read(
        self,
        context: TenantContext,
        query: LiteralString,
        params: Sequence[Any] = (),
        *,
        require: Sequence[Requirement] = (),
    ) -> list[DictRow]:
        """One read-only statement in the context, sent as one message (one round trip).

        `set_config` runs in a MATERIALIZED CTE, and the query in a LATERAL subquery that takes
        the CTE's row as a nested-loop parameter: the executor cannot start the subquery (nor
        the policies' init plans inside it) before that row, and so the context, exists. Were
        that order ever broken, policies would see no context and the read would return
        nothing, never another tenant's rows. The statement is its own implicit transaction,
        so the transaction-local context ends with it.
        """
        if self.distributed:  # set_config() would not reach the workers
            async with self.tenant_transaction(context) as tx:
                for check, check_params, error in require:
                    tx.require(check, check_params, error)
                return await tx.fetch_all(query, params)
        pool, signer = await self._runtime(context.tenant_id)
        values = [signer.sign_tenant(context)]
        values += [v for _, check_params, _ in require for v in check_params]
        values += params
        statement = _single_message_read(query, tuple(check for check, _, _ in require))
        admission, timeout_ms = self._governed(context)
        async with admission, pool.connection() as conn:
            rows = await observe.statement(
                (context.tenant_id, context.app_id),
                query,
                conn,
                lambda: tenant_limits.read_within(conn, statement, values, timeout_ms),
            )
        for passed, (_, _, error) in zip(rows[0]["__checks"], require, strict=True):
            if not passed:
                raise error
        # The LEFT JOIN yields one row without `__row` when the query returns none.
        return [
            {k: v for k, v in row.items() if k not in {"__checks", "__row"}}
            for row in rows
            if row["__row"]
        ]

    async def _runtime(
        self, tenant_id: UUID
    ) -> tuple[AsyncConnectionPool[Connection], ContextSigner]:
        """The runtime pool of the tenant's placement, and the signer its database verifies."""
        name = await self.placements.placement(tenant_id)
        if name == SHARED:
            return self.runtime_pool, self.signer
        silo = await self.placements.pools(name)
        return silo.runtime, silo.signer

    async def placement_of(self, tenant_id: UUID) -> str:
        return await self.placements.placement(tenant_id)

    @asynccontextmanager
    async def platform_transaction(
        self, *, snapshot: bool = False, placement: str = SHARED, tenant_id: UUID | None = None
    ) -> AsyncIterator[Transaction]:
        """Control-plane work; reach it only from platform-authenticated paths. In the home
        database, or in `placement`, or where `tenant_id` lives. `snapshot`: read-only, every
        statement seeing the same snapshot (an export's files agree with each other)."""
        if tenant_id is not None:
            placement = await self.placement_of(tenant_id)
        pool, signer = self.platform_pool, self.signer
        if placement != SHARED:
            silo = await self.placements.pools(placement)
            pool, signer = silo.platform, silo.signer
        token = signer.sign_platform()
        async with self._transaction(pool, token, snapshot=snapshot) as transaction:
            transaction.resign = signer.sign_platform  # for work that outlasts a context
            yield transaction

    @asynccontextmanager
    async def _transaction(
        self,
        pool: AsyncConnectionPool[Any],
        token: str,
        *,
        read_only: bool = False,
        snapshot: bool = False,
        statement_timeout_ms: int | None = None,
        scope: observe.Scope = None,
    ) -> AsyncIterator[Transaction]:
        async with pool.connection() as conn:
            transaction = Transaction(
                conn,
                token,
                forwarded=self.distributed,
                read_only=read_only,
                snapshot=snapshot,
                statement_timeout_ms=statement_timeout_ms,
                scope=scope,
            )
            try:
                yield transaction
            except BaseException as exc:
                if transaction.began:
                    await observe.statement(scope, observe.ROLLBACK, conn, _sender(conn, ROLLBACK))
                if isinstance(exc, TenantMoving):  # routed by what this process knew: relearn
                    self.placements.invalidate(PLACEMENTS_SCOPE)
                raise
            if transaction.began:
                await observe.statement(scope, observe.COMMIT, conn, _sender(conn, COMMIT))
        if transaction.invalidated:
            if pool not in (self.runtime_pool, self.platform_pool):
                # Processes listen on the home database: a silo's NOTIFY reaches nobody.
                async with self.platform_pool.connection() as conn:
                    for invalidated in transaction.invalidated:
                        await conn.execute(NOTIFY, [CHANNEL, invalidated])
            for listener in self.commit_listeners:
                await listener(transaction.invalidated)


def _sender(conn: Connection, command: bytes) -> Callable[[], Awaitable[object]]:
    return lambda: conn.execute(command)
