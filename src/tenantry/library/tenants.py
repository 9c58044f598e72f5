"""Finding a tenant by its slug, for a module's own tools (demo data, admin pages, jobs).

    acme = await find_tenant(db, "acme")
    if acme is not None:
        async with db.tenant_transaction(TenantContext(acme.id, acme.apps["thinktank"])) as tx:
            ...

Requests never need this: their principal names the tenant and app already.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from tenantry.apps.service import AppDirectory
from tenantry.tenants.service import TenantDirectory

if TYPE_CHECKING:
    from collections.abc import Mapping
    from uuid import UUID

    from tenantry.kit.db import Database

__all__ = ["TenantRef", "find_tenant"]


@dataclass(frozen=True, slots=True)
class TenantRef:
    id: UUID
    slug: str
    status: str
    # The apps the tenant has enabled, by slug.
    apps: Mapping[str, UUID]


async def find_tenant(db: Database, slug: str) -> TenantRef | None:
    """The tenant named `slug` and its enabled apps (a control-plane read), or None."""
    tenant = await TenantDirectory(db).by_slug(slug)
    if tenant is None:
        return None
    catalog = AppDirectory(db)
    await catalog.reload()
    apps = {catalog.slugs_by_id[a]: a for a in tenant.app_ids if a in catalog.slugs_by_id}
    return TenantRef(tenant.id, tenant.slug, tenant.status, apps)
