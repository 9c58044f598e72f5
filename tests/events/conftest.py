"""An app that emits typed events (published through the registry, so its types come from its
manifest), a tenant that has it, and the events service over the test database."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest

from tenantry.kit.ids import uuid7
from tests.registry.manifests import manifest, new_slug
from tests.support.wiring import FIXTURES, services_for

if TYPE_CHECKING:
    from uuid import UUID

    from tenantry.events.service import Events
    from tenantry.kit.db import Database
    from tenantry.services import Services

ORDER_SCHEMA = {
    "type": "object",
    "required": ["order_id", "total"],
    "properties": {
        "order_id": {"type": "string"},
        "total": {"type": "integer", "minimum": 0},
        "lines": {"type": "array", "items": {"type": "object", "required": ["sku"]}},
    },
}


@dataclass(frozen=True)
class World:
    services: Services
    app_slug: str
    app_id: UUID
    consumer_app_id: UUID
    tenant_id: UUID
    tenant_slug: str

    @property
    def events(self) -> Events:
        return self.services.outbox

    def type(self, name: str) -> str:
        return f"{self.app_slug}.{name}"


def emitting_manifest(slug: str, version: str = "1.0.0") -> dict[str, object]:
    return manifest(
        slug,
        version,
        events={
            "emits": [
                {"type": f"{slug}.order.created", "schema": ORDER_SCHEMA},
                {"type": f"{slug}.order.paid", "schema": {"type": "object"}},
                {"type": f"{slug}.invoice.sent", "schema": {"type": "object"}},
            ],
            "consumes": [],
        },
    )


@pytest.fixture
async def world(db: Database) -> World:
    services = services_for(db)
    slug = new_slug()
    publication = await services.registry.publish(emitting_manifest(slug), by=FIXTURES)
    await services.apps.reload()
    tenant_slug = f"t-{uuid7().hex[-10:]}"
    tenant, _ = await services.tenant_admin.ensure_tenant(
        tenant_slug, tenant_slug, "free", [slug, "thinktank"], by=FIXTURES
    )
    return World(
        services,
        slug,
        publication.version.app_id,
        services.apps.by_slug("thinktank").id,
        tenant.id,
        tenant_slug,
    )
