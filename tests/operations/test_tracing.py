"""OpenTelemetry traces of the API, through the real SDK: an HTTP server span per request named
by its route template, database client spans under it, tenant and app ids as attributes and no
personal data; with the exporter off, no SDK at all."""

from __future__ import annotations

import http.server
import json
import os
import subprocess
import sys
import textwrap
import threading
from typing import TYPE_CHECKING

import psycopg
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from tenantry.kit import observe
from tenantry.web import create_app
from tests.support.accounts import signed_in
from tests.support.http import client_for
from tests.support.wiring import api_settings

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator

    from fastapi import FastAPI
    from opentelemetry.sdk.trace import ReadableSpan


@pytest.fixture(scope="module")
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture(scope="module")
async def traced_app(urls, db, exporter) -> AsyncIterator[FastAPI]:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    application = create_app(api_settings(urls), database=db, tracer_provider=provider)
    async with application.router.lifespan_context(application):
        yield application
    provider.shutdown()


def values(span: ReadableSpan) -> str:
    return json.dumps([span.name, dict(span.attributes or {})])


async def test_a_request_is_a_server_span_with_ids_and_its_statements_nest_under_it(
    traced_app, exporter, tenant
) -> None:
    async with client_for(traced_app) as client:
        user = await signed_in(client, "thinktank", tenant, "ada.lovelace@example.com")
        exporter.clear()
        response = await client.get("/v1/apps/thinktank/context", headers=user.auth)
    assert response.status_code == 200, response.text
    spans = exporter.get_finished_spans()
    [server] = [s for s in spans if s.kind.name == "SERVER"]
    app_id = traced_app.state.services.apps.by_slug("thinktank").id
    assert server.name == "GET /v1/apps/{app}/context"
    assert server.attributes["http.route"] == "/v1/apps/{app}/context"
    assert server.attributes["http.response.status_code"] == 200
    assert server.attributes["tenantry.tenant_id"] == str(tenant.id)
    assert server.attributes["tenantry.app_id"] == str(app_id)

    statements = [s for s in spans if s.kind.name == "CLIENT"]
    assert statements, "no database span"
    for span in statements:
        assert span.parent is not None
        assert span.parent.span_id == server.context.span_id
        assert span.context.trace_id == server.context.trace_id
        assert span.attributes["db.system"] == "postgresql"
        assert span.name == span.attributes["db.operation.name"]
        assert span.name.isalpha()
        assert span.name.isupper()
        assert len(span.attributes["tenantry.statement"]) == 16
    assert any(s.attributes.get("tenantry.tenant_id") == str(tenant.id) for s in statements)
    # Ids only: no email, no slug, no path with a name in it, no SQL.
    for span in spans:
        text = values(span)
        assert "ada.lovelace" not in text
        assert "example.com" not in text
        assert tenant.slug not in text
        assert "/v1/apps/thinktank" not in text
        assert "FROM" not in text


async def test_a_sign_in_span_names_the_tenant_it_opened_a_transaction_for(
    traced_app, exporter, tenant
) -> None:
    async with client_for(traced_app) as client:
        await signed_in(client, "thinktank", tenant, "grace.hopper@example.com")
    [login] = [s for s in exporter.get_finished_spans() if s.name.endswith("/auth/login")]
    assert login.attributes["tenantry.tenant_id"] == str(tenant.id)
    assert "grace" not in json.dumps(dict(login.attributes))


async def test_a_callers_traceparent_makes_the_request_part_of_its_trace(
    traced_app, exporter
) -> None:
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    exporter.clear()
    async with client_for(traced_app) as client:
        response = await client.get(
            "/healthz", headers={"traceparent": f"00-{trace_id}-00f067aa0ba902b7-01"}
        )
    assert response.status_code == 200
    [server] = exporter.get_finished_spans()
    assert f"{server.context.trace_id:032x}" == trace_id
    assert server.name == "GET /healthz"


async def test_an_unknown_path_is_named_by_its_method_alone(traced_app, exporter) -> None:
    exporter.clear()
    async with client_for(traced_app) as client:
        response = await client.get("/no/such/ada.lovelace@example.com")
    assert response.status_code == 404
    [server] = exporter.get_finished_spans()
    assert server.name == "GET"
    assert "ada" not in values(server)


