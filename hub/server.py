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

import h11
import uvicorn
from starlette.types import ASGIApp
from uvicorn.protocols.http.h11_impl import H11Protocol

from hub.settings import Settings

HEADER_TIMEOUT_VARIABLE: Final = "HUB_HTTP_HEADER_TIMEOUT_SECONDS"


class HeaderTimeoutH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, plus a deadline for the request line and headers of every request.

    uvicorn times out idle keep-alive connections, but not a connection that never finishes its headers: one
    byte every few seconds, or nothing at all, kept it forever (a slowloris). Worker processes build this
    class themselves, so the deadline comes from the environment that ``hub serve`` sets.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.header_timeout = float(os.environ.get(HEADER_TIMEOUT_VARIABLE, "10"))
        self._header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        if self.conn.their_state is h11.IDLE:
            self._arm()  # a new request begins on this connection: its headers have the full allowance
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:
            self._disarm()  # the request line and headers are in

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

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self.transport.close()


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """What ``hub serve`` hands uvicorn besides the app: the HTTP limits of the settings."""
    os.environ[HEADER_TIMEOUT_VARIABLE] = str(settings.http_header_timeout_seconds)
    return {
        "http": HeaderTimeoutH11Protocol,
        "timeout_keep_alive": settings.http_keep_alive_seconds,
        "h11_max_incomplete_event_size": settings.http_max_header_bytes,
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
