"""Which consumers receive which event types, per tenant."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tenantry.events.models import Subscription

if TYPE_CHECKING:
    from collections.abc import Sequence
    from uuid import UUID

    from tenantry.kit.db import Transaction

_COLUMNS = "id, tenant_id, consumer_app_id, consumer, types, active, created_at"


async def create(
    tx: Transaction,
    *,
    tenant_id: UUID,
    subscription_id: UUID,
    consumer_app_id: UUID,
    consumer: str,
    types: Sequence[str],
) -> Subscription:
    row = await tx.fetch_one(
        f"""INSERT INTO tenantry.event_subscriptions
                   (tenant_id, id, consumer_app_id, consumer, types)
            VALUES (%s, %s, %s, %s, %s) RETURNING {_COLUMNS}""",
        [tenant_id, subscription_id, consumer_app_id, consumer, list(types)],
    )
    assert row is not None
    return Subscription(**row)


async def update(
    tx: Transaction,
    tenant_id: UUID,
    subscription_id: UUID,
    *,
    types: Sequence[str] | None,
    active: bool | None,
) -> Subscription | None:
    row = await tx.fetch_one(
        f"""UPDATE tenantry.event_subscriptions
               SET types = coalesce(%s, types), active = coalesce(%s, active)
             WHERE tenant_id = %s AND id = %s RETURNING {_COLUMNS}""",
        [list(types) if types is not None else None, active, tenant_id, subscription_id],
    )
    return Subscription(**row) if row else None


async def delete(tx: Transaction, tenant_id: UUID, subscription_id: UUID) -> bool:
    cursor = await tx.execute(
        "DELETE FROM tenantry.event_subscriptions WHERE tenant_id = %s AND id = %s",
        [tenant_id, subscription_id],
    )
    return cursor.rowcount == 1


async def list_for(tx: Transaction, tenant_id: UUID) -> list[Subscription]:
    rows = await tx.fetch_all(
        f"""SELECT {_COLUMNS} FROM tenantry.event_subscriptions
             WHERE tenant_id = %s ORDER BY consumer""",
        [tenant_id],
    )
    return [Subscription(**row) for row in rows]


async def get(tx: Transaction, tenant_id: UUID, subscription_id: UUID) -> Subscription | None:
    row = await tx.fetch_one(
        f"SELECT {_COLUMNS} FROM tenantry.event_subscriptions WHERE tenant_id = %s AND id = %s",
        [tenant_id, subscription_id],
    )
    return Subscription(**row) if row else None
