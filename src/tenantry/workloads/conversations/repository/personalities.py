"""ai.personalities: an app's AI personas, unique by name (case-insensitive)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from psycopg import sql

from tenantry.workloads.conversations.repository.changes import assignments

if TYPE_CHECKING:
    from uuid import UUID

    from psycopg.rows import DictRow

    from tenantry.library import Transaction
    from tenantry.workloads.conversations.caller import Caller

COLUMNS = """id, name, name_key, description, system_prompt, model, temperature, created_at,
    updated_at"""
UPDATABLE = frozenset({"name", "description", "system_prompt", "model", "temperature"})
IN_APP = "tenant_id = %(tenant)s AND app_id = %(app)s"


def _keys(caller: Caller, **extra: Any) -> dict[str, Any]:  # noqa: ANN401 - statement parameters
    return {"tenant": caller.tenant_id, "app": caller.app_id, **extra}


async def create(
    tx: Transaction, caller: Caller, personality_id: UUID, fields: dict[str, Any]
) -> DictRow | None:
    """The new personality, or None when the app has one of that name already."""
    return await tx.fetch_one(
        f"""INSERT INTO ai.personalities
                   (tenant_id, app_id, id, name, description, system_prompt, model, temperature)
            VALUES (%(tenant)s, %(app)s, %(id)s, %(name)s, %(description)s, %(system_prompt)s,
                    %(model)s, %(temperature)s)
            ON CONFLICT (tenant_id, app_id, name_key) DO NOTHING
            RETURNING {COLUMNS}""",
        _keys(caller, id=personality_id, **fields),
    )


async def get(tx: Transaction, caller: Caller, personality_id: UUID) -> DictRow | None:
    return await tx.fetch_one(
        f"SELECT {COLUMNS} FROM ai.personalities WHERE {IN_APP} AND id = %(id)s",
        _keys(caller, id=personality_id),
    )


async def hold(tx: Transaction, caller: Caller, personality_id: UUID) -> bool:
    """Whether the personality exists; if so it cannot be deleted until this transaction ends,
    so a row written now that names it keeps a valid reference."""
    row = await tx.fetch_one(
        f"SELECT 1 AS found FROM ai.personalities WHERE {IN_APP} AND id = %(id)s FOR KEY SHARE",
        _keys(caller, id=personality_id),
    )
    return row is not None


async def page(tx: Transaction, caller: Caller, after: str | None, limit: int) -> list[DictRow]:
    """By lower-cased name, strictly after `after`: one walk of the unique name index."""
    return await tx.fetch_all(
        f"""SELECT {COLUMNS} FROM ai.personalities
             WHERE {IN_APP} AND name_key > %(after)s
             ORDER BY name_key LIMIT %(limit)s""",
        _keys(caller, after=after or "", limit=limit),
    )


async def update(
    tx: Transaction, caller: Caller, personality_id: UUID, changes: dict[str, Any]
) -> DictRow | None:
    query = sql.SQL(
        "UPDATE ai.personalities SET {changes} WHERE " + IN_APP + " AND id = %(id)s "
        "RETURNING " + COLUMNS
    ).format(changes=assignments(changes, UPDATABLE))
    return await tx.fetch_one(query, _keys(caller, id=personality_id, **changes))


async def delete(tx: Transaction, caller: Caller, personality_id: UUID) -> bool:
    """Chats, widgets and preferences that named it keep going without one (set null)."""
    cursor = await tx.execute(
        f"DELETE FROM ai.personalities WHERE {IN_APP} AND id = %(id)s",
        _keys(caller, id=personality_id),
    )
    return cursor.rowcount == 1
