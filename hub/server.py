"""Serving an ASGI app with uvicorn: in the foreground for `hub serve`, in a thread for tests and benchmarks."""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Final

import uvicorn
from starlette.types import ASGIApp
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from hub.request_log import headers_too_large
from hub.settings import Settings

HEADER_TIMEOUT_VARIABLE: Final = "HUB_HTTP_HEADER_TIMEOUT_SECONDS"
MAX_HEADER_BYTES_VARIABLE: Final = "HUB_HTTP_MAX_HEADER_BYTES"


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol (llhttp, in C), plus a deadline and a size bound for each request's head.

    uvicorn times out idle keep-alive connections, but not a connection that never finishes its request line and
    headers: one byte every few seconds, or nothing at all, kept it forever (a slowloris). And llhttp has no bound
    of its own on a head that arrives in pieces: the parser would keep buffering it. Here a head not complete
    within the deadline closes the connection, and one that has grown past ``http_max_header_bytes`` without
    ending is answered 431 and closed; a head that arrives whole is measured by the app's ``HeaderLimit``, which
    answers 431 in the API's problem format. Worker processes build this class themselves, so both limits come
    from the environment that ``hub serve`` sets.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.header_timeout = float(os.environ.get(HEADER_TIMEOUT_VARIABLE, "10"))
        self.max_head_bytes = int(os.environ.get(MAX_HEADER_BYTES_VARIABLE, "32768"))
        self._header_timer: asyncio.TimerHandle | None = None
        self._awaiting_head = True  # no request line and headers complete since the last message (or the start)
        self._head_bytes = 0  # bytes received while awaiting them (an upper bound: a chunk may hold more)
        self._heads_completed = 0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        completed_before = self._heads_completed
        super().data_received(data)
        if not self._awaiting_head or self.parser is None or self.transport.is_closing():
            return
        if self._answered():
            self._arm()  # bytes of a next head (or blank lines before one, which begin no message): a deadline
        if self._heads_completed != completed_before:
            self._head_bytes = 0  # a head ended in this chunk and the next one began: count only what follows
        self._head_bytes += len(data)
        if self._head_bytes > self.max_head_bytes:
            self._refuse_head()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._awaiting_head = True
        self._arm()  # a new request begins on this connection: its head has the full allowance

    def on_headers_complete(self) -> None:
        self._awaiting_head = False
        self._head_bytes = 0
        self._heads_completed += 1
        self._disarm()
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._awaiting_head = True

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        if self._header_timer is None:
            self._header_timer = self.loop.call_later(self.header_timeout, self._headers_too_slow)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _answered(self) -> bool:
        """No response under way on this connection (a slow answer is not a slow head)."""
        return self.cycle is None or self.cycle.response_complete

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        if self._awaiting_head and self._answered() and not self.transport.is_closing():
            self.transport.close()

    def _refuse_head(self) -> None:
        body = headers_too_large(f"the request's head passed {self.max_head_bytes} bytes before its headers ended")
        head = b"content-type: application/problem+json\r\ncontent-length: %d\r\nconnection: close\r\n\r\n"
        self.transport.write(STATUS_LINE[431] + head % len(body) + body)
        self.transport.close()


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """What ``hub serve`` hands uvicorn besides the app: the HTTP limits of the settings."""
    os.environ[HEADER_TIMEOUT_VARIABLE] = str(settings.http_header_timeout_seconds)
    os.environ[MAX_HEADER_BYTES_VARIABLE] = str(settings.http_max_header_bytes)
    return {
        "http": GuardedHttpToolsProtocol,
        "timeout_keep_alive": settings.http_keep_alive_seconds,
        "limit_concurrency": settings.http_max_concurrency,
        "ws_max_size": settings.max_body_kb * 1024,  # a websocket message is no bigger than a request body
    }


def free_port() -> int:
    """A loopback port that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serve_in_thread(
    app: ASGIApp, *, port: int, host: str = "127.0.0.1", timeout: float = 60.0, **options: Any
) -> Iterator[str]:
    """Run ``app`` (lifespan included) in a background thread until the block ends; yields its base URL."""
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on", **options)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError(f"the app did not start on {host}:{port} within {timeout:.0f} s")
        time.sleep(0.05)
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
