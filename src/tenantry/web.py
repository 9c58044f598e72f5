"""The FastAPI application, assembled in one factory."""

from __future__ import annotations

import logging
import time
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from fastapi import FastAPI, Request, Response
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from tenantry.admin import router as admin_views
from tenantry.http import gateway
from tenantry.http.rate_limits import RateLimitGate
from tenantry.http.routers import ROUTERS
from tenantry.kit import dsn, problems
from tenantry.kit.config import Settings, get_settings
from tenantry.kit.db import Database
from tenantry.kit.ids import uuid7
from tenantry.kit.metrics import Metrics
from tenantry.kit.modules import Module, installed_modules
from tenantry.kit.observe import RequestObserver
from tenantry.kit.query_stats import QueryStats
from tenantry.kit.requests import bind_request_id
from tenantry.kit.route_index import index_routes
from tenantry.kit.telemetry import start_tracing
from tenantry.operations.query_stats.service import QueryStatsFlusher
from tenantry.services import build_services
from tenantry.tenants.domains import TxtResolver

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Sequence

    from opentelemetry.trace import TracerProvider
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("tenantry.http")
# No API request needs more; JSON values inside are bounded separately (`kit.jsonvalue`).
MAX_BODY_BYTES = 1024 * 1024
TOO_LARGE = f"request bodies are limited to {MAX_BODY_BYTES} bytes"


def create_app(
    settings: Settings | None = None,
    database: Database | None = None,
    resolver: TxtResolver | None = None,
    modules: Sequence[Module] | None = None,
    tracer_provider: TracerProvider | None = None,
) -> FastAPI:
    """Build the app. Pass `database` to share an open pool (tests, embedding), `resolver`
    to verify domains against a name server of your own, `modules` to serve other modules
    than the installed ones (the `tenantry.modules` entry points) and `tracer_provider` to
    trace into an OpenTelemetry provider of your own (else `otel_exporter` decides)."""
    config = settings or get_settings()
    metrics = Metrics(config.metrics_tenant_labels)
    stats = QueryStats(config.query_stats_max_entries) if config.query_stats_flush_seconds else None
    observer = RequestObserver(None, stats, metrics)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db = database or Database(
            dsn.runtime_url(config),
            dsn.platform_url(config),
            context_ttl_seconds=config.context_ttl_seconds,
            min_size=config.pool_min_size,
            max_size=config.pool_max_size,
            prepared_statements=config.pooler == "none",
            acquire_timeout=config.pool_timeout_seconds,
        )
        if database is None:
            await db.open()
        services = build_services(config, db, metrics, resolver)
        await services.apps.reload()
        await services.keys.ensure_keys([a.id for a in services.apps.all()])
        await services.listener.start()
        db.commit_listeners.append(services.listener.after_commit)
        app.state.services = services
        tracing = start_tracing(config.otel_exporter, tracer_provider)
        observer.tracer = tracing.tracer if tracing else None
        flusher = _flusher(config, db, stats)
        try:
            yield
        finally:
            if flusher is not None:
                await flusher.stop()
            if tracing is not None:
                observer.tracer = None
                tracing.shutdown()
            db.commit_listeners.remove(services.listener.after_commit)
            await services.listener.stop()
            await services.jwks.close()
            await services.limits.close()
            if database is None:
                await db.close()

    app = FastAPI(
        title="Tenantry",
        version="0.1.0",
        summary="Multi-tenant, multi-app platform core: isolation enforced by PostgreSQL.",
        lifespan=lifespan,
    )
    problems.install(app)
    if modules is None:
        modules = installed_modules()
    for router in (*ROUTERS, *(r for module in modules for r in module.routers())):
        app.include_router(router)
    # Last: a path under /v1/apps/{app}/ that no route above serves goes to the app's upstream.
    app.include_router(gateway.router)
    app.include_router(admin_views.router)
    for module in modules:
        for router in module.admin_routers():
            app.include_router(router)
    # Linked from each tenant's admin page.
    app.state.tenant_pages = [page for module in modules for page in module.tenant_pages]
    app.mount("/admin/static", StaticFiles(directory=ADMIN_STATIC), name="admin-static")
    app.add_exception_handler(admin_views.LoginRequired, _admin_login_required)
    app.add_middleware(RateLimitGate)
    app.add_middleware(
        RequestMiddleware, metrics=metrics, observer=observer, base_domain=config.base_domain
    )
    app.state.observer = observer
    index_routes(app.router.routes)
    return app


def _flusher(config: Settings, db: Database, stats: QueryStats | None) -> QueryStatsFlusher | None:
    """The writer of this process's per-tenant statement timings (`tenantry doctor --tenant`)."""
    if stats is None:
        return None
    flusher = QueryStatsFlusher(
        db,
        stats,
        interval=config.query_stats_flush_seconds,
        retention_hours=config.query_stats_retention_hours,
    )
    flusher.start()
    return flusher


