"""Deprecated routes: RFC 9745 / RFC 8594 headers and a per-tenant usage count."""

from __future__ import annotations

from typing import Any

from fastapi import Depends, Request, Response

from tenantry.http.auth import Requires
from tenantry.identity.principal import Principal, Scope


def deprecated_endpoint(
    name: str, sunset: str | None = None, scopes: tuple[Scope, ...] = (Scope.PROFILE,)
) -> Any:  # noqa: ANN401 - a Depends
    """Mark an app route deprecated: `Deprecation`/`Sunset` headers (RFC 9745, RFC 8594) and a
    per-tenant usage count. Use as `dependencies=[deprecated_endpoint("GET /v1/old")]`; it
    authenticates the caller itself, with `scopes` (give the route's own, and FastAPI shares
    one authentication between the two)."""

    # A default rather than an Annotated hint: the hint would be evaluated later, as a string,
    # where `scopes` is out of reach.
    async def mark(
        request: Request,
        response: Response,
        principal: Principal = Requires(*scopes),  # noqa: B008 - FastAPI dependency marker
    ) -> None:
        response.headers["Deprecation"] = "true"
        if sunset:
            response.headers["Sunset"] = sunset
        request.app.state.services.deprecations.seen(
            principal.tenant_id, "endpoint", name, principal.app_slug
        )

    return Depends(mark)
