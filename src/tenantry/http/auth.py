"""Authorization of API requests: one dependency, with each route's scopes in its signature.

    principal: Annotated[Principal, Requires(Scope.PROFILE)]
    principal: Annotated[Principal, RequiresPrivilege("roles.manage")]

`Requires` authenticates the Bearer credential for the route's app (the `{app}` path segment, or
the admin app on `/v1/platform/…`), then checks the declared scopes:

- a missing `admin` or `platform` scope answers 404, as if the resource did not exist;
- a session whose sign-in is too old for an `account` route answers 401
  `reauthentication_required` (RFC 9470 step-up): sign in again;
- any other missing scope answers 403 `insufficient_scope`.

The scopes also appear in the route's OpenAPI security requirement, which the credential-by-route
matrix test reads, so no route can be added without a declared requirement.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, Path, Request, Response, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer, SecurityScopes

from tenantry.apps.models import App
from tenantry.identity.principal import ADMIN_APP, HIDDEN_SCOPES, Credential, Principal, Scope
from tenantry.kit import observe
from tenantry.kit.errors import (
    AppMismatch,
    InsufficientPrivilege,
    InsufficientScope,
    NotFound,
    ReauthenticationRequired,
    Unauthorized,
)
from tenantry.security_events.service import Origin

if TYPE_CHECKING:
    from tenantry.licensing.models import LicenceState
    from tenantry.services import Services

# Every authenticated answer of a licensed app names the licence's state (valid, grace,
# read_only); blocked requests are refused before the route runs (docs/licences.md).
LICENCE_HEADER = "Tenantry-Licence-State"
APP_SLUG = Path(pattern=r"^[a-z][a-z0-9-]{1,39}$", description="The app's slug, e.g. thinktank.")
# Documents the Bearer scheme in OpenAPI; a missing header is answered by `_authorize`.
bearer = HTTPBearer(auto_error=False, description="An access token or a tenantry_pat_ API token.")
# The request's rate-limit decision, kept in `request.state` for its response headers
# (`http.rate_limits`).
RATE_LIMIT_STATE = "rate_limit"


def origin(request: Request) -> Origin:
    client = request.client.host if request.client else None
    return Origin(ip=client, request_id=getattr(request.state, "request_id", None))


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


async def resolve_route_app(request: Request, app: Annotated[str, APP_SLUG]) -> App:
    return _services(request).apps.by_slug(app)


RouteApp = Annotated[App, Depends(resolve_route_app)]


async def _authorize(
    security_scopes: SecurityScopes,
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    response: Response,
) -> Principal:
    # Privileges (dotted names, see `RequiresPrivilege`) ride in the same security scopes.
    required = frozenset(Scope(s) for s in security_scopes.scopes if "." not in s)
    token = credentials.credentials if credentials else None
    principal, state = await authorize(_services(request), request, token, required)
    if state is not None:
        response.headers[LICENCE_HEADER] = state.value
    return principal


def bearer_token(request: Request) -> str | None:
    """The Bearer credential of `request`, read as `bearer` reads it."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token if scheme.lower() == "bearer" else None


