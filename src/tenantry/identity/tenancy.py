"""What identity needs to know about tenants.

The tenants feature sits above identity, so identity names the little it uses here and the
composition root passes the tenant directory, which has exactly this shape.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from tenantry.kit.errors import NotFound

if TYPE_CHECKING:
    from uuid import UUID


class ServingTenant(Protocol):
    @property
    def id(self) -> UUID: ...

    @property
    def slug(self) -> str: ...

    @property
    def status(self) -> str: ...

    @property
    def app_ids(self) -> frozenset[UUID]: ...

    @property
    def disabled_app_ids(self) -> frozenset[UUID]: ...


def has_app(tenant: ServingTenant, app_id: UUID) -> bool:
    """Whether the tenant has the app, enabled or disabled: a disabled app's callers are told
    so (`require_serving`: `app_disabled`), as its routes are, rather than not found."""
    return app_id in tenant.app_ids or app_id in tenant.disabled_app_ids


class TenantGate(Protocol):
    async def get(self, tenant_id: UUID) -> ServingTenant | None: ...

    async def by_slug(self, slug: str) -> ServingTenant | None: ...

    async def require_serving(self, tenant_id: UUID, app_id: UUID) -> ServingTenant:
        """The tenant, if it may serve `app_id` now (active, app enabled); raises otherwise."""
        ...


async def serving_tenant_id(tenants: TenantGate, app_id: UUID, slug: str) -> UUID:
    """The tenant an anonymous caller names for an app, if it serves the app now."""
    tenant = await tenants.by_slug(slug)
    if tenant is None or not has_app(tenant, app_id):
        raise NotFound("no such tenant for this app")
    await tenants.require_serving(tenant.id, app_id)
    return tenant.id
