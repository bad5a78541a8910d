"""One log line per request, under a request id that the caller gets back and Neo4j's transactions carry."""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Final

import orjson
from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from graph_schema.db import transaction_scope

log = logging.getLogger("hub.requests")

REQUEST_ID_HEADER: Final = "X-Request-ID"
# A caller's own id is kept when it is short and plain (a gateway's trace id); anything else is replaced, so a
# hostile id cannot forge log lines or grow them.
_CALLER_ID: Final = re.compile(r"[A-Za-z0-9._:-]{8,64}")


def request_id_of(headers: Headers) -> str:
    """The caller's X-Request-ID when it is acceptable, else a new one."""
    given = headers.get(REQUEST_ID_HEADER, "")
    return given if _CALLER_ID.fullmatch(given) else uuid.uuid4().hex


class RequestLog:
    """Gives each HTTP request and websocket an id (``scope["state"]["request_id"]``, ``X-Request-ID`` on the
    response, ``requestId`` in the metadata of its Neo4j transactions) and logs one line when it ends."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        request_id = request_id_of(Headers(scope=scope))
        scope.setdefault("state", {})["request_id"] = request_id
        status: int | None = None

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                MutableHeaders(scope=message).append(REQUEST_ID_HEADER, request_id)
            elif message["type"] == "websocket.accept":
                status = 101
            await send(message)

        started = time.perf_counter()
        try:
            with transaction_scope(requestId=request_id):
                await self.app(scope, receive, sending)
        finally:
            client = scope.get("client")
            fields = {
                "requestId": request_id,
                "method": scope.get("method", "WEBSOCKET"),
                "path": scope["path"][:200],
                "status": status if status is not None else 500,
                "durationMs": round((time.perf_counter() - started) * 1000, 1),
                "client": client[0] if client else None,
            }
            log.info(
                "%s %s %s %.1f ms id=%s",
                fields["method"],
                fields["path"],
                fields["status"],
                fields["durationMs"],
                request_id,
                extra={"fields": fields},
            )


def headers_too_large(detail: str) -> bytes:
    """The body of a 431 (problem JSON), from the app (``HeaderLimit``) or the protocol (``hub.server``)."""
    return orjson.dumps(
        {"title": "Request header fields too large", "status": 431, "detail": detail, "code": "BAD_USER_INPUT"}
    )


class HeaderLimit:
    """431 for a request whose headers add up to more than ``max_bytes``: the server's protocol
    (``hub.server.GuardedHttpToolsProtocol``) only bounds a head still arriving in pieces, not a whole oversized
    block sent at once."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            size = sum(len(name) + len(value) + 4 for name, value in scope["headers"])
            if size > self.max_bytes:
                detail = f"the request's headers have {size} bytes; at most {self.max_bytes} are accepted"
                response = Response(headers_too_large(detail), status_code=431, media_type="application/problem+json")
                if scope["type"] == "http":
                    await response(scope, receive, send)
                else:
                    await send({"type": "websocket.close", "code": 1009})
                return
        await self.app(scope, receive, send)
