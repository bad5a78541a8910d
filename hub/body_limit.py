"""Request bodies bounded on every route while they are read: a 200 MB body is refused at the first byte
past the limit (or at once, from its Content-Length), never read whole first.

A pure ASGI middleware, so it sees the ``http.request`` chunks as they arrive. Past the limit it answers
413 itself and tells the route the client went away, so whatever the route does with a half-read body, no
second answer is sent.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

PAYLOAD_TOO_LARGE: Final = "PAYLOAD_TOO_LARGE"


@dataclass(frozen=True)
class BodyLimit:
    """The largest body a route takes, and the setting that says so."""

    max_bytes: int
    setting: str


def too_large(limit: BodyLimit) -> JSONResponse:
    """413 naming the limit and the setting behind it."""
    return JSONResponse(
        {
            "type": "about:blank",
            "title": "Payload too large",
            "status": 413,
            "detail": f"this route takes a body of at most {limit.max_bytes} bytes ({limit.setting})",
            "code": PAYLOAD_TOO_LARGE,
            "limit": limit.max_bytes,
        },
        status_code=413,
        media_type="application/problem+json",
    )


class BodySizeLimit:
    """Refuses a body larger than its route's limit with 413 ``application/problem+json``."""

    def __init__(self, app: ASGIApp, *, limit_for: Callable[[Scope], BodyLimit]) -> None:
        self.app = app
        self.limit_for = limit_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope)
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit.max_bytes:
            await too_large(limit)(scope, receive, send)
            return

        received = 0
        refused = False
        started = False

        async def counting_receive() -> Message:
            nonlocal received, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit.max_bytes:
                    refused = True
                    if not started:
                        await too_large(limit)(scope, receive, send)
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if refused:
                return  # the 413 has been sent; the route's own answer to a vanished client goes nowhere
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:
            if not refused:
                raise
            # the route failed on the body it was refused (ClientDisconnect): the 413 has said all there is
