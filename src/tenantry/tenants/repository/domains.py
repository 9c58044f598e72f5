"""SQL for a tenant's domains and the global claims that make each verified domain unique."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tenantry.kit.ids import uuid7

if TYPE_CHECKING:
    from datetime import datetime
    from uuid import UUID

    from tenantry.kit.db import Transaction


async def list_for(tx: Transaction, tenant_id: UUID) -> list[dict[str, object]]:
    return await tx.fetch_all(
        """SELECT domain, verified_at, is_primary, verification_token
             FROM tenantry.tenant_domains WHERE tenant_id = %s ORDER BY domain""",
        [tenant_id],
    )


async def add(tx: Transaction, tenant_id: UUID, domain: str, token: str) -> None:
    await tx.execute(
        """INSERT INTO tenantry.tenant_domains (tenant_id, id, domain, verification_token)
           VALUES (%s, %s, %s, %s)""",
        [tenant_id, uuid7(), domain, token],
    )


async def verification(
    tx: Transaction, tenant_id: UUID, domain: str
) -> tuple[str, datetime | None] | None:
    """The domain's verification token and when it was verified, if it is the tenant's."""
    row = await tx.fetch_one(
        """SELECT verification_token, verified_at FROM tenantry.tenant_domains
            WHERE tenant_id = %s AND domain = %s""",
        [tenant_id, domain],
    )
    return (row["verification_token"], row["verified_at"]) if row else None


async def lock_unverified(tx: Transaction, tenant_id: UUID, domain: str) -> str | None:
    """The token of a still unverified domain, locked until the transaction ends."""
    row = await tx.fetch_one(
        """SELECT verification_token FROM tenantry.tenant_domains
            WHERE tenant_id = %s AND domain = %s AND verified_at IS NULL FOR UPDATE""",
        [tenant_id, domain],
    )
    return row["verification_token"] if row else None


async def claim(tx: Transaction, tenant_id: UUID, domain: str) -> None:
    """Claim a domain for one tenant, installation-wide (a second claim is a Conflict), and
    mark it verified."""
    await tx.execute(
        "INSERT INTO tenantry_private.domain_claims (domain, tenant_id) VALUES (%s, %s)",
        [domain, tenant_id],
    )
    await tx.execute(
        """UPDATE tenantry.tenant_domains SET verified_at = now()
            WHERE tenant_id = %s AND domain = %s""",
        [tenant_id, domain],
    )


async def make_primary(tx: Transaction, tenant_id: UUID, domain: str) -> bool:
    """Make a verified domain the tenant's only primary one; False if it is not verified."""
    cur = await tx.execute(
        """UPDATE tenantry.tenant_domains SET is_primary = (domain = %s)
            WHERE tenant_id = %s AND (domain = %s AND verified_at IS NOT NULL OR is_primary)
            RETURNING domain, is_primary""",
        [domain, tenant_id, domain],
    )
    return any(r["is_primary"] for r in await cur.fetchall())


async def remove(tx: Transaction, tenant_id: UUID, domain: str) -> bool:
    """Remove a domain and release its claim; False if the tenant had no such domain."""
    cur = await tx.execute(
        "DELETE FROM tenantry.tenant_domains WHERE tenant_id = %s AND domain = %s",
        [tenant_id, domain],
    )
    if cur.rowcount == 0:
        return False
    await tx.execute(
        "DELETE FROM tenantry_private.domain_claims WHERE domain = %s AND tenant_id = %s",
        [domain, tenant_id],
    )
    return True


async def claimed_by_active_tenant(tx: Transaction, domain: str) -> str | None:
    """The slug of the active tenant that verified `domain`."""
    row = await tx.fetch_one(
        """SELECT t.slug FROM tenantry_private.domain_claims c
             JOIN tenantry.tenants t ON t.id = c.tenant_id
            WHERE c.domain = %s AND t.status = 'active'""",
        [domain],
    )
    return row["slug"] if row else None
