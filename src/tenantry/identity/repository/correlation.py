"""Cross-app correlation: one person's identities across the apps of a tenant.

The runtime role cannot read this table (it holds other apps' identities). It records its own
new identities through `tenantry.correlate_app_user`, a definer function that takes the tenant,
the app and the email from the verified context and the user's row (revisions 0007, 0027); reading
the table is for the platform path (tenant administrators' people views).
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from uuid import UUID

from tenantry.identity.models import AppIdentity

if TYPE_CHECKING:
    from tenantry.identity.models import AppUser
    from tenantry.kit.db import Transaction


async def correlate_user(tx: Transaction, user: AppUser) -> UUID:
    """Attach the context's user to the person with the same email in its tenant, or a new
    person, in the caller's tenant transaction; returns the person."""
    row = await tx.fetch_one(
        "SELECT tenantry.correlate_app_user(%s, %s) AS person_id", [user.tenant_id, user.id]
    )
    assert row is not None
    return UUID(str(row["person_id"]))


_IDENTITY = """
    SELECT c.person_id, c.app_id, a.slug AS app_slug, c.app_user_id, u.email, u.email_verified,
           u.created_at, u.last_login_at
      FROM tenantry.cross_app_user_correlation c
      JOIN tenantry.app_users u
        ON u.tenant_id = c.tenant_id AND u.app_id = c.app_id AND u.id = c.app_user_id
      JOIN tenantry.apps a ON a.id = c.app_id
"""


async def identities_of_person(
    tx: Transaction, tenant_id: UUID, person_id: UUID
) -> list[AppIdentity]:
    rows = await tx.fetch_all(
        _IDENTITY + " WHERE c.tenant_id = %s AND c.person_id = %s ORDER BY a.slug",
        [tenant_id, person_id],
    )
    return [AppIdentity(**row) for row in rows]


async def identities_by_email(tx: Transaction, tenant_id: UUID, email: str) -> list[AppIdentity]:
    rows = await tx.fetch_all(
        _IDENTITY + " WHERE c.tenant_id = %s AND c.email_normalized = %s ORDER BY a.slug",
        [tenant_id, email.strip().lower()],
    )
    return [AppIdentity(**row) for row in rows]
