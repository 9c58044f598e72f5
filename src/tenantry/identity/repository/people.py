"""One person's identities in the other tenants of an app: the one identity lookup that spans
tenants, so it runs on the platform path only, and answers with a narrow projection (which
tenant, which identity, whether it has a second factor) rather than whole user rows.

"The same person" (see `identity.people`): the same address, proven by Tenantry's own mailed
code on both identities, in the same app, both active and verified, in active tenants that have
the app enabled.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tenantry.identity.models import TenantIdentity

if TYPE_CHECKING:
    from uuid import UUID

    from tenantry.kit.db import Transaction

_PROVEN = "{u}.status = 'active' AND {u}.email_verified AND {u}.email_proven_at IS NOT NULL"
_ME = _PROVEN.format(u="me")
_THEM = _PROVEN.format(u="u")


async def identities_of(
    tx: Transaction, tenant_id: UUID, app_id: UUID, user_id: UUID
) -> list[TenantIdentity]:
    """The identities of the person signed in as `user_id` in every tenant serving the app
    (their own included); empty unless that identity itself qualifies."""
    rows = await tx.fetch_all(
        f"""SELECT u.tenant_id, t.slug AS tenant_slug, t.name AS tenant_name,
                   u.id AS app_user_id, u.email_normalized AS email, u.mfa_enabled
              FROM tenantry.app_users me
              JOIN tenantry.app_users u
                ON u.app_id = me.app_id AND u.email_normalized = me.email_normalized
               AND u.email_proven_at IS NOT NULL
              JOIN tenantry.tenants t ON t.id = u.tenant_id AND t.status = 'active'
              JOIN tenantry.tenant_apps ta ON ta.tenant_id = u.tenant_id AND ta.app_id = u.app_id
               AND ta.status = 'enabled'
             WHERE me.tenant_id = %s AND me.app_id = %s AND me.id = %s
               AND {_ME} AND {_THEM}
             ORDER BY t.slug""",
        [tenant_id, app_id, user_id],
    )
    return [TenantIdentity(**row) for row in rows]
