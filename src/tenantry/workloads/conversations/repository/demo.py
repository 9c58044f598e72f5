"""The demo seeder's one read outside the conversations' tables: app users by email."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence
    from uuid import UUID

    from tenantry.library import Transaction


async def app_users(
    tx: Transaction, tenant_id: UUID, app_id: UUID, emails: Sequence[str]
) -> dict[str, UUID]:
    """The ids of those of `emails` who are users of the app, by email."""
    rows = await tx.fetch_all(
        """SELECT lower(email) AS email, id FROM tenantry.app_users
            WHERE tenant_id = %s AND app_id = %s AND lower(email) = ANY (%s)""",
        [tenant_id, app_id, [email.lower() for email in emails]],
    )
    return {row["email"]: row["id"] for row in rows}
