"""Pooled database access where every transaction carries a signed context.

`Database.tenant_transaction(context)` is the only way request code reaches tenant data: it
takes a runtime-role connection, and the signed context rides in the same network round trip as
the transaction's first statement (psycopg pipeline: BEGIN, set_config, the statement, one
sync). `set_config(..., true)` is transaction-local, so nothing survives into the next
transaction on the same pooled connection.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from functools import lru_cache, partial
from typing import TYPE_CHECKING, Any, LiteralString, Self

import psycopg
from psycopg import sql
from psycopg.pq import TransactionStatus
from psycopg.rows import DictRow, dict_row
from psycopg_pool import AsyncConnectionPool

from tenantry.kit import observe, tenant_limits
from tenantry.kit.context import ContextKey, ContextSigner, TenantContext
from tenantry.kit.errors import (
    ConfigurationError,
    Conflict,
    DatabaseUnavailable,
    SeatLimitReached,
)

if TYPE_CHECKING:
    from uuid import UUID

SET_CONTEXT: LiteralString = tenant_limits.SET_CONTEXT  # beside its variant with a timeout
# SQL inside a transaction could store a context at session level; clearing it in the commit's
# message keeps it from riding into the next checkout (a rollback undoes it by itself).
COMMIT = b"RESET tenantry.context; COMMIT"
ROLLBACK = b"ROLLBACK"

Connection = psycopg.AsyncConnection[DictRow]
Cursor = psycopg.AsyncCursor[DictRow]
Params = Sequence[Any] | dict[str, Any] | None
Query = LiteralString | bytes | sql.SQL | sql.Composed
# Raised by the seat trigger of revision 0016 (`tenantry.enforce_seats`).
SEAT_LIMIT_SQLSTATE = "TL409"
# A query that must return a row, or the error to raise (see `Transaction.require`).
Requirement = tuple[LiteralString, Sequence[Any], Exception]


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


def conflict(exc: psycopg.errors.IntegrityError) -> Conflict:
    table = (exc.diag.table_name or "").replace("_", " ")
    return Conflict(f"this conflicts with an existing entry ({table})" if table else "conflict")


class Transaction:
    """One database transaction with a signed context applied before any statement runs."""

    def __init__(
        self,
        connection: Connection,
        token: str,
        *,
        read_only: bool = False,
        snapshot: bool = False,
        statement_timeout_ms: int | None = None,
        scope: observe.Scope = None,
    ) -> None:
        self._connection = connection
        # Whose statements these are, for the request's observation (`kit.observe`).
        self.scope = scope
        self._token = token
        self._timeout_ms = statement_timeout_ms
        self._pending_token: str | None = token
        if snapshot:
            self._begin = b"BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"
        else:
            self._begin = b"BEGIN READ ONLY" if read_only else b"BEGIN"
        self._requirements: list[Requirement] = []
        self.invalidated: list[str] = []

    def after_commit(self, scope: str) -> None:
        """Name a cache scope to invalidate in this process (and publish) once committed."""
        self.invalidated.append(scope)

    @property
    def began(self) -> bool:
        return self._pending_token is None

    def require(self, query: LiteralString, params: Sequence[Any], error: Exception) -> None:
        """Queue a check that must return a row, sent with the first statement (no extra round
        trip); `error` is raised, and the transaction rolled back, if it returns none."""
        if self._pending_token is None:
            raise RuntimeError("requirements must be queued before the first statement")
        self._requirements.append((query, params, error))

    async def execute(self, query: Query, params: Params = None) -> Cursor:
        try:
            return await self._execute(query, params)
        except (psycopg.errors.UniqueViolation, psycopg.errors.ExclusionViolation) as exc:
            # The one place a duplicate becomes a domain error: a lost race between a check and
            # an insert is the same 409 as the check itself would have given, never a 500.
            raise conflict(exc) from exc
        except psycopg.errors.QueryCanceled as exc:
            raise tenant_limits.timed_out() from exc
        except psycopg.Error as exc:
            if exc.sqlstate == SEAT_LIMIT_SQLSTATE:
                message = exc.diag.message_primary or "seat limit reached"
                raise SeatLimitReached(message) from exc
            raise

    async def _execute(self, query: Query, params: Params) -> Cursor:
        send = partial(self._send, query, params)
        return await observe.statement(self.scope, query, self._connection, send)

    async def _send(self, query: Query, params: Params) -> Cursor:
        cursor = self._connection.cursor()
        if self._pending_token is None:
            await cursor.execute(query, params)
            return cursor
        token, self._pending_token = self._pending_token, None
        checks: list[tuple[Cursor, Exception]] = []
        # Pool connections are in autocommit mode: the transaction starts here, in the same
        # round trip as the context and the first statement.
        async with self._connection.pipeline():
            await self._connection.execute(self._begin)
            await self._connection.execute(*tenant_limits.setting_context(token, self._timeout_ms))
            for check_query, check_params, error in self._requirements:
                checks.append((await self._connection.execute(check_query, check_params), error))
            await cursor.execute(query, params)
        for check, error in checks:
            if await check.fetchone() is None:
                raise error
        return cursor

    async def fetch_one(self, query: Query, params: Params = None) -> DictRow | None:
        return await (await self.execute(query, params)).fetchone()

    async def fetch_all(self, query: Query, params: Params = None) -> list[DictRow]:
        return await (await self.execute(query, params)).fetchall()

    @asynccontextmanager
    async def switched(self, token: str) -> AsyncIterator[None]:
        """Statements under another server-signed context, inside this transaction, then the
        transaction's own context again: for what one change must write, atomically, in a
        scope beside its own (an alert's mail in the admin app's outbox).

        The own context comes back however the block ends, so a caller that catches an error
        (a savepoint rolled back, say) never goes on in the other scope; only a transaction
        already failed, which runs nothing more, keeps the other context until it ends."""
        if self._pending_token is not None:
            await self.execute("SELECT 1")
        await self._connection.execute(SET_CONTEXT, [token])
        try:
            yield
        finally:
            if self._connection.info.transaction_status is TransactionStatus.INTRANS:
                await self._connection.execute(SET_CONTEXT, [self._token])

    async def connection(self) -> Connection:
        """The raw connection, for COPY or multi-statement scripts; the context is applied first."""
        if self._pending_token is not None:
            await self.execute("SELECT 1")
        return self._connection


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
        self._signer: ContextSigner | None = None
        # Called with the invalidated scopes after each commit that named some.
        self.commit_listeners: list[Callable[[list[str]], Awaitable[None]]] = []
        # Awaited by close(), for resources tied to this database's lifetime.
        self.close_callbacks: list[Callable[[], Awaitable[None]]] = []
        # Fair share of the runtime pool and per-plan statement timeouts; None: neither.
        self.governor: tenant_limits.TenantGovernor | None = None

    async def open(self) -> None:
        try:
            await self.runtime_pool.open(wait=True, timeout=15)
            await self.platform_pool.open(wait=True, timeout=15)
        except psycopg.OperationalError as exc:
            raise DatabaseUnavailable(f"cannot connect to the database: {exc}") from exc
        await self.reload_signing_key()

    async def close(self) -> None:
        for callback in self.close_callbacks:
            await callback()
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
        admission, timeout_ms = self._governed(context)
        async with (
            admission,
            self._transaction(
                self.runtime_pool,
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
        values = [self.signer.sign_tenant(context)]
        values += [v for _, check_params, _ in require for v in check_params]
        values += params
        statement = _single_message_read(query, tuple(check for check, _, _ in require))
        admission, timeout_ms = self._governed(context)
        async with admission, self.runtime_pool.connection() as conn:
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

    @asynccontextmanager
    async def platform_transaction(self, *, snapshot: bool = False) -> AsyncIterator[Transaction]:
        """Control-plane work across tenants; reach it only from platform-authenticated paths.
        `snapshot`: read-only, every statement seeing the same snapshot (an export's files
        agree with each other)."""
        token = self.signer.sign_platform()
        async with self._transaction(self.platform_pool, token, snapshot=snapshot) as transaction:
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
                read_only=read_only,
                snapshot=snapshot,
                statement_timeout_ms=statement_timeout_ms,
                scope=scope,
            )
            try:
                yield transaction
            except BaseException:
                if transaction.began:
                    await observe.statement(scope, observe.ROLLBACK, conn, _sender(conn, ROLLBACK))
                raise
            if transaction.began:
                await observe.statement(scope, observe.COMMIT, conn, _sender(conn, COMMIT))
        if transaction.invalidated:
            for listener in self.commit_listeners:
                await listener(transaction.invalidated)


def _sender(conn: Connection, command: bytes) -> Callable[[], Awaitable[object]]:
    return lambda: conn.execute(command)
