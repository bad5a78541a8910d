"""The app factory: one Starlette app, its lifespan opening the Neo4j driver and the SQL engine once."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from http import HTTPStatus
from typing import TYPE_CHECKING

import anyio
import httpx
from starlette.applications import Starlette
from starlette.authentication import AuthenticationError
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.types import Scope

from auth import changes as _changes  # noqa: F401 (its table is created with the rest)
from auth.audit import create_tables
from auth.backend import AuthenticationUnavailable, BearerTokenBackend
from auth.issuer import BuiltinIssuer
from auth.verifier import TokenVerifier
from graph_schema.constraints import apply_schema
from graph_schema.db import Graph
from graph_schema.faults import StoreFault
from graph_schema.haccp import readings as _readings  # noqa: F401 (its table is created with the rest)
from hub import capture_jobs  # noqa: F401 (its table is created with the rest)
from hub.access_log_export import access_log_routes
from hub.body_limit import BodyLimit, BodySizeLimit
from hub.confinement import DeviceConfinement
from hub.deviation_sweep import sweep_forever
from hub.epcis import EpcisRoutes
from hub.epcis_master_data import master_data_routes
from hub.epcis_resources import (  # imports the named queries: their table is created with the rest
    EpcisResources,
    discovery_routes,
)
from hub.epcis_schedule import SubscriptionScheduler
from hub.epcis_subscriptions import SubscriptionRoutes
from hub.epcis_xsd import EpcisXsdUnavailable, epcis_xml_schemas
from hub.exports import export_routes
from hub.faults import StoreFaults, unavailable_response
from hub.graph_health import GraphWatchdog
from hub.graphql_app import HubGraphQL, unauthenticated_response
from hub.haccp import HaccpRoutes
from hub.haccp_records import record_routes
from hub.import_template import import_template_routes
from hub.memory import tune_garbage_collector
from hub.metrics import Metrics
from hub.neo4j_connection import open_driver
from hub.notifications import Dispatcher  # imports graph_schema.notifications: its tables are created with the rest
from hub.oauth import (  # imports auth.clients: its table is created with the rest
    FailedAttempts,
    OpenRoutesBackend,
    SecretChecks,
    oauth_routes,
)
from hub.portal import AUTHORIZE_PATH, PORTAL_DIST, Portal, sign_in_choices
from hub.rate_limits import Rate, RateLimits
from hub.recall_report import recall_report_routes
from hub.request_log import REQUEST_ID_HEADER, HeaderLimit, RequestLog
from hub.settings import Settings
from hub.shared_rate_limits import SharedBuckets
from hub.sign_in import SignIn  # imports auth.people and auth.person_tokens: their tables are created with the rest
from hub.sign_in_failures import SharedFailedAttempts
from hub.sql_store import create_sql_engine, sql_ready
from hub.state import HubState
from hub.tracing import tracing_middleware

if TYPE_CHECKING:
    from opentelemetry.sdk.trace.export import SpanExporter

log = logging.getLogger(__name__)


def open_issuer(settings: Settings) -> BuiltinIssuer:
    """The built-in issuer with its persisted signing keys."""
    return BuiltinIssuer.load(
        key_file=settings.state_dir / "issuer" / "signing-keys.json",
        issuer=settings.issuer,
        audience=settings.token_audience,
        ttl_seconds=settings.token_ttl_seconds,
    )


def body_limits(settings: Settings) -> Callable[[Scope], BodyLimit]:
    """The largest body each route takes: HUB_MAX_BODY_KB unless the route needs more."""
    default = BodyLimit(settings.max_body_kb * 1024, "HUB_MAX_BODY_KB")
    by_path = {
        "/epcis/capture": BodyLimit(settings.epcis_max_document_mb * 1_048_576, "HUB_EPCIS_MAX_DOCUMENT_MB"),
        "/haccp/readings": BodyLimit(settings.max_readings_body_mb * 1_048_576, "HUB_MAX_READINGS_BODY_MB"),
    }
    upload = BodyLimit(settings.max_upload_mb * 1_048_576, "HUB_MAX_UPLOAD_MB")

    def limit_for(scope: Scope) -> BodyLimit:
        path = scope["path"]
        if path == "/graphql" and Headers(scope=scope).get("content-type", "").startswith("multipart/"):
            return upload
        return by_path.get(path, default)

    return limit_for


async def http_problem(request: Request, error: Exception) -> Response:
    """Starlette's own refusals (no such route, a method the route does not take) as problem documents."""
    status = error.status_code if isinstance(error, HTTPException) else 500
    detail = {
        404: f"there is no route {request.url.path}; see the README for the hub's routes",
        405: f"{request.method} is not allowed on {request.url.path}",
    }.get(status, error.detail if isinstance(error, HTTPException) else "internal error")
    return JSONResponse(
        {
            "type": "about:blank",
            "title": HTTPStatus(status).phrase,
            "status": status,
            "detail": detail,
            "code": {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}.get(status, "BAD_REQUEST"),
        },
        status_code=status,
        media_type="application/problem+json",
        headers=getattr(error, "headers", None),
    )


