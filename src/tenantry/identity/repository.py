"""SQL for app users. Runs in a tenant transaction, so RLS limits it to the context's app."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from tenantry.kit.ids import uuid7

if TYPE_CHECKING:
    from uuid import UUID

    from tenantry.kit.db import Transaction


@dataclass(frozen=True, slots=True)
class AppUser:
    id: UUID
    tenant_id: UUID
    app_id: UUID
    email: str
    display_name: str | None
    status: str


_COLUMNS = "id, tenant_id, app_id, email, display_name, status"


async def get_by_email(
    tx: Transaction, tenant_id: UUID, app_id: UUID, email: str
) -> AppUser | None:
    row = await tx.fetch_one(
        f"""
        SELECT {_COLUMNS} FROM tenantry.app_users
         WHERE tenant_id = %s AND app_id = %s AND lower(email) = lower(%s)
        """,
        [tenant_id, app_id, email],
    )
    return AppUser(**row) if row else None


async def create(
    tx: Transaction, tenant_id: UUID, app_id: UUID, email: str, display_name: str | None = None
) -> AppUser:
    row = await tx.fetch_one(
        f"""
        INSERT INTO tenantry.app_users (tenant_id, app_id, id, email, display_name, email_verified)
        VALUES (%s, %s, %s, %s, %s, true)
        RETURNING {_COLUMNS}
        """,
        [tenant_id, app_id, uuid7(), email, display_name],
    )
    assert row is not None
    return AppUser(**row)


async def set_preference(tx: Transaction, user: AppUser, key: str, value: str) -> None:
    await tx.execute(
        """
        INSERT INTO tenantry.app_user_preferences (tenant_id, app_id, id, app_user_id, key, value)
        VALUES (%s, %s, %s, %s, %s, %s::jsonb)
        ON CONFLICT (tenant_id, app_id, app_user_id, key) DO UPDATE SET value = excluded.value
        """,
        [user.tenant_id, user.app_id, uuid7(), user.id, key, value],
    )
