"""Every REST router, in the order the app factory includes them."""

from __future__ import annotations

from tenantry.http import (
    context,
    discovery,
    domains,
    flags,
    identity,
    operations,
    security_events,
    settings,
    tenants,
)

ROUTERS = (
    identity.router,
    security_events.router,
    context.router,
    tenants.router,
    settings.router,
    domains.router,
    flags.router,
    discovery.router,
    operations.router,
)
