"""ai.widgets: an app's embeddable chat widgets, unique by name (case-insensitive)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from psycopg import sql
from psycopg.types.json import Jsonb

from tenantry.workloads.conversations.repository.changes import assignments

if TYPE_CHECKING:
    from uuid import UUID

    from psycopg.rows import DictRow

    from tenantry.library import Transaction
    from tenantry.workloads.conversations.caller import Caller

COLUMNS = """id, name, name_key, personality_id, allowed_origins, config, enabled, created_at,
    updated_at"""
UPDATABLE = frozenset({"name", "personality_id", "allowed_origins", "config", "enabled"})
IN_APP = "tenant_id = %(tenant)s AND app_id = %(app)s"


def _keys(caller: Caller, **extra: Any) -> dict[str, Any]:  # noqa: ANN401 - statement parameters
    values = {key: Jsonb(value) if key == "config" else value for key, value in extra.items()}
    return {"tenant": caller.tenant_id, "app": caller.app_id, **values}


async def create(
    tx: Transaction, caller: Caller, widget_id: UUID, fields: dict[str, Any]
) -> DictRow | None:
    """The new widget, or None when the app has one of that name already."""
    return await tx.fetch_one(
        f"""INSERT INTO ai.widgets
                   (tenant_id, app_id, id, name, personality_id, allowed_origins, config,
                    enabled)
            VALUES (%(tenant)s, %(app)s, %(id)s, %(name)s, %(personality_id)s,
                    %(allowed_origins)s, %(config)s, %(enabled)s)
            ON CONFLICT (tenant_id, app_id, name_key) DO NOTHING
            RETURNING {COLUMNS}""",
        _keys(caller, id=widget_id, **fields),
    )


async def get(tx: Transaction, caller: Caller, widget_id: UUID) -> DictRow | None:
    return await tx.fetch_one(
        f"SELECT {COLUMNS} FROM ai.widgets WHERE {IN_APP} AND id = %(id)s",
        _keys(caller, id=widget_id),
    )


async def page(tx: Transaction, caller: Caller, after: str | None, limit: int) -> list[DictRow]:
    """By lower-cased name, strictly after `after`: one walk of the unique name index."""
    return await tx.fetch_all(
        f"""SELECT {COLUMNS} FROM ai.widgets
             WHERE {IN_APP} AND name_key > %(after)s
             ORDER BY name_key LIMIT %(limit)s""",
        _keys(caller, after=after or "", limit=limit),
    )


async def update(
    tx: Transaction, caller: Caller, widget_id: UUID, changes: dict[str, Any]
) -> DictRow | None:
    query = sql.SQL(
        "UPDATE ai.widgets SET {changes} WHERE " + IN_APP + " AND id = %(id)s RETURNING " + COLUMNS
    ).format(changes=assignments(changes, UPDATABLE))
    return await tx.fetch_one(query, _keys(caller, id=widget_id, **changes))


async def delete(tx: Transaction, caller: Caller, widget_id: UUID) -> bool:
    cursor = await tx.execute(
        f"DELETE FROM ai.widgets WHERE {IN_APP} AND id = %(id)s", _keys(caller, id=widget_id)
    )
    return cursor.rowcount == 1
