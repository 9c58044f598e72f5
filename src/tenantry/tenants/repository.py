"""SQL for tenants. Cross-tenant reads run in a platform transaction."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from tenantry.kit.ids import uuid7

if TYPE_CHECKING:
    from uuid import UUID

    from tenantry.kit.db import Transaction


@dataclass(frozen=True, slots=True)
class Tenant:
    id: UUID
    slug: str
    name: str
    status: str
    plan: str


async def get_by_slug(tx: Transaction, slug: str) -> Tenant | None:
    row = await tx.fetch_one(
        "SELECT id, slug, name, status, plan FROM tenantry.tenants WHERE slug = %s", [slug]
    )
    return Tenant(**row) if row else None


async def create(tx: Transaction, *, slug: str, name: str, status: str, plan: str) -> Tenant:
    row = await tx.fetch_one(
        """
        INSERT INTO tenantry.tenants (id, slug, name, status, plan) VALUES (%s, %s, %s, %s, %s)
        RETURNING id, slug, name, status, plan
        """,
        [uuid7(), slug, name, status, plan],
    )
    assert row is not None
    return Tenant(**row)


async def enable_app(tx: Transaction, tenant_id: UUID, app_id: UUID) -> None:
    await tx.execute(
        """
        INSERT INTO tenantry.tenant_apps (tenant_id, app_id) VALUES (%s, %s)
        ON CONFLICT DO NOTHING
        """,
        [tenant_id, app_id],
    )
