"""FastAPI dependencies: the route's app and the authenticated principal.

Kept flat on purpose: every dependency level costs FastAPI work on every request.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from tenantry.apps.repository import App
from tenantry.identity.principal import Principal, Scope
from tenantry.kit.errors import NotFound, Unauthorized
from tenantry.kit.services import Services
from tenantry.security_events.service import Origin

APP_SLUG = Path(pattern=r"^[a-z][a-z0-9-]{1,39}$", description="The app's slug, e.g. thinktank.")
# Documents the Bearer scheme in OpenAPI; a missing header is answered by `_principal`.
bearer = HTTPBearer(auto_error=False, description="An access token or a tenantry_pat_ API token.")


def origin(request: Request) -> Origin:
    client = request.client.host if request.client else None
    return Origin(ip=client, request_id=getattr(request.state, "request_id", None))


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


async def _route_app(request: Request, app: Annotated[str, APP_SLUG]) -> App:
    return _services(request).apps.by_slug(app)


RouteApp = Annotated[App, Depends(_route_app)]


async def _principal(
    request: Request,
    app: RouteApp,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    services = _services(request)
    if credentials is None or not credentials.credentials:
        services.metrics.auth_failures.labels(reason="missing").inc()
        raise Unauthorized("a Bearer token is required")
    # A tenant named by the client (header) must be the credential's own tenant.
    claimed_tenant = request.headers.get("x-tenant-id")
    try:
        principal = await services.identity.authenticate(
            app, credentials.credentials.strip(), origin(request), claimed_tenant
        )
    except Unauthorized:
        services.metrics.auth_failures.labels(reason="invalid").inc()
        raise
    return principal


AuthPrincipal = Annotated[Principal, Depends(_principal)]


async def require_live_session(services: Services, principal: Principal) -> None:
    """Administrative endpoints work on the platform path, outside the caller's own context,
    so the credential's session is re-checked here (a revoked session stops at once)."""
    checks = services.identity.credential_checks(principal)
    if checks:
        await services.db.read(principal.context, "SELECT 1 AS ok", require=checks)


async def _tenant_admin(request: Request, principal: AuthPrincipal) -> Principal:
    # Not an administrator: the admin resources do not exist for this caller.
    if Scope.ADMIN not in principal.scopes:
        raise NotFound("not found")
    await require_live_session(_services(request), principal)
    return principal


TenantAdmin = Annotated[Principal, Depends(_tenant_admin)]
