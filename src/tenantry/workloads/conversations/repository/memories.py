"""ai.memories: a user's long-term memories, newest first; expired ones are not shown."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from psycopg import sql

from tenantry.workloads.conversations.repository.changes import assignments

if TYPE_CHECKING:
    from uuid import UUID

    from psycopg.rows import DictRow

    from tenantry.library import Transaction
    from tenantry.workloads.conversations.caller import Caller

COLUMNS = "id, content, kind, importance, created_at, updated_at, expires_at"
UPDATABLE = frozenset({"content", "kind", "importance", "expires_at"})
MINE = "tenant_id = %(tenant)s AND app_id = %(app)s AND app_user_id = %(user)s"
LIVE = "(expires_at IS NULL OR expires_at > now())"


def _keys(caller: Caller, **extra: Any) -> dict[str, Any]:  # noqa: ANN401 - statement parameters
    return {"tenant": caller.tenant_id, "app": caller.app_id, "user": caller.user_id, **extra}


async def create(
    tx: Transaction, caller: Caller, memory_id: UUID, fields: dict[str, Any]
) -> DictRow:
    row = await tx.fetch_one(
        f"""INSERT INTO ai.memories
                   (tenant_id, app_id, id, app_user_id, content, kind, importance, expires_at)
            VALUES (%(tenant)s, %(app)s, %(id)s, %(user)s, %(content)s, %(kind)s,
                    %(importance)s, %(expires_at)s)
            RETURNING {COLUMNS}""",
        _keys(caller, id=memory_id, **fields),
    )
    assert row is not None
    return row


async def get(tx: Transaction, caller: Caller, memory_id: UUID) -> DictRow | None:
    return await tx.fetch_one(
        f"SELECT {COLUMNS} FROM ai.memories WHERE {MINE} AND id = %(id)s AND {LIVE}",
        _keys(caller, id=memory_id),
    )


async def page(tx: Transaction, caller: Caller, before: UUID | None, limit: int) -> list[DictRow]:
    """The caller's live memories, newest first (ids are time-ordered UUIDv7), strictly
    before `before`."""
    if before is None:
        return await tx.fetch_all(
            f"""SELECT {COLUMNS} FROM ai.memories WHERE {MINE} AND {LIVE}
                 ORDER BY id DESC LIMIT %(limit)s""",
            _keys(caller, limit=limit),
        )
    return await tx.fetch_all(
        f"""SELECT {COLUMNS} FROM ai.memories
             WHERE {MINE} AND id < %(before)s AND {LIVE}
             ORDER BY id DESC LIMIT %(limit)s""",
        _keys(caller, before=before, limit=limit),
    )


async def update(
    tx: Transaction, caller: Caller, memory_id: UUID, changes: dict[str, Any]
) -> DictRow | None:
    query = sql.SQL(
        "UPDATE ai.memories SET {changes} WHERE " + MINE + " AND id = %(id)s AND " + LIVE + " "
        "RETURNING " + COLUMNS
    ).format(changes=assignments(changes, UPDATABLE))
    return await tx.fetch_one(query, _keys(caller, id=memory_id, **changes))


async def delete(tx: Transaction, caller: Caller, memory_id: UUID) -> bool:
    cursor = await tx.execute(
        f"DELETE FROM ai.memories WHERE {MINE} AND id = %(id)s", _keys(caller, id=memory_id)
    )
    return cursor.rowcount == 1
