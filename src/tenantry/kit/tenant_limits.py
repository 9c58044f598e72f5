"""Per-tenant limits on the runtime pool, applied by `Database` and given by the composition
root (`tenantry.limits`): each tenant's admission to the pool (fair share) and its plan's
statement timeout.

The timeout is set transaction-locally in the statement that sets the signed context (no extra
round trip); PostgreSQL arms it for each statement that follows. A single-message read sets it
first in the same pipeline, one implicit transaction, so it ends with the read. A statement it
cancels is `StatementTimeout` (503), never a 500.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, LiteralString, Protocol

import psycopg
from psycopg import sql

from tenantry.kit.errors import StatementTimeout

if TYPE_CHECKING:
    from contextlib import AbstractAsyncContextManager
    from uuid import UUID

    from psycopg.rows import DictRow

SET_CONTEXT: LiteralString = "SELECT set_config('tenantry.context', %s, true)"
SET_CONTEXT_AND_TIMEOUT: LiteralString = (
    "SELECT set_config('tenantry.context', %s, true), set_config('statement_timeout', %s, true)"
)
Statement = tuple[LiteralString | sql.Composed, list[str]]
SET_TIMEOUT: LiteralString = "SELECT set_config('statement_timeout', %s, true)"


class TenantGovernor(Protocol):
    def admission(self, tenant_id: UUID) -> AbstractAsyncContextManager[None]:
        """Held while a transaction of the tenant holds a runtime connection; it sees the
        transaction's errors (a `StatementTimeout`, say) as they leave."""
        ...

    def statement_timeout_ms(self, tenant_id: UUID) -> int | None: ...


def setting_context(token: str, timeout_ms: int | None, forwarded: bool = False) -> list[Statement]:
    """The statements that set the signed context, and the statement timeout if there is one.
    `forwarded`: as `SET LOCAL`s, which a Citus coordinator sends on to its workers (a
    parameter cannot be bound in a SET: the token is quoted as a literal)."""
    if forwarded:
        statements: list[Statement] = [
            (sql.SQL("SET LOCAL tenantry.context = {}").format(sql.Literal(token)), [])
        ]
        if timeout_ms is not None:
            statements.append((sql.SQL("SET LOCAL statement_timeout = {}").format(timeout_ms), []))
        return statements
    if timeout_ms is None:
        return [(SET_CONTEXT, [token])]
    return [(SET_CONTEXT_AND_TIMEOUT, [token, str(timeout_ms)])]


def timed_out() -> StatementTimeout:
    return StatementTimeout("a database statement ran past this plan's time limit")


async def read_within(
    conn: psycopg.AsyncConnection[DictRow],
    statement: bytes,
    values: list[Any],
    timeout_ms: int | None,
) -> list[DictRow]:
    """`statement`'s rows, cancelled past `timeout_ms` (None: no limit)."""
    try:
        if timeout_ms is None:
            return await (await conn.execute(statement, values)).fetchall()
        async with conn.pipeline():
            await conn.execute(SET_TIMEOUT, [str(timeout_ms)])
            cursor = await conn.execute(statement, values)
        return await cursor.fetchall()
    except psycopg.errors.QueryCanceled as exc:
        raise timed_out() from exc
