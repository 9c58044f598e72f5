"""Cross-app correlation: one person's identities across the apps of a tenant.

Only the platform role can read or write this table, so app users never see it; tenant
administrators reach it through the admin endpoints, which run on the platform path.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING
from uuid import UUID

from tenantry.kit.ids import uuid7

if TYPE_CHECKING:
    from datetime import datetime

    from tenantry.kit.db import Transaction


@dataclass(frozen=True, slots=True)
class AppIdentity:
    person_id: UUID
    app_id: UUID
    app_slug: str
    app_user_id: UUID
    email: str
    email_verified: bool
    created_at: datetime
    last_login_at: datetime | None


async def correlate(
    tx: Transaction, tenant_id: UUID, app_id: UUID, user_id: UUID, email: str
) -> UUID:
    """Attach an identity to the person with the same email in this tenant, or a new person."""
    normalized = email.strip().lower()
    # Two sign-ups with one email in two apps at once must agree on the person.
    await tx.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [f"{tenant_id}:{normalized}"]
    )
    row = await tx.fetch_one(
        """INSERT INTO tenantry.cross_app_user_correlation
               (tenant_id, id, person_id, app_id, app_user_id, email_normalized)
           VALUES (%(tenant)s, %(id)s,
                   coalesce((SELECT person_id FROM tenantry.cross_app_user_correlation
                              WHERE tenant_id = %(tenant)s AND email_normalized = %(email)s
                              LIMIT 1), %(person)s),
                   %(app)s, %(user)s, %(email)s)
           ON CONFLICT (tenant_id, app_id, app_user_id) DO UPDATE SET
               email_normalized = excluded.email_normalized
           RETURNING person_id""",
        {
            "tenant": tenant_id,
            "id": uuid7(),
            "person": uuid7(),
            "app": app_id,
            "user": user_id,
            "email": normalized,
        },
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
