"""Every statement of the audit log. Rows are only ever appended; seq, prev_hash, hash and
created_at are set by the database's chain trigger, whatever a caller sends."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, LiteralString

from psycopg.types.json import Jsonb

if TYPE_CHECKING:
    from datetime import datetime
    from uuid import UUID

    from psycopg.rows import DictRow

    from tenantry.kit.db import Transaction

COLUMNS: LiteralString = (
    "tenant_id, seq, created_at, actor, effective_user, delegated, impersonated, action, "
    "object_type, object_id, target_app_id AS app_id, metadata, metadata::text AS metadata_text, "
    "request_id, prev_hash, hash"
)
_INSERTED: LiteralString = (
    "actor, effective_user, delegated, impersonated, action, object_type, object_id, "
    "target_app_id, metadata, request_id"
)


def _values(entry: dict[str, Any]) -> list[Any]:
    return [
        entry["actor"],
        entry["effective_user"],
        entry["delegated"],
        entry["impersonated"],
        entry["action"],
        entry["object_type"],
        entry["object_id"],
        entry["app_id"],
        Jsonb(entry["metadata"]),
        entry["request_id"],
    ]


async def append(tx: Transaction, tenant_id: UUID, entry: dict[str, Any]) -> DictRow:
    row = await tx.fetch_one(
        f"INSERT INTO tenantry.audit_log (tenant_id, {_INSERTED}) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING seq, hash",
        [tenant_id, *_values(entry)],
    )
    assert row is not None
    return row


_FROM_ITEMS: LiteralString = (
    "e.item->>'actor', e.item->>'effective_user', (e.item->>'delegated')::boolean, "
    "(e.item->>'impersonated')::boolean, e.item->>'action', e.item->>'object_type', "
    "e.item->>'object_id', (e.item->>'app_id')::uuid, e.item->'metadata', e.item->>'request_id'"
)


async def append_many(
    tx: Transaction, tenant_id: UUID, entries: list[dict[str, Any]]
) -> list[DictRow]:
    """Many entries in one statement, chained in the order given."""
    items = [{**e, "app_id": str(e["app_id"]) if e["app_id"] else None} for e in entries]
    return await tx.fetch_all(
        f"""INSERT INTO tenantry.audit_log (tenant_id, {_INSERTED})
            SELECT %s, {_FROM_ITEMS}
              FROM jsonb_array_elements(%s) WITH ORDINALITY AS e(item, n)
             ORDER BY e.n
         RETURNING seq, hash""",
        [tenant_id, Jsonb(items)],
    )


async def append_for_slug(tx: Transaction, slug: str, entry: dict[str, Any]) -> DictRow | None:
    """An entry in the log of the tenant named `slug` (platform-wide changes go to the operators'
    tenant); nothing when no such tenant exists yet."""
    return await tx.fetch_one(
        f"INSERT INTO tenantry.audit_log (tenant_id, {_INSERTED}) "
        "SELECT t.id, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s FROM tenantry.tenants t "
        "WHERE t.slug = %s RETURNING seq, hash",
        [*_values(entry), slug],
    )


async def search(
    tx: Transaction,
    tenant_id: UUID,
    *,
    action: str | None,
    actor: str | None,
    object_type: str | None,
    object_id: str | None,
    since: datetime | None,
    until: datetime | None,
    before_seq: int | None,
    limit: int,
) -> list[DictRow]:
    """Newest first, one keyset page (`before_seq`: the last seq of the previous page)."""
    return await tx.fetch_all(
        f"""SELECT {COLUMNS} FROM tenantry.audit_log
             WHERE tenant_id = %(tenant)s
               AND (%(action)s::text IS NULL OR action = %(action)s)
               AND (%(actor)s::text IS NULL OR actor = %(actor)s)
               AND (%(object_type)s::text IS NULL OR object_type = %(object_type)s)
               AND (%(object_id)s::text IS NULL OR object_id = %(object_id)s)
               AND (%(since)s::timestamptz IS NULL OR created_at >= %(since)s)
               AND (%(until)s::timestamptz IS NULL OR created_at < %(until)s)
               AND (%(before)s::bigint IS NULL OR seq < %(before)s)
             ORDER BY seq DESC LIMIT %(limit)s""",
        {
            "tenant": tenant_id,
            "action": action,
            "actor": actor,
            "object_type": object_type,
            "object_id": object_id,
            "since": since,
            "until": until,
            "before": before_seq,
            "limit": limit,
        },
    )


async def batch(
    tx: Transaction,
    tenant_id: UUID,
    after_seq: int,
    limit: int,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[DictRow]:
    """The next rows of one tenant's chain in order, for verification and export."""
    return await tx.fetch_all(
        f"""SELECT {COLUMNS} FROM tenantry.audit_log
             WHERE tenant_id = %s AND seq > %s
               AND (%s::timestamptz IS NULL OR created_at >= %s)
               AND (%s::timestamptz IS NULL OR created_at < %s)
             ORDER BY seq LIMIT %s""",
        [tenant_id, after_seq, since, since, until, until, limit],
    )


async def chain_state(tx: Transaction, tenant_id: UUID) -> DictRow:
    row = await tx.fetch_one("SELECT * FROM tenantry.audit_chain_state(%s)", [tenant_id])
    assert row is not None
    return row


async def tenants(tx: Transaction, slug: str | None) -> list[DictRow]:
    """Every tenant (a chain may have lost all its rows), or the one named; oldest first."""
    return await tx.fetch_all(
        """SELECT t.id, t.slug, t.plan FROM tenantry.tenants t
            WHERE %(slug)s::text IS NULL OR t.slug = %(slug)s
            ORDER BY t.created_at, t.slug""",
        {"slug": slug},
    )


async def prune(tx: Transaction, tenant_id: UUID, before: datetime) -> DictRow:
    row = await tx.fetch_one(
        "SELECT pruned, through_seq FROM tenantry_private.prune_audit_log(%s, %s)",
        [tenant_id, before],
    )
    assert row is not None
    return row
