"""OpenTelemetry tracing, off unless `TENANTRY_OTEL_EXPORTER` turns it on.

- `none` (the default): the SDK is not even imported and no span is made.
- `console`: spans are written to standard output, one JSON object a line.
- `otlp`: spans are sent with OTLP over HTTP (protobuf) to `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`
  or `OTEL_EXPORTER_OTLP_ENDPOINT` (default `http://localhost:4318`); needs the `otlp` extra.

The SDK's standard variables apply too: `OTEL_SERVICE_NAME` (default `tenantry`),
`OTEL_RESOURCE_ATTRIBUTES`, `OTEL_TRACES_SAMPLER`/`_ARG`, `OTEL_EXPORTER_OTLP_HEADERS`,
`OTEL_BSP_*` for batching. Tenantry never installs a global tracer provider: an application
that embeds it and has its own passes that provider to `create_app`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from tenantry.kit.errors import ConfigurationError

if TYPE_CHECKING:
    from collections.abc import Callable

    from opentelemetry.sdk.trace.export import SpanExporter
    from opentelemetry.trace import Tracer, TracerProvider

Exporter = Literal["none", "otlp", "console"]
DEFAULT_SERVICE_NAME = "tenantry"


@dataclass(frozen=True, slots=True)
class Tracing:
    tracer: Tracer
    # Sends what is still batched; a no-op for a provider the embedding application owns.
    shutdown: Callable[[], None]


def start_tracing(exporter: Exporter, provider: TracerProvider | None = None) -> Tracing | None:
    """The service's tracer: from `provider` when one is given, else from `exporter`."""
    if provider is not None:
        return Tracing(provider.get_tracer("tenantry"), lambda: None)
    if exporter == "none":
        return None
    from opentelemetry.sdk.resources import Resource  # noqa: PLC0415 - only when tracing is on
    from opentelemetry.sdk.trace import TracerProvider as SdkProvider  # noqa: PLC0415 - same
    from opentelemetry.sdk.trace.export import BatchSpanProcessor  # noqa: PLC0415 - same

    resource = Resource.create()
    if str(resource.attributes.get("service.name", "")).startswith("unknown_service"):
        resource = resource.merge(Resource({"service.name": DEFAULT_SERVICE_NAME}))
    sdk = SdkProvider(resource=resource)
    sdk.add_span_processor(BatchSpanProcessor(_exporter(exporter)))
    return Tracing(sdk.get_tracer("tenantry"), sdk.shutdown)


def _exporter(kind: Exporter) -> SpanExporter:
    if kind == "console":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter  # noqa: PLC0415 - only when on

        return ConsoleSpanExporter(formatter=lambda span: span.to_json(indent=None) + "\n")
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import (  # noqa: PLC0415 - optional extra
            OTLPSpanExporter,
        )
    except ImportError as exc:
        raise ConfigurationError(
            "TENANTRY_OTEL_EXPORTER=otlp needs the OTLP exporter: pip install 'tenantry[otlp]'"
        ) from exc
    return OTLPSpanExporter()
