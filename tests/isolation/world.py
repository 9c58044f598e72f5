"""The world the isolation suites attack: its shape, and how a raw connection takes a context."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from psycopg import sql

from tenantry.kit.context import TenantContext
from tests.support.wiring import FIXTURES

if TYPE_CHECKING:
    from uuid import UUID

    import psycopg

    from tenantry.services import Services


@dataclass(frozen=True)
class World:
    tenant_a: UUID
    tenant_b: UUID
    app_1: UUID  # thinktank
    app_2: UUID  # launchboard
    # (tenant, app) -> user ids and preference ids
    users: dict[tuple[UUID, UUID], list[UUID]]

    def context(self, tenant: UUID, app: UUID, **kwargs: object) -> TenantContext:
        return TenantContext(tenant_id=tenant, app_id=app, **kwargs)  # type: ignore[arg-type]


APPS = ("thinktank", "launchboard")


async def build_world(services: Services, slugs: tuple[str, str]) -> World:
    """Two tenants (`slugs`) with both apps, provisioned and signed up through the services:
    the same email in every tenant and app, four separate identities."""
    tenants = []
    for slug, name in zip(slugs, ("A", "B"), strict=True):
        tenant, apps = await services.tenant_admin.ensure_tenant(
            slug, f"Tenant {name}", "free", APPS, by=FIXTURES
        )
        tenants.append(tenant)
    app_1, app_2 = (apps[slug] for slug in APPS)
    created: dict[tuple[UUID, UUID], list[UUID]] = {}
    for tenant in tenants:
        for app in (app_1, app_2):
            created[(tenant.id, app.id)] = [
                (
                    await services.users.add(
                        tenant.id, app.id, email, password_hash=None, preferences={"theme": "dark"}
                    )
                ).id
                for email in ("same@example.com", f"{app.slug}@{tenant.slug}.test")
            ]
    return World(tenants[0].id, tenants[1].id, app_1.id, app_2.id, created)


def apply(conn: psycopg.Connection[dict], token: str) -> None:  # type: ignore[type-arg]
    """As `Database` sets it on Citus (a `SET LOCAL`, which Citus forwards to the workers);
    on one server the same as `set_config(…, true)`."""
    conn.execute(sql.SQL("SET LOCAL tenantry.context = {}").format(sql.Literal(token)))
