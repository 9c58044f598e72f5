"""Every REST router, in the order the app factory includes them."""

from __future__ import annotations

from tenantry.http import (
    access,
    acting,
    alerts,
    audit_log,
    context,
    discovery,
    domains,
    flags,
    groups,
    identity,
    invitations,
    licences,
    operations,
    registry,
    security_events,
    settings,
    tenants,
)

ROUTERS = (
    access.router,
    access.me_router,
    access.catalog_router,
    groups.router,
    acting.router,
    identity.router,
    invitations.router,
    security_events.router,
    audit_log.router,
    audit_log.platform,
    alerts.router,
    alerts.platform,
    context.router,
    tenants.router,
    settings.router,
    domains.router,
    flags.router,
    registry.router,
    registry.tenant_router,
    licences.router,
    licences.platform,
    discovery.router,
    operations.router,
)
