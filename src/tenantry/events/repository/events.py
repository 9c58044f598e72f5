"""Event types, events and consumption records."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from psycopg.types.json import Jsonb

from tenantry.events.models import EventType, StoredEvent

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import datetime
    from uuid import UUID

    from tenantry.kit.db import Transaction

_EVENT_COLUMNS = "id, tenant_id, app_id, type, key, payload, created_at"


async def register_types(
    tx: Transaction, app_id: UUID, version: str, emits: Sequence[tuple[str, dict[str, Any]]]
) -> list[str]:
    """Upsert an app's types; returns the types another app already owns (left untouched)."""
    if not emits:
        return []
    rows = await tx.fetch_all(
        """INSERT INTO tenantry.event_types AS t (type, catalog_app_id, schema, version)
           SELECT e.type, %s, e.schema, %s
             FROM unnest(%s::text[], %s::jsonb[]) AS e(type, schema)
           ON CONFLICT (type) DO UPDATE
              SET schema = excluded.schema, version = excluded.version,
                  registered_at = excluded.registered_at
            WHERE t.catalog_app_id = excluded.catalog_app_id
           RETURNING t.type""",
        [app_id, version, [t for t, _ in emits], [Jsonb(s) for _, s in emits]],
    )
    stored = {row["type"] for row in rows}
    return [t for t, _ in emits if t not in stored]


async def event_type(tx: Transaction, name: str) -> EventType | None:
    row = await tx.fetch_one(
        "SELECT type, catalog_app_id, schema, version FROM tenantry.event_types WHERE type = %s",
        [name],
    )
    return EventType(**row) if row else None


async def event_types(tx: Transaction) -> list[EventType]:
    rows = await tx.fetch_all(
        "SELECT type, catalog_app_id, schema, version FROM tenantry.event_types ORDER BY type"
    )
    return [EventType(**row) for row in rows]


async def insert_event(
    tx: Transaction,
    *,
    tenant_id: UUID,
    app_id: UUID,
    event_id: UUID,
    type: str,  # noqa: A002 - the event's field name
    key: str | None,
    payload: Any,  # noqa: ANN401 - any JSON value the type's schema accepts
) -> StoredEvent:
    """The insert fires `tenantry.event_fan_out`: deliveries and the worker's wake-up."""
    row = await tx.fetch_one(
        f"""INSERT INTO tenantry.events (tenant_id, app_id, id, type, key, payload)
            VALUES (%s, %s, %s, %s, %s, %s) RETURNING {_EVENT_COLUMNS}""",
        [tenant_id, app_id, event_id, type, key, Jsonb(payload)],
    )
    assert row is not None
    return StoredEvent(**row)


async def insert_events(
    tx: Transaction,
    *,
    tenant_id: UUID,
    app_id: UUID,
    rows: Sequence[tuple[UUID, str, str | None, Any]],
) -> int:
    """Several events in one statement (id, type, key, payload each); the fan-out trigger runs
    for each row as for `insert_event`."""
    # One JSON document rather than four arrays: psycopg quotes each element of a jsonb[]
    # array with a regular expression, which cost more than the rest of publishing.
    # RETURNING: Citus then inserts through its intermediate results instead of a COPY into
    # the shard, which row-level security refuses.
    document = [{"id": str(i), "type": t, "key": k, "payload": p} for i, t, k, p in rows]
    cursor = await tx.execute(
        """INSERT INTO tenantry.events (tenant_id, app_id, id, type, key, payload)
           SELECT %s, %s, r.id, r.type, r.key, r.payload
             FROM jsonb_to_recordset(%s::jsonb)
                  AS r (id uuid, type text, key text, payload jsonb)
           RETURNING id""",
        [tenant_id, app_id, Jsonb(document)],
    )
    return cursor.rowcount


async def events(
    tx: Transaction,
    tenant_id: UUID,
    *,
    app_id: UUID | None = None,
    type: str | None = None,  # noqa: A002 - the event's field name
    before: tuple[datetime, UUID] | None = None,
    limit: int = 50,
) -> list[StoredEvent]:
    """Newest first, in keyset pages: `before` is the (created_at, id) of the last row seen."""
    rows = await tx.fetch_all(
        f"""SELECT {_EVENT_COLUMNS} FROM tenantry.events
             WHERE tenant_id = %(tenant)s
               AND (%(app)s::uuid IS NULL OR app_id = %(app)s)
               AND (%(type)s::text IS NULL OR type = %(type)s)
               AND (%(at)s::timestamptz IS NULL OR (created_at, id) < (%(at)s, %(id)s::uuid))
             ORDER BY created_at DESC, id DESC LIMIT %(limit)s""",
        {
            "tenant": tenant_id,
            "app": app_id,
            "type": type,
            "at": before[0] if before else None,
            "id": before[1] if before else None,
            "limit": limit,
        },
    )
    return [StoredEvent(**row) for row in rows]


async def event(tx: Transaction, tenant_id: UUID, event_id: UUID) -> StoredEvent | None:
    row = await tx.fetch_one(
        f"SELECT {_EVENT_COLUMNS} FROM tenantry.events WHERE tenant_id = %s AND id = %s",
        [tenant_id, event_id],
    )
    return StoredEvent(**row) if row else None


async def consume(
    tx: Transaction, tenant_id: UUID, app_id: UUID, consumer: str, event_id: UUID
) -> bool:
    """Record that `consumer` applied the event; False if it already had."""
    cursor = await tx.execute(
        """INSERT INTO tenantry.event_consumption (tenant_id, app_id, id, consumer, event_id)
           VALUES (%s, %s, gen_random_uuid(), %s, %s)
           ON CONFLICT (tenant_id, app_id, consumer, event_id) DO NOTHING""",
        [tenant_id, app_id, consumer, event_id],
    )
    return cursor.rowcount == 1


async def ensure_partitions(tx: Transaction, months_ahead: int, months_back: int = 0) -> list[str]:
    rows = await tx.fetch_all(
        "SELECT tenantry.ensure_event_partitions(%s, %s) AS name", [months_ahead, months_back]
    )
    return [row["name"] for row in rows]


async def analyze_partitions(tx: Transaction) -> list[str]:
    rows = await tx.fetch_all("SELECT tenantry.analyze_event_partitions() AS name")
    return [row["name"] for row in rows]


async def drop_partitions(tx: Transaction, older_than_months: int) -> list[str]:
    rows = await tx.fetch_all(
        "SELECT tenantry.drop_event_partitions(%s) AS name", [older_than_months]
    )
    return [row["name"] for row in rows]


async def partitions(tx: Transaction) -> list[str]:
    rows = await tx.fetch_all(
        """SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
            WHERE i.inhparent = 'tenantry.events'::regclass ORDER BY c.relname"""
    )
    return [row["name"] for row in rows]


async def tenant_id(tx: Transaction, slug: str) -> UUID | None:
    """Any tenant, serving or not: replay and the stream outlive a suspension."""
    row = await tx.fetch_one("SELECT id FROM tenantry.tenants WHERE slug = %s", [slug])
    return row["id"] if row else None
