"""The world the isolation suites attack: its shape, and how a raw connection takes a context."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from psycopg import sql

from tenantry.kit.context import TenantContext

if TYPE_CHECKING:
    from uuid import UUID

    import psycopg


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


def apply(conn: psycopg.Connection[dict], token: str) -> None:  # type: ignore[type-arg]
    """As `Database` sets it on Citus (a `SET LOCAL`, which Citus forwards to the workers);
    on one server the same as `set_config(…, true)`."""
    conn.execute(sql.SQL("SET LOCAL tenantry.context = {}").format(sql.Literal(token)))
