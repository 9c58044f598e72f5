"""Guests: the host's marker (read in the host's context) and the platform-only link to the
home identity. Every statement here but `is_guest` runs on the platform path."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tenantry.kit.ids import uuid7

if TYPE_CHECKING:
    from uuid import UUID

    from tenantry.kit.db import Transaction


async def admit(
    tx: Transaction,
    host_tenant_id: UUID,
    app_id: UUID,
    host_user_id: UUID,
    home_tenant_id: UUID,
    home_user_id: UUID,
) -> None:
    await tx.execute(
        """INSERT INTO tenantry.guests (tenant_id, id, guest_app_id, app_user_id)
           VALUES (%s, %s, %s, %s)""",
        [host_tenant_id, uuid7(), app_id, host_user_id],
    )
    await tx.execute(
        """INSERT INTO tenantry.guest_links
                  (tenant_id, id, guest_app_id, app_user_id, home_tenant_id, home_app_user_id)
           VALUES (%s, %s, %s, %s, %s, %s)""",
        [host_tenant_id, uuid7(), app_id, host_user_id, home_tenant_id, home_user_id],
    )


async def is_guest(tx: Transaction, tenant_id: UUID, user_id: UUID) -> bool:
    row = await tx.fetch_one(
        """SELECT EXISTS (SELECT 1 FROM tenantry.guests
                           WHERE tenant_id = %s AND app_user_id = %s) AS guest""",
        [tenant_id, user_id],
    )
    return bool(row and row["guest"])


async def home_of(tx: Transaction, host_tenant_id: UUID, host_user_id: UUID) -> UUID | None:
    """The guest's home tenant (platform path)."""
    row = await tx.fetch_one(
        """SELECT home_tenant_id FROM tenantry.guest_links
            WHERE tenant_id = %s AND app_user_id = %s""",
        [host_tenant_id, host_user_id],
    )
    return row["home_tenant_id"] if row else None
