"""Prometheus metrics: requests by route and status, their duration, and EPCIS capture work.

Each app has its own registry (tests build several apps in one process). Routes are counted by their template
(`/epcis/capture/{id}`), never by the raw path, so ids cannot blow up the number of series. `GET /metrics`
needs a token of the cluster operator's admin: the figures are cluster-wide.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Final

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from auth.decisions import decide_for_request
from auth.principal import Principal, Role
from graph_schema.db import Graph, GraphUnavailable
from hub.graphql_app import unauthenticated_response
from hub.state import HubState

# Route templates, longest prefix first; anything else is counted as "other".
ROUTES: Final = (
    ("/epcis/capture/", "/epcis/capture/{id}"),
    ("/epcis/capture", "/epcis/capture"),
    ("/epcis/events", "/epcis/events"),
    ("/exports/fsma204", "/exports/fsma204"),
    ("/graphql", "/graphql"),
    ("/oauth/token", "/oauth/token"),
    ("/oauth/jwks", "/oauth/jwks"),
    ("/.well-known/openid-configuration", "/.well-known/openid-configuration"),
    ("/healthz", "/healthz"),
    ("/readyz", "/readyz"),
    ("/metrics", "/metrics"),
)


# Methods counted by name; any other (a scanner's made-up verbs) is counted as "other", like unknown routes, so
# no caller can add series to /metrics.
METHODS: Final = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def method_of(method: str) -> str:
    """The method label of a request: its method when a known one, else "other"."""
    return method if method in METHODS else "other"


def route_of(path: str) -> str:
    """The route template a request path belongs to."""
    for prefix, template in ROUTES:
        if path == prefix or (prefix.endswith("/") and path.startswith(prefix)):
            return template
    return "other"


class Metrics:
    """The hub's metrics in a registry of their own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "hub_http_requests", "HTTP requests answered", ["method", "route", "status"], registry=self.registry
        )
        self.duration = Histogram(
            "hub_http_request_duration_seconds",
            "Time to answer an HTTP request",
            ["method", "route"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
            registry=self.registry,
        )
        self.in_flight = Gauge("hub_http_requests_in_flight", "HTTP requests being answered", registry=self.registry)
        self.captured_events = Counter(
            "hub_epcis_events_captured", "EPCIS events stored by captures", registry=self.registry
        )
        self.capture_jobs = Counter(
            "hub_epcis_capture_jobs", "EPCIS capture jobs finished, by result", ["result"], registry=self.registry
        )

    def middleware(self, app: ASGIApp) -> ASGIApp:
        """ASGI middleware counting every HTTP request (websockets are left out)."""

        async def count(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http":
                await app(scope, receive, send)
                return
            route, method = route_of(scope["path"]), method_of(scope["method"])
            status = 500

            async def sending(message: Message) -> None:
                nonlocal status
                if message["type"] == "http.response.start":
                    status = int(message["status"])
                await send(message)

            started = time.perf_counter()
            self.in_flight.inc()
            try:
                await app(scope, receive, sending)
            finally:
                self.in_flight.dec()
                self.duration.labels(method, route).observe(time.perf_counter() - started)
                self.requests.labels(method, route, str(status)).inc()

        return count

    def endpoint(self, state: Callable[[], HubState]) -> Callable[[Request], object]:
        """GET /metrics for the cluster operator's admin."""

        async def metrics(request: Request) -> Response:
            principal = getattr(request.scope.get("user"), "principal", None)
            if not isinstance(principal, Principal):
                return unauthenticated_response()
            hub = state()
            try:
                decision = await decide_for_request(Graph(hub.driver, database=hub.settings.neo4j_database), principal)
            except GraphUnavailable as error:
                return JSONResponse(
                    {"title": "Unavailable", "status": 503, "detail": error.message, "code": "UNAVAILABLE"},
                    status_code=503,
                    media_type="application/problem+json",
                )
            if not decision.overseer or Role.ADMIN not in principal.roles:
                return JSONResponse(
                    {
                        "title": "Forbidden",
                        "status": 403,
                        "detail": "the metrics are cluster-wide: only an admin of the cluster operator may read them",
                        "code": "FORBIDDEN",
                    },
                    status_code=403,
                    media_type="application/problem+json",
                )
            return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)

        return metrics