ADMIN_STATIC = Path(admin_views.__file__).parent / "static"
# No inline scripts or styles anywhere in the admin UI, so the policy can be strict.
ADMIN_HEADERS = [
    (
        b"content-security-policy",
        (
            b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            b"form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
        ),
    ),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"cache-control", b"no-store"),
]


async def _admin_login_required(request: Request, _: Exception) -> Response:
    # Browsers are sent to the sign-in page; API-style callers learn nothing: 404.
    if "text/html" in request.headers.get("accept", ""):
        return RedirectResponse("/admin/login", status_code=303)
    return problems.problem(request, 404, "not_found", "not found")


class RequestMiddleware:
    """Request id, app-from-host routing, a JSON access log line, Prometheus metrics and the
    request's observation (`kit.observe`: its trace span, per-tenant metrics and timings)."""

    def __init__(
        self, app: ASGIApp, metrics: Metrics, observer: RequestObserver, base_domain: str
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.observer = observer
        self.base_domain = base_domain.lower().strip(".")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        self._route_by_host(scope)
        supplied = _header(scope, b"x-request-id")
        request_id = supplied if supplied and len(supplied) <= 64 else uuid7().hex  # noqa: PLR2004 - longest request id kept
        scope.setdefault("state", {})["request_id"] = request_id
        bind_request_id(request_id)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                headers.append((b"x-content-type-options", b"nosniff"))
                if scope["path"].startswith("/admin"):
                    headers.extend(ADMIN_HEADERS)
                elif not any(key.lower() == b"cache-control" for key, _ in headers):
                    # API answers are per caller and some carry secrets (tokens, TOTP
                    # secrets, recovery codes): never stored by a browser or proxy cache.
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        declared = _header(scope, b"content-length")
        too_large = declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES
        # Only routing knows whether the gateway streams this body to an upstream (no limit).
        decide_after_routing = too_large and scope["path"].startswith("/v1/apps/")
        bounded_receive = _bounded(scope, receive, refuse=decide_after_routing)
        observed = self.observer.start(scope)
        try:
            if too_large and not decide_after_routing:
                await self._too_large(scope, receive, send_with_id)
            else:
                await self.app(scope, bounded_receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            template = _route_template(scope)
            method = scope["method"]
            self.metrics.requests.labels(template, method, str(status)).inc()
            self.metrics.latency.labels(template, method).observe(elapsed)
            self.observer.finish(observed, template, status, elapsed)
            log.info(
                "request",
                extra={
                    "request_id": request_id,
                    "method": method,
                    "route": template,
                    "status": status,
                    "duration_ms": round(elapsed * 1000, 2),
                },
            )

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        response = problems.problem(
            request, 413, "payload_too_large", TOO_LARGE, {"Connection": "close"}
        )
        await response(scope, receive, send)

    def _route_by_host(self, scope: Scope) -> None:
        """`thinktank.<base_domain>/v1/me` is served as `/v1/apps/thinktank/me`."""
        if not self.base_domain:
            return
        host = (_header(scope, b"host") or "").split(":")[0].lower()
        suffix = "." + self.base_domain
        path: str = scope["path"]
        if host.endswith(suffix) and path.startswith("/v1/") and not path.startswith("/v1/apps/"):
            app = host[: -len(suffix)]
            scope["path"] = f"/v1/apps/{app}{path[3:]}"
            scope["raw_path"] = scope["path"].encode()


def _bounded(scope: Scope, receive: Receive, *, refuse: bool) -> Receive:
    """`receive`, refusing a body over the limit (at once when `refuse`: its declared length is
    over it), except the gateway's, which streams to an upstream."""
    received = 0

    async def bounded_receive() -> Message:
        nonlocal received
        if scope.get("endpoint") is gateway.forward:
            return await receive()
        if refuse:
            raise HTTPException(413, TOO_LARGE)
        message = await receive()
        received += len(message.get("body", b""))
        if received > MAX_BODY_BYTES:  # a chunked body that kept going
            # An HTTPException, because FastAPI turns anything else raised while it reads
            # the body into a 400.
            raise HTTPException(413, TOO_LARGE)
        return message

    return bounded_receive


def _route_template(scope: Scope) -> str:
    """The matched route's path (a metrics label: bounded, never the path itself)."""
    if scope.get("endpoint") is gateway.forward:  # a plain route: no "route" in its scope
        return gateway.ROUTE_PATH
    return str(getattr(scope.get("route"), "path", "unmatched"))


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return str(value.decode("latin-1"))
    return None
