"""ai.preferences: one row of AI preferences per app user."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from psycopg.types.json import Jsonb

if TYPE_CHECKING:
    from uuid import UUID

    from psycopg.rows import DictRow

    from tenantry.library import Transaction
    from tenantry.workloads.conversations.caller import Caller

COLUMNS = "preferred_personality_id, language, tone, extras, updated_at"
MINE = "tenant_id = %(tenant)s AND app_id = %(app)s AND app_user_id = %(user)s"


async def get(tx: Transaction, caller: Caller) -> DictRow | None:
    return await tx.fetch_one(
        f"SELECT {COLUMNS} FROM ai.preferences WHERE {MINE}",
        {"tenant": caller.tenant_id, "app": caller.app_id, "user": caller.user_id},
    )


async def put(
    tx: Transaction, caller: Caller, preferences_id: UUID, fields: dict[str, Any]
) -> DictRow:
    """The caller's preferences, created or replaced whole."""
    row = await tx.fetch_one(
        f"""INSERT INTO ai.preferences
                   (tenant_id, app_id, id, app_user_id, preferred_personality_id, language, tone,
                    extras)
            VALUES (%(tenant)s, %(app)s, %(id)s, %(user)s, %(preferred_personality_id)s,
                    %(language)s, %(tone)s, %(extras)s)
            ON CONFLICT (tenant_id, app_id, app_user_id) DO UPDATE
               SET preferred_personality_id = EXCLUDED.preferred_personality_id,
                   language = EXCLUDED.language, tone = EXCLUDED.tone,
                   extras = EXCLUDED.extras, updated_at = EXCLUDED.updated_at
            RETURNING {COLUMNS}""",
        {
            "tenant": caller.tenant_id,
            "app": caller.app_id,
            "user": caller.user_id,
            "id": preferences_id,
            **fields,
            "extras": Jsonb(fields["extras"]),
        },
    )
    assert row is not None
    return row