def create_app(settings: Settings | None = None, *, span_exporter: SpanExporter | None = None) -> Starlette:
    """Build the hub's ASGI app; nothing connects until the lifespan starts (``span_exporter``: for tests)."""
    settings = settings or Settings()
    graphql = HubGraphQL(settings)
    # rate limits counted for all hub processes together through the SQL store, or per process
    shared_limits = (
        SharedBuckets(lambda: graphql.state.sql_engine, window_seconds=settings.rate_limit_window_seconds)
        if settings.rate_limit_shared
        else None
    )
    verifier_holder: dict[str, TokenVerifier] = {}

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # XML capture is checked against the GS1 XSDs: without them the hub does not start (hub/epcis_xsd.py)
        try:
            await anyio.to_thread.run_sync(epcis_xml_schemas, settings)
        except EpcisXsdUnavailable as missing:
            log.error("the hub cannot start without the GS1 EPCIS XSDs: %s", missing)
            raise
        driver = open_driver(settings)
        settings.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        settings.state_dir.chmod(0o700)  # keys, the SQLite file and the spool: the hub's user only
        engine = create_sql_engine(settings.database_url, pool_pre_ping=True)
        issuer = dataclasses.replace(open_issuer(settings), leeway_seconds=settings.token_leeway_seconds)
        # one client for every identity provider's discovery and key set; an IdP that hangs fails fast
        http = httpx.AsyncClient(timeout=httpx.Timeout(5.0), follow_redirects=False)
        verifier_holder["verifier"] = TokenVerifier.create(
            builtin=issuer if settings.issuer_enabled else None,
            trusted=settings.trusted_issuers,
            http=http,
            leeway_seconds=settings.token_leeway_seconds,
        )
        state = HubState(
            settings=settings, driver=driver, sql_engine=engine, issuer=issuer, redaction_key=settings.redaction_key()
        )
        graphql.state = state
        app.state.hub = state
        try:
            await apply_schema(Graph(driver, database=settings.neo4j_database))
        except Exception:  # the hub still serves /healthz and reports the cause on /readyz
            log.exception("could not apply the graph schema at start-up")
        try:
            await anyio.to_thread.run_sync(create_tables, engine)
        except Exception:  # as above: /readyz reports the SQL store as down
            log.exception("could not create the SQL tables at start-up")
        jobs = asyncio.create_task(epcis.watch_jobs())  # capture jobs of processes that died are declared so
        watchdog = GraphWatchdog(
            driver=driver,
            probe_driver=open_driver(settings, pool_size=2),
            database=settings.neo4j_database,
            interval=settings.neo4j_probe_interval_seconds,
            timeout=settings.neo4j_probe_timeout_seconds,
        )
        app.state.watchdog = watchdog
        watching = asyncio.create_task(watchdog.run())
        tune_garbage_collector()  # what start-up built stays out of every later collection (hub/memory.py)
        # webhook deliveries have a client of their own: no redirects followed, their own timeout per attempt
        webhook_http = httpx.AsyncClient(follow_redirects=False, trust_env=False)
        dispatcher = Dispatcher(
            settings=settings,
            graph=Graph(driver, database=settings.neo4j_database),
            engine=engine,
            broadcast=state.notifier.broadcast,
            http=webhook_http,
        )
        try:
            async with anyio.create_task_group() as background:
                background.start_soon(dispatcher.run)
                # scheduled EPCIS query subscriptions, and captures a dying process left unpublished to them
                scheduler = SubscriptionScheduler(engine, graph=Graph(driver, database=settings.neo4j_database))
                background.start_soon(scheduler.run)
                if shared_limits is not None:
                    background.start_soon(shared_limits.run)
                if settings.haccp_sweep_seconds > 0:  # CCPs gone silent: MISSED_MONITORING deviations
                    background.start_soon(sweep_forever, state)
                try:
                    yield
                finally:
                    background.cancel_scope.cancel()
        finally:
            jobs.cancel()
            await webhook_http.aclose()
            watching.cancel()
            await watchdog.probe_driver.close()
            await http.aclose()
            await driver.close()
            engine.dispose()

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> Response:
        # Each check is bounded (the probe's timeout): a frozen store is reported, not waited for.
        state: HubState = request.app.state.hub
        watchdog: GraphWatchdog = request.app.state.watchdog
        down: dict[str, str] = {}
        if (problem := watchdog.breaker.down_reason or await watchdog.probe()) is not None:
            down["neo4j"] = problem
        if (problem := await sql_ready(state.sql_engine, seconds=settings.neo4j_probe_timeout_seconds)) is not None:
            down["sql"] = problem
        if down:
            return JSONResponse({"status": "unavailable", "down": down}, status_code=503)
        return JSONResponse({"status": "ready"})

    def on_auth_error(conn: HTTPConnection, exc: AuthenticationError) -> Response:
        if isinstance(exc, AuthenticationUnavailable):
            return unavailable_response(StoreFault("neo4j", str(exc)), graphql=conn.url.path.rstrip("/") == "/graphql")
        return unauthenticated_response()

    metrics = Metrics()
    epcis = EpcisRoutes(lambda: graphql.state, metrics=metrics)
    backend = BearerTokenBackend(lambda: verifier_holder["verifier"])
    graphql.backend = backend
    # people's sign-in at the built-in issuer: accounts locked after failures, counted like the clients' failures
    sign_in = SignIn(
        lambda: graphql.state,
        attempts=SharedFailedAttempts(
            lambda: graphql.state.sql_engine,
            limit=settings.sign_in_lockout_failures,
            window_seconds=settings.sign_in_lockout_seconds,
        )
        if settings.oauth_lockout_shared
        else FailedAttempts(limit=settings.sign_in_lockout_failures, window_seconds=settings.sign_in_lockout_seconds),
        checks=SecretChecks(
            concurrent=settings.oauth_concurrent_secret_checks, per_second=settings.oauth_secret_checks_per_second
        ),
    )
    # the built-in issuer's endpoints, only where it is enabled; they take no bearer token
    issuer_routes = (
        oauth_routes(
            lambda: graphql.state,
            failed_attempts=SharedFailedAttempts(
                lambda: graphql.state.sql_engine,
                limit=settings.oauth_lockout_failures,
                window_seconds=settings.oauth_lockout_seconds,
            )
            if settings.oauth_lockout_shared
            else FailedAttempts(limit=settings.oauth_lockout_failures, window_seconds=settings.oauth_lockout_seconds),
            secret_checks=SecretChecks(
                concurrent=settings.oauth_concurrent_secret_checks,
                per_second=settings.oauth_secret_checks_per_second,
            ),
            person_grants=sign_in,
        )
        + sign_in.routes()
        if settings.issuer_enabled
        else []
    )
    # the member portal at /: people sign in with the built-in issuer once it authorizes, or their firm's IdP
    authorizes = any(getattr(route, "path", None) == AUTHORIZE_PATH for route in issuer_routes)
    portal = Portal(
        sign_in_choices(
            settings.trusted_issuers,
            builtin_issuer=settings.issuer if authorizes else None,
            builtin_client_id=settings.portal_client_id,
        ),
        dist=settings.portal_dir or PORTAL_DIST,
    )
    graphql.ide_page = portal.graphiql_page
    # browser partner apps named in the settings, and none otherwise
    cors = (
        [
            Middleware(
                CORSMiddleware,
                allow_origins=settings.cors_origins,
                allow_methods=["GET", "POST"],
                allow_headers=["Authorization", "Content-Type", REQUEST_ID_HEADER, "GS1-Capture-Error-Behaviour"],
                expose_headers=[REQUEST_ID_HEADER, "Location", "Retry-After"],
                max_age=600,
            )
        ]
        if settings.cors_origins
        else []
    )
    epcis_routes = [
        *epcis.routes(),
        *master_data_routes(),
        *EpcisResources(lambda: graphql.state).routes(),
        *SubscriptionRoutes().routes(),
    ]
    return Starlette(
        routes=[
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/graphql", graphql, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", graphql),
            *export_routes(),
            *recall_report_routes(),
            *access_log_routes(),
            *epcis_routes,
            *discovery_routes(epcis_routes),  # OPTIONS on each EPCIS resource
            *HaccpRoutes(lambda: graphql.state).routes(),
            *record_routes(),
            *import_template_routes(),
            Route("/metrics", metrics.endpoint(lambda: graphql.state)),
            *issuer_routes,
            *portal.routes(),  # last: its catch-all answers only what no route above does
        ],
        middleware=[
            *tracing_middleware(settings, exporter=span_exporter),
            Middleware(RequestLog),
            Middleware(HeaderLimit, max_bytes=settings.http_max_header_bytes),
            *cors,
            Middleware(metrics.middleware),
            Middleware(BodySizeLimit, limit_for=body_limits(settings)),
            Middleware(StoreFaults),
            Middleware(
                AuthenticationMiddleware, backend=OpenRoutesBackend(backend, issuer_routes), on_error=on_auth_error
            ),
            Middleware(DeviceConfinement),
            Middleware(
                RateLimits,
                client=Rate(settings.rate_limit_client_per_second, settings.rate_limit_client_burst),
                firm=Rate(settings.rate_limit_firm_per_second, settings.rate_limit_firm_burst),
                limiter=shared_limits,
            ),
        ],
        exception_handlers={HTTPException: http_problem},
        lifespan=lifespan,
    )
