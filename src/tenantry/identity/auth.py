"""FastAPI dependencies: the route's app and the authenticated principal."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Path, Request

from tenantry.apps.repository import App
from tenantry.identity.principal import Principal, Scope
from tenantry.kit.errors import NotFound, Unauthorized
from tenantry.kit.services import ServicesDep
from tenantry.security_events.service import Origin

APP_SLUG = Path(pattern=r"^[a-z][a-z0-9-]{1,39}$", description="The app's slug, e.g. thinktank.")


def origin(request: Request) -> Origin:
    client = request.client.host if request.client else None
    return Origin(ip=client, request_id=getattr(request.state, "request_id", None))


async def _route_app(services: ServicesDep, app: Annotated[str, APP_SLUG]) -> App:
    return services.apps.by_slug(app)


RouteApp = Annotated[App, Depends(_route_app)]


async def _principal(
    request: Request,
    services: ServicesDep,
    app: RouteApp,
    authorization: Annotated[str | None, Header()] = None,
    x_tenant_id: Annotated[str | None, Header(max_length=64)] = None,
) -> Principal:
    scheme, _, credentials = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not credentials:
        services.metrics.auth_failures.labels(reason="missing").inc()
        raise Unauthorized("a Bearer token is required")
    try:
        return await services.identity.authenticate(
            app, credentials.strip(), origin(request), x_tenant_id
        )
    except Unauthorized:
        services.metrics.auth_failures.labels(reason="invalid").inc()
        raise


AuthPrincipal = Annotated[Principal, Depends(_principal)]


async def _tenant_admin(principal: AuthPrincipal) -> Principal:
    # Not an administrator: the admin resources do not exist for this caller.
    if Scope.ADMIN not in principal.scopes:
        raise NotFound("not found")
    return principal


TenantAdmin = Annotated[Principal, Depends(_tenant_admin)]
