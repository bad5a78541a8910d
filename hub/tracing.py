"""OpenTelemetry traces of every request, when the settings ask for them (off by default).

The spans come from OpenTelemetry's ASGI instrumentation, each with the request's X-Request-ID (the id in the
hub's log line and in its Neo4j transactions' metadata). Nothing leaves the process unless
OTEL_EXPORTER_OTLP_ENDPOINT (or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) names a collector; then spans go there over
OTLP/HTTP (``pip install '.[tracing]'`` brings the exporter).
"""

from __future__ import annotations

import importlib
import os
from typing import TYPE_CHECKING, Any

from starlette.middleware import Middleware

from hub.request_log import REQUEST_ID_HEADER
from hub.settings import Settings

if TYPE_CHECKING:
    from opentelemetry.sdk.trace.export import SpanExporter

SERVICE_NAME = "food-cluster-hub"
_ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")


def tracing_middleware(settings: Settings, *, exporter: SpanExporter | None = None) -> list[Middleware]:
    """The tracing middleware (outermost) when ``settings.tracing`` is on, else none.

    ``exporter`` replaces the OTLP exporter (tests hand an in-memory one).
    """
    if not settings.tracing:
        return []
    try:
        from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
    except ImportError as error:
        raise RuntimeError("HUB_TRACING is on: install the tracing extra (pip install '.[tracing]')") from error
    provider = TracerProvider(resource=Resource.create({"service.name": SERVICE_NAME}))
    if exporter is not None:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    elif any(os.environ.get(name) for name in _ENDPOINT_VARIABLES):
        provider.add_span_processor(BatchSpanProcessor(_otlp_exporter()))
    return [
        Middleware(
            OpenTelemetryMiddleware,
            tracer_provider=provider,
            http_capture_headers_server_response=[REQUEST_ID_HEADER],
            exclude_spans=["receive", "send"],  # one span per request, not one per ASGI message
        )
    ]


def _otlp_exporter() -> Any:
    try:  # an optional package: imported by name so that the hub runs (and type-checks) without it
        module = importlib.import_module("opentelemetry.exporter.otlp.proto.http.trace_exporter")
    except ImportError as error:
        raise RuntimeError(
            "an OTLP endpoint is set: install the tracing extra (pip install '.[tracing]') for its exporter"
        ) from error
    return module.OTLPSpanExporter()
