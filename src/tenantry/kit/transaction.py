"""One transaction whose signed context rides with its first statement (see `kit.db`)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from functools import partial
from typing import Any, LiteralString

import psycopg
from psycopg import sql
from psycopg.pq import TransactionStatus
from psycopg.rows import DictRow

from tenantry.isolation.residency import NOT_RESIDENT_SQLSTATE
from tenantry.kit import observe, tenant_limits
from tenantry.kit.errors import Conflict, SeatLimitReached, TenantMoving

SET_CONTEXT: LiteralString = tenant_limits.SET_CONTEXT  # beside its variant with a timeout

Connection = psycopg.AsyncConnection[DictRow]
Cursor = psycopg.AsyncCursor[DictRow]
Params = Sequence[Any] | dict[str, Any] | None
Query = LiteralString | bytes | sql.SQL | sql.Composed
# Raised by the seat trigger of revision 0016 (`tenantry.enforce_seats`).
SEAT_LIMIT_SQLSTATE = "TL409"
# A query that must return a row, or the error to raise (see `Transaction.require`).
Requirement = tuple[LiteralString, Sequence[Any], Exception]


def domain_error(exc: psycopg.Error) -> Exception:
    """The domain error a trigger's SQLSTATE stands for, else `exc` itself."""
    message = exc.diag.message_primary or ""
    if exc.sqlstate == SEAT_LIMIT_SQLSTATE:
        return SeatLimitReached(message or "seat limit reached")
    if exc.sqlstate == NOT_RESIDENT_SQLSTATE:
        return TenantMoving(message, retry_after=1)
    return exc


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
        forwarded: bool = False,
    ) -> None:
        self._connection = connection
        # Citus: the context as a `SET LOCAL`, which Citus forwards to the workers.
        self._forwarded = forwarded
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
        # Signs a fresh context of the same kind (platform transactions): see `renew`.
        self.resign: Callable[[], str] | None = None
        self._signed = time.monotonic()

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
            raise domain_error(exc) from exc

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
            for statement in tenant_limits.setting_context(
                token, self._timeout_ms, self._forwarded
            ):
                await self._connection.execute(*statement)
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
        await self._set_context(token)
        try:
            yield
        finally:
            if self._connection.info.transaction_status is TransactionStatus.INTRANS:
                await self._set_context(self._token)

    async def _set_context(self, token: str) -> None:
        for statement in tenant_limits.setting_context(token, None, self._forwarded):
            await self._connection.execute(*statement)

    async def renew(self, older_than: float) -> None:
        """A fresh context for what follows, if the one in force was signed more than
        `older_than` seconds ago: a context expires (`context_ttl_seconds`), and a statement
        run after that sees no rows and may write none. For work longer than that (a tenant
        move): statements already running, and open cursors, keep the context they began
        with."""
        if self.resign is None or time.monotonic() - self._signed < older_than:
            return
        if self._pending_token is not None:
            await self.execute("SELECT 1")
        self._token, self._signed = self.resign(), time.monotonic()
        await self._set_context(self._token)

    async def connection(self) -> Connection:
        """The raw connection, for COPY or multi-statement scripts; the context is applied first."""
        if self._pending_token is not None:
            await self.execute("SELECT 1")
        return self._connection
