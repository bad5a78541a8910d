"""A store that does not answer makes a 503 that names it, on every route, instead of a plain 500."""

from __future__ import annotations

import logging
from typing import Final

import orjson
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from graph_schema.errors import UNAVAILABLE
from graph_schema.faults import StoreFault, store_fault

log = logging.getLogger(__name__)

RETRY_AFTER_SECONDS: Final = 2


def unavailable_response(fault: StoreFault, *, graphql: bool) -> Response:
    """503 for a store that did not answer: a GraphQL error on /graphql, problem+json elsewhere."""
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
    if graphql:
        error = {"message": fault.message, "extensions": {"code": UNAVAILABLE, "store": fault.store}}
        body = orjson.dumps({"data": None, "errors": [error]})
        return Response(body, status_code=503, media_type="application/json", headers=headers)
    problem = {
        "type": "about:blank",
        "title": "Unavailable",
        "status": 503,
        "detail": fault.message,
        "code": UNAVAILABLE,
        "store": fault.store,
    }
    return Response(orjson.dumps(problem), status_code=503, media_type="application/problem+json", headers=headers)


class StoreFaults:
    """Turns a store fault raised before the response started into its 503 (after it started, nothing can)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_tracking(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, send_tracking)
        except Exception as error:
            # a task group (Starlette's BaseHTTPMiddleware) wraps what its one task raised
            while isinstance(error, ExceptionGroup) and len(error.exceptions) == 1:
                error = error.exceptions[0]
            fault = store_fault(error)
            if fault is None or started:
                raise
            log.warning("%s %s: the %s store did not answer: %s", scope["method"], scope["path"], fault.store, error)
            graphql = scope["path"].rstrip("/") == "/graphql"
            await unavailable_response(fault, graphql=graphql)(scope, receive, send)
