"""The gateway: a request under `/v1/apps/{app}/…` that no Tenantry route serves is forwarded to
the upstream of the version the caller's tenant runs (`app_routes`, `registry.upstream_for`).

The route is included after every other router (`web.create_app`), so Tenantry's own routes
always win, and a path one of them serves with another method answers 405 rather than reaching
an upstream. The caller authenticates as on any route (`profile` scope, the token's app must be
the path's); the upstream learns who it is from `X-Tenantry-Assertion`
(`identity.assertions`), never from the caller's own headers (`gateway_headers`). Bodies stream
both ways through one pooled client; an upstream that is too slow is a 504 `upstream_timeout`,
one that cannot be reached a 502 `upstream_unavailable`.
"""

from __future__ import annotations

import logging
import re
from contextlib import asynccontextmanager
from functools import cache
from typing import TYPE_CHECKING
from urllib.parse import quote, unquote

import httpx
from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse
from fastapi.routing import APIRoute
from starlette.background import BackgroundTask
from starlette.routing import compile_path

from tenantry.http.auth import Profile, RouteApp
from tenantry.http.gateway_headers import downstream_response_headers, upstream_request_headers
from tenantry.http.routers import ROUTERS
from tenantry.identity.assertions import GatewayAssertions
from tenantry.kit.errors import NotFound, TenantryError
from tenantry.services import ServicesDep

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from fastapi import FastAPI

log = logging.getLogger("tenantry.gateway")

METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
PREFIX = "/v1/apps/{app}"
# Idle keep-alive connections per upstream host: enough for a busy app, bounded for many.
POOL_LIMITS = httpx.Limits(max_connections=512, max_keepalive_connections=128)
# An encoded slash or backslash makes the path the upstream sees differ from the one routed.
AMBIGUOUS_ENCODINGS = re.compile(rb"%(2f|5c|00)", re.IGNORECASE)
DOT_SEGMENTS = frozenset({".", ".."})
# RFC 3986 path characters, and '%' so that what arrived escaped stays as it was.
PATH_SAFE = "/%!$&'()*+,;=:@-._~"
NAMED_GROUP = re.compile(r"\(\?P<\w+>")


class UpstreamTimeout(TenantryError):
    code = "upstream_timeout"
    status = 504


class UpstreamUnavailable(TenantryError):
    code = "upstream_unavailable"
    status = 502


class MethodNotAllowed(TenantryError):
    code = "method_not_allowed"
    status = 405


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    # The catch-all goes last, behind routers a library user included after `create_app`
    # (an included router is one entry of the app's routes, holding the original router).
    mine = [r for r in app.router.routes if _is_gateway(r)]
    app.router.routes[:] = [r for r in app.router.routes if r not in mine] + mine
    # One client for every forwarded request: its pool keeps connections to upstreams open.
    client = httpx.AsyncClient(follow_redirects=False, limits=POOL_LIMITS, trust_env=False)
    app.state.gateway_client = client
    try:
        yield
    finally:
        await client.aclose()


def _is_gateway(route: object) -> bool:
    return (
        getattr(route, "endpoint", None) is forward
        or getattr(route, "original_router", None) is router
    )


async def _routed_app(request: Request, app: RouteApp, services: ServicesDep) -> None:
    """An app without any gateway route has nothing to forward to: an unknown path is a 404
    before any credential is asked for, as on any other unknown route."""
    if not await services.registry.routes_anything(app.id):
        raise NotFound("not found")


async def _not_a_tenantry_path(request: Request) -> None:
    """A path a Tenantry route serves, asked with another method, is Tenantry's 405: the
    upstream never answers in Tenantry's name."""
    if _tenantry_paths().match(request.url.path):
        raise MethodNotAllowed("this method is not allowed here")


@cache
def _tenantry_paths() -> re.Pattern[str]:
    """Every Tenantry path under /v1/apps/ as one expression: asking each route to match, on
    every forwarded request, cost about a millisecond."""
    patterns = [
        NAMED_GROUP.sub("(?:", compile_path(route.path)[0].pattern)
        for included in ROUTERS
        for route in included.routes
        if isinstance(route, APIRoute) and route.path.startswith("/v1/apps/")
    ]
    return re.compile("|".join(patterns) or "(?!)")


