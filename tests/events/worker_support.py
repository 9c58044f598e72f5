"""A tenant with an event type, a subscription and the worker's view of its deliveries."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tenantry.kit.ids import uuid7
from tests.registry.manifests import manifest, new_slug
from tests.support.accounts import make_tenant
from tests.support.database import ROLES
from tests.support.wiring import FIXTURES, services_for

if TYPE_CHECKING:
    from uuid import UUID

    from tenantry.events.models import DeliveryRecord
    from tenantry.kit.db import Database
    from tests.support.database import Urls


@dataclass(frozen=True)
class Stream:
    """One tenant whose `consumer` is subscribed to `type`; `derived` is a second type nobody
    subscribes to (the effect of `tests.worker.effects`)."""

    db: Database
    tenant_id: UUID
    app_id: UUID
    type: str
    derived: str
    consumer: str

    async def publish(self, payload: dict[str, Any] | None = None, key: str | None = None) -> UUID:
        event = await services_for(self.db).outbox.publish(
            self.tenant_id, self.app_id, self.type, payload or {}, key
        )
        return event.id

    async def deliveries(self, status: str | None = None) -> list[DeliveryRecord]:
        return await services_for(self.db).outbox.deliveries(
            self.tenant_id, consumer=self.consumer, status=status, limit=500
        )

    async def derived_events(self) -> list[str]:
        """The `of` of every derived event: one per applied effect."""
        events = await services_for(self.db).outbox.stream(
            self.tenant_id, type=self.derived, limit=500
        )
        return [event.payload["of"] for event in events]


async def make_stream(db: Database, consumer: str | None = None) -> Stream:
    services = services_for(db)
    slug = new_slug()
    kind, derived = f"{slug}.report.ready", f"{slug}.report.applied"
    schema = {"type": "object"}
    emits = [{"type": kind, "schema": schema}, {"type": derived, "schema": schema}]
    events = {"emits": emits, "consumes": []}
    await services.registry.publish(manifest(slug, events=events), by=FIXTURES)
    tenant = await make_tenant(db, "thinktank")
    app_id = services.apps.by_slug("thinktank").id
    consumer = consumer or f"tests.c{uuid7().hex[-10:]}"
    await services.outbox.subscribe(tenant.id, app_id, consumer, [kind])
    return Stream(db, tenant.id, app_id, kind, derived, consumer)


def worker_process(urls: Urls, *args: str) -> subprocess.Popen[str]:
    """`tenantry worker` in its own process, with the tests' consumers."""
    env = {
        **os.environ,
        "TENANTRY_DATABASE_URL": urls.admin,
        "TENANTRY_ROLE_PREFIX": ROLES.prefix,
        "TENANTRY_LOG_LEVEL": "WARNING",
    }
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tenantry.cli",
            "worker",
            "--consumers",
            "tests.events.worker_consumers",
            "--registered-only",
            *args,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
