"""Two tenants, two apps each, real rows: the ground every isolation test attacks from."""

from __future__ import annotations

from typing import TYPE_CHECKING

import psycopg
import pytest
from psycopg.rows import dict_row

from tenantry.kit.ids import uuid7
from tests.isolation.world import APPS, World
from tests.support.wiring import FIXTURES, services_for

if TYPE_CHECKING:
    from collections.abc import Iterator
    from uuid import UUID

    from tenantry.kit.db import Database


@pytest.fixture(scope="session")
async def world(db: Database) -> World:
    services = services_for(db)
    suffix = uuid7().hex[-8:]
    tenants = []
    for name in ("a", "b"):
        tenant, apps = await services.tenant_admin.ensure_tenant(
            f"{name}-{suffix}", f"Tenant {name.upper()}", "free", APPS, by=FIXTURES
        )
        tenants.append(tenant)
    a, b = tenants
    app_1, app_2 = (apps[slug] for slug in APPS)
    created: dict[tuple[UUID, UUID], list[UUID]] = {}
    for tenant in (a, b):
        for app in (app_1, app_2):
            # The same email in every tenant and app: four separate identities.
            created[(tenant.id, app.id)] = [
                (
                    await services.users.add(
                        tenant.id, app.id, email, password_hash=None, preferences={"theme": "dark"}
                    )
                ).id
                for email in ("same@example.com", f"{app.slug}@{tenant.slug}.test")
            ]
    return World(a.id, b.id, app_1.id, app_2.id, created)


@pytest.fixture
def runtime(urls) -> Iterator[psycopg.Connection[dict]]:  # type: ignore[no-untyped-def]
    """A raw runtime-role connection, as any SQL running in a request would have."""
    with psycopg.connect(urls.runtime, row_factory=dict_row) as conn:
        yield conn