router = APIRouter(prefix=PREFIX, lifespan=_lifespan, include_in_schema=False)


@router.api_route(
    "/{path:path}",
    methods=METHODS,
    include_in_schema=False,
    dependencies=[Depends(_not_a_tenantry_path), Depends(_routed_app)],
)
async def forward(request: Request, principal: Profile, services: ServicesDep) -> StreamingResponse:
    """Forward to the upstream of the tenant's version of the app, streaming both ways."""
    remainder, raw_remainder = _remainder(request)
    route = await services.registry.upstream_for(principal.tenant_id, principal.app_id, remainder)
    if route is None:
        raise NotFound("not found")
    context = await services.context.load(principal, services.identity.credential_checks(principal))
    assertion = GatewayAssertions(services.keys, services.settings.public_url).issue(
        principal, route.version, context
    )
    base = httpx.URL(route.upstream)
    query = request.scope.get("query_string", b"")
    target = base.copy_with(
        raw_path=base.raw_path.rstrip(b"/") + raw_remainder + (b"?" + query if query else b"")
    )
    headers = upstream_request_headers(
        request.headers.raw,
        client_ip=request.client.host if request.client else None,
        scheme=request.url.scheme,
        host=request.headers.get("host"),
        request_id=str(getattr(request.state, "request_id", "")),
        assertion=assertion,
    )
    client: httpx.AsyncClient = request.app.state.gateway_client
    seconds = route.timeout_ms / 1000
    # A bare Request, not `client.build_request`: the client's default headers (Accept-Encoding
    # among them) would speak for the caller.
    outgoing = httpx.Request(
        request.method,
        target,
        headers=headers,
        content=_body(request),
        extensions={"timeout": httpx.Timeout(seconds).as_dict()},
    )
    try:
        answer = await client.send(outgoing, stream=True)
    except httpx.TimeoutException as exc:
        _log_failure(principal.app_slug, route.version, exc)
        raise UpstreamTimeout(f"the app's upstream did not answer within {seconds:g} s") from exc
    except httpx.HTTPError as exc:
        _log_failure(principal.app_slug, route.version, exc)
        raise UpstreamUnavailable("the app's upstream cannot be reached") from exc
    return _streaming(answer)


def _streaming(answer: httpx.Response) -> StreamingResponse:
    response = StreamingResponse(
        _relay(answer), status_code=answer.status_code, background=BackgroundTask(answer.aclose)
    )
    # Replace (not merge): the upstream's headers, cleaned, are the answer's headers.
    response.raw_headers = downstream_response_headers(answer.headers.raw)
    return response


async def _body(request: Request) -> AsyncIterator[bytes]:
    async for chunk in request.stream():
        if chunk:
            yield chunk


async def _relay(answer: httpx.Response) -> AsyncIterator[bytes]:
    try:
        async for chunk in answer.aiter_raw():
            yield chunk
    except httpx.HTTPError as exc:
        # The status is already sent: the caller sees the connection break off, not a body
        # that looks complete.
        log.warning("upstream broke off its answer", extra={"error": type(exc).__name__})
        raise


def _remainder(request: Request) -> tuple[str, bytes]:
    """The path after `/v1/apps/{app}`, decoded (to match route prefixes) and as received (to
    forward). Dot segments and encoded slashes are refused: the upstream must see exactly the
    path that was matched, and nothing outside the app."""
    raw: bytes = request.scope.get("raw_path") or request.scope["path"].encode()
    raw = raw.split(b"?", 1)[0]
    segments = raw.split(b"/")
    if len(segments) < 4 or AMBIGUOUS_ENCODINGS.search(raw):  # noqa: PLR2004 - '', v1, apps, app
        raise NotFound("not found")
    rest = segments[4:]
    decoded = [unquote(s.decode("latin-1")) for s in rest]
    if any(s in DOT_SEGMENTS or "\\" in s for s in decoded):
        raise NotFound("not found")
    # Bytes a URL cannot carry as they are (a host-routed path arrives decoded) are escaped.
    forwarded = quote(b"/" + b"/".join(rest), safe=PATH_SAFE).encode()
    return "/" + "/".join(decoded), forwarded


def _log_failure(app: str, version: str, exc: Exception) -> None:
    log.warning(
        "upstream failed",
        extra={"app": app, "version": version, "error": type(exc).__name__},
    )
