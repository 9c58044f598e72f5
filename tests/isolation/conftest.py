"""Two tenants, two apps each, real rows: the ground every isolation test attacks from."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import psycopg
import pytest
from psycopg.rows import dict_row

from tenantry.apps import repository as apps
from tenantry.identity import repository as users
from tenantry.kit.context import ContextSigner, TenantContext
from tenantry.kit.ids import uuid7
from tenantry.tenants import repository as tenants

if TYPE_CHECKING:
    from collections.abc import Iterator
    from uuid import UUID

    from tenantry.kit.db import Database


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


@pytest.fixture(scope="session")
async def world(db: Database) -> World:
    suffix = uuid7().hex[-8:]
    async with db.platform_transaction() as tx:
        a = await tenants.create(
            tx, slug=f"a-{suffix}", name="Tenant A", status="active", plan="free"
        )
        b = await tenants.create(
            tx, slug=f"b-{suffix}", name="Tenant B", status="active", plan="free"
        )
        app_1 = await apps.get_by_slug(tx, "thinktank")
        app_2 = await apps.get_by_slug(tx, "launchboard")
        assert app_1
        assert app_2
        for tenant in (a, b):
            for app in (app_1, app_2):
                await tenants.enable_app(tx, tenant.id, app.id)
    created: dict[tuple[UUID, UUID], list[UUID]] = {}
    for tenant in (a, b):
        for app in (app_1, app_2):
            async with db.tenant_transaction(TenantContext(tenant.id, app.id)) as tx:
                ids = []
                # The same email in every tenant and app: four separate identities.
                for email in ("same@example.com", f"{app.slug}@{tenant.slug}.test"):
                    user = await users.create(tx, tenant.id, app.id, email)
                    await users.set_preference(tx, user, "theme", "dark")
                    ids.append(user.id)
                created[(tenant.id, app.id)] = ids
    return World(a.id, b.id, app_1.id, app_2.id, created)


@pytest.fixture
def runtime(urls) -> Iterator[psycopg.Connection[dict]]:  # type: ignore[no-untyped-def]
    """A raw runtime-role connection, as any SQL running in a request would have."""
    with psycopg.connect(urls.runtime, row_factory=dict_row) as conn:
        yield conn


def apply(conn: psycopg.Connection[dict], token: str) -> None:  # type: ignore[type-arg]
    conn.execute("SELECT set_config('tenantry.context', %s, true)", [token])


def signed(signer: ContextSigner, context: TenantContext) -> str:
    return signer.sign_tenant(context)
