"""What one HTTP request's work reports to: its trace, the per-tenant statement timings and the
per-tenant metrics.

The HTTP middleware opens an `Observation` per request (`RequestObserver.start`); the database
layer runs each statement through `statement`, which finds it in a context variable and reports
the statement's time, the tenant and app it ran for, and, when tracing is on, a client span
under the request's server span. Outside a request (the CLI, the worker, library use) there is
no observation, and a statement costs a context-variable read and a call more than it would
without any of this.

Spans carry ids only (`tenantry.tenant_id`, `tenantry.app_id`), the route template and the
statement's first keyword and fingerprint: never a path, a slug, an email or SQL values.
"""

from __future__ import annotations

from contextvars import ContextVar, Token
from dataclasses import dataclass
from time import perf_counter
from typing import TYPE_CHECKING, Any, TypeVar

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from tenantry.kit.query_stats import Shape, shape_of

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable
    from uuid import UUID

    from opentelemetry.context import Context
    from opentelemetry.trace import Span, Tracer
    from psycopg import AsyncConnection
    from psycopg.sql import Composable
    from starlette.types import Scope as AsgiScope

    from tenantry.kit.metrics import Metrics
    from tenantry.kit.query_stats import QueryStats

T = TypeVar("T")
# The tenant and app a transaction runs for; None for the platform's own transactions.
Scope = tuple["UUID", "UUID | None"] | None
COMMIT = shape_of("COMMIT")
ROLLBACK = shape_of("ROLLBACK")
# A server error is the service's fault; a 4xx answer is the caller's, and not an error here.
SERVER_ERROR = 500


@dataclass(slots=True)
class Observation:
    tracer: Tracer | None
    stats: QueryStats | None
    # Whom the request serves: its principal's tenant and app, else its first transaction's.
    tenant_id: UUID | None = None
    app_id: UUID | None = None
    db_seconds: float = 0.0
    statements: int = 0

    async def statement(self, scope: Scope, shape: Shape, run: Callable[[], Awaitable[T]]) -> T:
        if scope is not None and self.tenant_id is None:
            # A request no principal named (sign-in, the admin UI) serves this tenant.
            self.tenant_id, self.app_id = scope
        if self.tracer is None:
            started = perf_counter()
            try:
                return await run()
            finally:
                self._account(scope, shape, perf_counter() - started)
        # Not the SDK's exception event: a database error's message can quote values.
        with self.tracer.start_as_current_span(
            shape.keyword,
            kind=SpanKind.CLIENT,
            attributes=_statement_attributes(scope, shape),
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            started = perf_counter()
            try:
                return await run()
            except BaseException as exc:
                span.set_status(Status(StatusCode.ERROR))
                span.set_attribute(
                    "error.type", getattr(exc, "sqlstate", None) or type(exc).__name__
                )
                raise
            finally:
                self._account(scope, shape, perf_counter() - started)

    def _account(self, scope: Scope, shape: Shape, seconds: float) -> None:
        self.db_seconds += seconds
        self.statements += 1
        if scope is not None and self.stats is not None:
            self.stats.record(scope[0], shape, seconds)


_current: ContextVar[Observation | None] = ContextVar("tenantry_observation", default=None)


def current() -> Observation | None:
    return _current.get()


async def statement(
    scope: Scope,
    query: str | bytes | Composable | Shape,
    connection: AsyncConnection[Any] | None,
    run: Callable[[], Awaitable[T]],
) -> T:
    """`run()`, which sends `query` for `scope`, reported to the request's observation."""
    observation = _current.get()
    if observation is None:
        return await run()
    return await observation.statement(scope, _shape(query, connection), run)


def _shape(
    query: str | bytes | Composable | Shape, connection: AsyncConnection[Any] | None
) -> Shape:
    if isinstance(query, Shape):
        return query
    if isinstance(query, str):
        return shape_of(query)
    if isinstance(query, bytes):
        return shape_of(query.decode())
    return shape_of(query.as_string(connection))


def note_principal(tenant_id: UUID, app_id: UUID) -> None:
    """The authenticated caller's tenant and app: what the request's span and metrics name."""
    observation = _current.get()
    if observation is not None:
        observation.tenant_id, observation.app_id = tenant_id, app_id


def _statement_attributes(scope: Scope, shape: Shape) -> dict[str, str]:
    attributes = {
        "db.system": "postgresql",
        "db.system.name": "postgresql",
        "db.operation.name": shape.keyword,
        "tenantry.statement": shape.fingerprint,
    }
    if scope is not None:
        attributes["tenantry.tenant_id"] = str(scope[0])
        if scope[1] is not None:
            attributes["tenantry.app_id"] = str(scope[1])
    return attributes


@dataclass(slots=True)
class Started:
    observation: Observation
    token: Token[Observation | None]
    method: str
    span: Span | None = None
    span_token: Token[Context] | None = None


class RequestObserver:
    """One per app: each HTTP request's observation, server span and per-tenant metrics."""

    def __init__(self, tracer: Tracer | None, stats: QueryStats | None, metrics: Metrics) -> None:
        self.tracer = tracer
        self.stats = stats
        self.metrics = metrics

    def start(self, scope: AsgiScope) -> Started:
        observation = Observation(self.tracer, self.stats)
        method: str = scope["method"]
        started = Started(observation, _current.set(observation), method)
        if self.tracer is not None:
            # A caller's W3C `traceparent` makes this request part of the caller's trace.
            headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
            parent = propagate.extract(headers)
            started.span = self.tracer.start_span(
                method,
                context=parent,
                kind=SpanKind.SERVER,
                attributes={"http.request.method": method, "url.scheme": scope["scheme"]},
            )
            span_context = trace.set_span_in_context(started.span, parent)
            started.span_token = otel_context.attach(span_context)
        return started

    def finish(self, started: Started, route: str, status: int, seconds: float) -> None:
        observation = started.observation
        _current.reset(started.token)
        self.metrics.tenant_request(
            observation.tenant_id, status, seconds, observation.db_seconds, observation.statements
        )
        span = started.span
        if span is None:
            return
        if started.span_token is not None:
            otel_context.detach(started.span_token)
        if route != "unmatched":
            span.update_name(f"{started.method} {route}")
            span.set_attribute("http.route", route)
        span.set_attribute("http.response.status_code", status)
        if observation.tenant_id is not None:
            span.set_attribute("tenantry.tenant_id", str(observation.tenant_id))
        if observation.app_id is not None:
            span.set_attribute("tenantry.app_id", str(observation.app_id))
        if status >= SERVER_ERROR:
            span.set_status(Status(StatusCode.ERROR))
        span.end()