def test_with_the_exporter_off_no_sdk_is_loaded_and_no_span_made(urls) -> None:
    """A real process serving requests with the default settings never imports the SDK."""
    script = textwrap.dedent(
        """
        import asyncio, sys
        import httpx
        from tenantry.kit.config import Settings
        from tenantry.web import create_app

        async def main():
            app = create_app(Settings.model_validate_json(sys.argv[1]))
            async with app.router.lifespan_context(app):
                transport = httpx.ASGITransport(app=app)
                async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
                    assert (await c.get("/healthz")).status_code == 200
                    assert (await c.get("/readyz")).status_code == 200
                    assert (await c.post("/v1/apps/thinktank/auth/login", json={})).status_code == 422
            assert app.state.observer.tracer is None
            loaded = sorted(m for m in sys.modules if m.startswith("opentelemetry.sdk"))
            print("sdk modules:", loaded)

        asyncio.run(main())
        """
    )
    settings = api_settings(urls)
    assert settings.otel_exporter == "none"
    done = subprocess.run(
        [sys.executable, "-c", script, settings.model_dump_json()],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={k: v for k, v in os.environ.items() if not k.startswith("OTEL_")},
    )
    assert done.returncode == 0, done.stderr
    assert "sdk modules: []" in done.stdout


def test_the_console_exporter_writes_one_json_span_a_line(urls) -> None:
    script = textwrap.dedent(
        """
        import asyncio, sys
        import httpx
        from tenantry.kit.config import Settings
        from tenantry.web import create_app

        async def main():
            app = create_app(Settings.model_validate_json(sys.argv[1]))
            async with app.router.lifespan_context(app):
                transport = httpx.ASGITransport(app=app)
                async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
                    assert (await c.get("/readyz")).status_code == 200

        asyncio.run(main())
        """
    )
    settings = api_settings(urls, otel_exporter="console")
    done = subprocess.run(
        [sys.executable, "-c", script, settings.model_dump_json()],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "OTEL_SERVICE_NAME": "tenantry-test"},
    )
    assert done.returncode == 0, done.stderr
    spans = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    [server] = [s for s in spans if s["name"] == "GET /readyz"]
    assert server["kind"] == "SpanKind.SERVER"
    assert server["resource"]["attributes"]["service.name"] == "tenantry-test"
    assert any(s["kind"] == "SpanKind.CLIENT" for s in spans), "the readiness query's span"


class Collector(http.server.BaseHTTPRequestHandler):
    received: list[ExportTraceServiceRequest] = []  # noqa: RUF012 - one collector per test

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["content-length"]))
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        Collector.received.append(request)
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.end_headers()

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def collector() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Collector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    Collector.received = []
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


async def test_the_otlp_exporter_sends_spans_to_the_configured_endpoint(
    urls, db, collector, monkeypatch
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector)
    application = create_app(api_settings(urls, otel_exporter="otlp"), database=db)
    async with application.router.lifespan_context(application), client_for(application) as client:
        assert (await client.get("/readyz")).status_code == 200
    # Leaving the lifespan flushed the batch.
    names = [
        span.name
        for request in Collector.received
        for resource in request.resource_spans
        for scope in resource.scope_spans
        for span in scope.spans
    ]
    assert "GET /readyz" in names
    assert "SELECT" in names


async def test_a_failed_statements_span_names_its_sqlstate_never_its_message(db) -> None:
    """PostgreSQL's messages quote values ("invalid input syntax …: \"ada@…\""): the span keeps
    the SQLSTATE only."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    token = observe._current.set(observe.Observation(provider.get_tracer("test"), None))
    try:
        with pytest.raises(psycopg.errors.InvalidTextRepresentation):
            async with db.platform_transaction() as tx:
                await tx.execute("SELECT %s::text::int", ["ada.lovelace@example.com"])
    finally:
        observe._current.reset(token)
    [failed, rollback] = exporter.get_finished_spans()
    assert failed.status.status_code is StatusCode.ERROR
    assert failed.attributes["error.type"] == "22P02"
    assert not failed.events
    assert "ada" not in values(failed)
    assert rollback.name == "ROLLBACK"
