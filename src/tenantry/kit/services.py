"""The service container built once by the app factory and shared by every request."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request

if TYPE_CHECKING:
    from tenantry.apps.service import AppDirectory
    from tenantry.flags.deprecation import DeprecationRecorder
    from tenantry.flags.service import FlagService
    from tenantry.identity.external import JwksCache
    from tenantry.identity.keys import KeyRing
    from tenantry.identity.service import IdentityService
    from tenantry.kit.config import Settings
    from tenantry.kit.db import Database
    from tenantry.kit.invalidation import Listener
    from tenantry.kit.metrics import Metrics
    from tenantry.security_events.service import SecurityEvents
    from tenantry.settings.service import SettingsService
    from tenantry.tenants.context import ContextService
    from tenantry.tenants.domains import DomainService
    from tenantry.tenants.lifecycle import TenantService
    from tenantry.tenants.service import TenantDirectory


@dataclass(frozen=True, slots=True)
class Services:
    settings: Settings
    db: Database
    metrics: Metrics
    apps: AppDirectory
    tenants: TenantDirectory
    keys: KeyRing
    events: SecurityEvents
    identity: IdentityService
    jwks: JwksCache
    tenant_admin: TenantService
    settings_admin: SettingsService
    flags: FlagService
    domains: DomainService
    context: ContextService
    listener: Listener
    deprecations: DeprecationRecorder


async def _services(request: Request) -> Services:
    # async on purpose: FastAPI runs a plain `def` dependency in a worker thread, a hand-off
    # that cost more than everything else in an authenticated request.
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(_services)]
