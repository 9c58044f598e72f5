"""A tenant's policy towards guests: one row, absent until first written."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tenantry.access.models import TenantPolicy
from tenantry.access.repository import _write

if TYPE_CHECKING:
    from uuid import UUID

    from tenantry.kit.db import Transaction

_POLICY = """SELECT guests_in, guests_out, guest_apps, guest_max_role
  FROM tenantry.tenant_policies WHERE tenant_id = %s"""


async def get_policy(tx: Transaction, tenant_id: UUID) -> TenantPolicy:
    """The tenant's policy, or the defaults (which deny) when none was written."""
    row = await tx.fetch_one(_POLICY, [tenant_id])
    if row is None:
        return TenantPolicy()
    return TenantPolicy(
        row["guests_in"], row["guests_out"], frozenset(row["guest_apps"]), row["guest_max_role"]
    )


async def put_policy(
    tx: Transaction, tenant_id: UUID, policy: TenantPolicy, updated_by: str
) -> None:
    await _write(
        tx,
        """INSERT INTO tenantry.tenant_policies
                  (tenant_id, guests_in, guests_out, guest_apps, guest_max_role, updated_by)
           VALUES (%s, %s, %s, %s, %s, %s)
           ON CONFLICT (tenant_id, singleton) DO UPDATE
              SET guests_in = EXCLUDED.guests_in, guests_out = EXCLUDED.guests_out,
                  guest_apps = EXCLUDED.guest_apps, guest_max_role = EXCLUDED.guest_max_role,
                  updated_by = EXCLUDED.updated_by, updated_at = EXCLUDED.updated_at""",
        [
            tenant_id,
            policy.guests_in,
            policy.guests_out,
            sorted(policy.guest_apps),
            policy.guest_max_role,
            updated_by,
        ],
    )