async def authorize(
    services: Services, request: Request, token: str | None, required: frozenset[Scope]
) -> tuple[Principal, LicenceState | None]:
    """The principal `token` authenticates for the request's app (`{app}`, else the admin app),
    holding every scope in `required`, and the licence state its request runs in."""
    route_app = request.path_params.get("app")
    app = services.apps.by_slug(route_app or ADMIN_APP)
    if not token or not token.strip():
        services.metrics.auth_failures.labels(reason="missing").inc()
        raise Unauthorized("a Bearer token is required")
    # A tenant named by the client (header) must be the credential's own tenant.
    claimed_tenant = request.headers.get("x-tenant-id")
    try:
        principal = await services.identity.authenticate(
            app, token.strip(), origin(request), claimed_tenant
        )
    except AppMismatch as exc:
        if route_app is None:
            # Recorded as a security event; to the caller the platform API does not exist.
            raise NotFound("not found") from exc
        raise
    except Unauthorized:
        services.metrics.auth_failures.labels(reason="invalid").inc()
        raise
    observe.note_principal(principal.tenant_id, principal.app_id)
    await rate_limit(services, request, principal, token.strip())
    missing = required - principal.scopes
    if missing & HIDDEN_SCOPES:
        raise NotFound("not found")
    if (
        Scope.ACCOUNT in missing
        and principal.credential is Credential.ACCESS_TOKEN
        and principal.acting is None  # signing in again would not make it the user's own
    ):
        max_age = services.settings.reauthentication_max_age_seconds
        raise ReauthenticationRequired(
            f"sign in again: this needs a sign-in within the last {max_age} seconds", max_age
        )
    if missing:
        names = ", ".join(sorted(missing))
        raise InsufficientScope(f"this credential lacks the scope(s): {names}")
    if required & HIDDEN_SCOPES:
        await require_live_session(services, principal)
    # The app's licence for the tenant, from memory: blocked, read-only or in grace.
    state = await services.entitlements.admit(
        principal.tenant_id, principal.app_id, principal.app_slug, request.method
    )
    return principal, state


async def rate_limit(
    services: Services, request: Request, principal: Principal, token: str
) -> None:
    """Count the request against its tenant's rate limit and, for an API token, the token's
    (docs/operations.md); once per request, however many dependencies authorize it."""
    if hasattr(request.state, RATE_LIMIT_STATE):
        return
    setattr(request.state, RATE_LIMIT_STATE, None)
    if not services.limits.enabled:
        return
    plan = services.tenants.cached_plan(principal.tenant_id) or ""
    api_token = principal.credential is Credential.API_TOKEN
    decision = await services.limits.admit(principal.tenant_id, plan, token, api_token=api_token)
    setattr(request.state, RATE_LIMIT_STATE, decision)


def Requires(*scopes: Scope) -> Any:  # noqa: ANN401, N802 - a FastAPI dependency marker, named like one
    """The route needs an authenticated principal holding every scope in `scopes`."""
    return Security(_authorize, scopes=[scope.value for scope in scopes])


async def _privileged(
    security_scopes: SecurityScopes,
    request: Request,
    principal: Annotated[Principal, Security(_authorize)],
) -> Principal:
    services = _services(request)
    checks = services.identity.credential_checks(principal)
    for privilege in (s for s in security_scopes.scopes if "." in s):
        if await services.context.holds(principal, checks, privilege):
            continue
        # A route that names an object may be asked about another tenant's: never confirm it.
        if set(request.path_params) - {"app"}:
            raise NotFound("not found")
        raise InsufficientPrivilege(f"this needs the privilege {privilege}")
    return principal


def RequiresPrivilege(privilege: str, scope: Scope = Scope.ADMIN) -> Any:  # noqa: ANN401, N802 - a FastAPI dependency marker, named like one
    """The route needs `scope` (as `Requires`) and a role giving `privilege` somewhere in the
    tenant (deny by default); the service then decides for the object at hand. The privilege is
    listed in the route's OpenAPI security requirement beside the scope."""
    return Security(_privileged, scopes=[scope.value, privilege])


async def require_live_session(services: Services, principal: Principal) -> None:
    """Administrative endpoints work on the platform path, outside the caller's own context,
    so the credential's session is re-checked here (a revoked session stops at once)."""
    await services.db.check(principal.context, services.identity.credential_checks(principal))


Profile = Annotated[Principal, Requires(Scope.PROFILE)]
TenantAdmin = Annotated[Principal, Requires(Scope.ADMIN)]
PlatformAdmin = Annotated[Principal, Requires(Scope.PLATFORM)]
# Shared by several routers: reading the tenant's trails, and managing its users.
ReadsAudit = Annotated[Principal, RequiresPrivilege("audit.read")]
ManagesUsers = Annotated[Principal, RequiresPrivilege("users.manage")]
