"""What identity needs to know about tenants.

The tenants feature sits above identity, so identity names the little it uses here and the
composition root passes the tenant directory, which has exactly this shape.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

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


class TenantGate(Protocol):
    async def get(self, tenant_id: UUID) -> ServingTenant | None: ...

    async def by_slug(self, slug: str) -> ServingTenant | None: ...

    async def require_serving(self, tenant_id: UUID, app_id: UUID) -> ServingTenant:
        """The tenant, if it may serve `app_id` now (active, app enabled); raises otherwise."""
        ...
