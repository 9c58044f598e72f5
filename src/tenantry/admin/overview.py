"""The admin pages' own read models: what only platform administrators look at (figures across
every tenant, the app catalog, the live policies and audit, the admin sessions themselves)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends

from tenantry.admin import repository
from tenantry.identity.federation import identities_in
from tenantry.isolation.audit import Finding, audit
from tenantry.isolation.roles import Roles
from tenantry.kit import dsn
from tenantry.kit.migrate import current_revision, head_revision
from tenantry.services import ServicesDep

if TYPE_CHECKING:
    from uuid import UUID

    from tenantry.identity.models import AppIdentity
    from tenantry.kit.config import Settings
    from tenantry.kit.db import Database


@dataclass(frozen=True, slots=True)
class AdminSession:
    """A valid admin-app session of an active user of the operators' tenant."""

    session_id: UUID
    app_user_id: UUID
    email: str
    tenant_id: UUID
    app_id: UUID


@dataclass(frozen=True, slots=True)
class Health:
    server_version: str
    revision: str | None
    migrations_current: bool
    pools: dict[str, dict[str, int]]
    findings: int


@dataclass(frozen=True, slots=True)
class Figures:
    by_status: list[dict[str, Any]]
    per_day: list[dict[str, Any]]
    health: Health


class AdminConsole:
    def __init__(self, db: Database, settings: Settings) -> None:
        self._db = db
        self._settings = settings

    async def session(self, session_id: UUID) -> AdminSession | None:
        async with self._db.platform_transaction() as tx:
            row = await repository.admin_session(tx, session_id, self._settings.platform_tenant)
        return AdminSession(**row) if row else None

    async def figures(self, days: int = 14) -> Figures:
        """The dashboard: tenants by status, security events per day, database health."""
        async with self._db.platform_transaction() as tx:
            by_status = await repository.tenants_by_status(tx)
            per_day = await repository.events_per_day(tx, days)
            revision = await current_revision(tx)
            version = await repository.server_version(tx)
        pools = {"runtime": self._db.runtime_pool, "platform": self._db.platform_pool}
        health = Health(
            server_version=version,
            revision=revision,
            migrations_current=revision == head_revision(),
            pools={name: pool.get_stats() for name, pool in pools.items()},
            findings=len(await self.findings()),
        )
        return Figures(by_status, per_day, health)

    async def findings(self) -> list[Finding]:
        """The isolation audit of the live catalog (blocking, so off the event loop)."""
        settings = self._settings
        return await asyncio.to_thread(
            audit, dsn.platform_url(settings), Roles(settings.role_prefix)
        )

    async def apps(self) -> list[dict[str, Any]]:
        async with self._db.platform_transaction() as tx:
            return await repository.apps(tx)

    async def policy_tables(self) -> list[dict[str, Any]]:
        async with self._db.platform_transaction() as tx:
            return await repository.policy_tables(tx)

    async def event(self, event_id: UUID) -> dict[str, Any] | None:
        async with self._db.platform_transaction() as tx:
            return await repository.event(tx, event_id)

    async def event_kinds(self) -> list[str]:
        async with self._db.platform_transaction() as tx:
            return await repository.event_kinds(tx)

    async def identities(self, tenant_id: UUID, email: str) -> list[AppIdentity]:
        """One person's identities across a tenant's apps, found by email."""
        return await identities_in(self._db, tenant_id, email=email)


async def _console(services: ServicesDep) -> AdminConsole:
    # Built per request: it holds no state, and the composition root sits below the admin edge.
    return AdminConsole(services.db, services.settings)


ConsoleDep = Annotated[AdminConsole, Depends(_console)]
