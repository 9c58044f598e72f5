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
from functools import cache, lru_cache
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse
from fastapi.routing import APIRoute
from starlette.background import BackgroundTask

from tenantry.http.auth import LICENCE_HEADER, authorize, bearer_token
from tenantry.http.gateway_headers import downstream_response_headers, upstream_request_headers
from tenantry.http.gateway_transport import (
    Answer,
    Deadlines,
    Upstream,
    UpstreamPool,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from tenantry.http.routers import ROUTERS
from tenantry.identity.assertions import GatewayAssertions
from tenantry.identity.principal import Scope
from tenantry.kit.errors import NotFound, TenantryError
from tenantry.kit.route_index import paths_pattern

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from fastapi import FastAPI

    from tenantry.identity.principal import Principal
    from tenantry.licensing.models import LicenceState
    from tenantry.services import Services

log = logging.getLogger("tenantry.gateway")

METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
ROUTE_PATH = "/v1/apps/{app}/{path:path}"
# Answers up to this size are read whole and sent in one piece; longer ones stream.
WHOLE_ANSWER_BYTES = 64 * 1024
# An encoded slash or backslash makes the path the upstream sees differ from the one routed.
AMBIGUOUS_ENCODINGS = re.compile(rb"%(2f|5c|00)", re.IGNORECASE)
DOT_SEGMENTS = frozenset({".", ".."})
# RFC 3986 path characters, and '%' so that what arrived escaped stays as it was.
PATH_SAFE = "/%!$&'()*+,;=:@-._~"


class MethodNotAllowed(TenantryError):
    code = "method_not_allowed"
    status = 405


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    # The catch-all goes last, behind routers a library user included after `create_app`
    # (an included router is one entry of the app's routes, holding the original router).
    mine = [r for r in app.router.routes if _is_gateway(r)]
    app.router.routes[:] = [r for r in app.router.routes if r not in mine] + mine
    # One pool for every forwarded request: it keeps connections to upstreams open.
    pool = UpstreamPool()
    app.state.gateway_pool = pool
    try:
        yield
    finally:
        pool.close()


def _is_gateway(route: object) -> bool:
    return (
        getattr(route, "endpoint", None) is forward
        or getattr(route, "original_router", None) is router
    )


@cache
def _tenantry_paths() -> re.Pattern[str]:
    """Every Tenantry path under /v1/apps/ as one expression."""
    pattern = paths_pattern(
        route
        for included in ROUTERS
        for route in included.routes
        if isinstance(route, APIRoute) and route.path.startswith("/v1/apps/")
    )
    assert pattern is not None  # every one is an APIRoute
    return pattern


async def forward(request: Request) -> Response:
    """Forward to the upstream of the tenant's version of the app, streaming both ways.

    A plain route, not a FastAPI endpoint: the checks below run in this order (405, then 404
    before any credential is asked for, then the credential) without dependency resolution,
    which cost more than the rest of the forwarding."""
    if _tenantry_paths().match(request.url.path):
        # A path a Tenantry route serves, asked with another method: the upstream never
        # answers in Tenantry's name.
        raise MethodNotAllowed("this method is not allowed here")
    services: Services = request.app.state.services
    app = services.apps.by_slug(request.path_params["app"])
    if not await services.registry.routes_anything(app.id):
        raise NotFound("not found")  # nothing to forward to: as any unknown path
    principal, licence = await authorize(
        services, request, bearer_token(request), frozenset({Scope.PROFILE})
    )
    remainder, raw_remainder = _remainder(request)
    route = await services.registry.upstream_for(principal.tenant_id, principal.app_id, remainder)
    if route is None:
        raise NotFound("not found")
    context = await _context(services, principal)
    assertion = GatewayAssertions(services.keys, services.settings.public_url).issue(
        principal, route.version, context
    )
    headers = upstream_request_headers(
        request.headers.raw,
        client_ip=request.client.host if request.client else None,
        scheme=request.url.scheme,
        host=request.headers.get("host"),
        request_id=str(getattr(request.state, "request_id", "")),
        assertion=assertion,
    )
    query = request.scope.get("query_string", b"")
    target = raw_remainder + (b"?" + query if query else b"")
    seconds = route.timeout_ms / 1000
    pool: UpstreamPool = request.app.state.gateway_pool
    try:
        answer = await pool.send(
            _upstream(route.upstream),
            request.method,
            target,
            headers,
            _body(request) if _has_body(request) else None,
            Deadlines(connect=seconds, read=seconds, write=seconds),
        )
        length = answer.length()
        whole = await answer.read() if length is not None and length <= WHOLE_ANSWER_BYTES else None
    except (UpstreamTimeout, UpstreamUnavailable) as exc:
        log.warning(
            "upstream failed",
            extra={"app": principal.app_slug, "version": route.version, "error": exc.code},
        )
        raise
    return _response(answer, whole, licence)


async def _context(services: Services, principal: Principal) -> dict[str, Any]:
    """The principal's tenant context (cached), with its session checked live unless it was
    seen live moments ago and nothing that could end it has been heard of since."""
    liveness = services.liveness
    if liveness.recently_live(principal):
        return await services.context.load(principal, [])
    generation = liveness.generation
    context = await services.context.load(principal, services.identity.credential_checks(principal))
    liveness.seen_live(principal, generation)
    return context


def _response(answer: Answer, whole: bytes | None, licence: LicenceState | None) -> Response:
    if whole is not None:
        response: Response = Response(whole, status_code=answer.status)
    else:
        response = StreamingResponse(
            _relay(answer), status_code=answer.status, background=BackgroundTask(answer.close)
        )
    # Replace (not merge): the upstream's headers, cleaned, are the answer's headers.
    response.raw_headers = downstream_response_headers(answer.headers)
    if licence is not None:
        response.raw_headers.append((LICENCE_HEADER.lower().encode(), licence.value.encode()))
    return response


router = APIRouter(lifespan=_lifespan, include_in_schema=False)
router.add_route(ROUTE_PATH, forward, methods=METHODS, include_in_schema=False)


@lru_cache(maxsize=1024)
def _upstream(url: str) -> Upstream:
    return Upstream.parse(url)


def _has_body(request: Request) -> bool:
    headers = request.headers
    return "transfer-encoding" in headers or headers.get("content-length", "0") not in ("", "0")


async def _body(request: Request) -> AsyncIterator[bytes]:
    async for chunk in request.stream():
        if chunk:
            yield chunk


async def _relay(answer: Answer) -> AsyncIterator[bytes]:
    try:
        async for chunk in answer.body():
            yield chunk
    except UpstreamUnavailable as exc:
        # The status is already sent: the caller sees the connection break off, not a body
        # that looks complete.
        log.warning("upstream broke off its answer", extra={"error": exc.code})
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
