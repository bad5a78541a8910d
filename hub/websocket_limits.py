"""Limits inside one GraphQL websocket: a connection is one request to the rate limits at its handshake, so a
hostile or broken client could otherwise send messages and open subscriptions without end on it.

- Messages: a token bucket per connection (``HUB_WEBSOCKET_MESSAGES_PER_SECOND``, ``..._MESSAGE_BURST``); past it
  the connection is closed with 4429 and a reason saying so (graphql-transport-ws leaves 4400-4499 to servers
  for such errors).
- Operations: at most ``HUB_WEBSOCKET_MAX_OPERATIONS`` running at once; one more ``subscribe`` is answered with
  the protocol's ``error`` message for its id (code ``TOO_MANY_OPERATIONS``) and never reaches the executor, so
  the connection and its other subscriptions go on.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Final

import orjson
from starlette.types import Message, Receive, Send

CLOSE_TOO_MANY_MESSAGES: Final = 4429
TOO_MANY_OPERATIONS: Final = "TOO_MANY_OPERATIONS"


class MessageGuard:
    """Wraps one websocket's ASGI ``receive`` and ``send`` with its message rate and its operation count."""

    def __init__(
        self,
        *,
        per_second: float,
        burst: int,
        max_operations: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.per_second = per_second
        self.burst = burst
        self.max_operations = max_operations
        self.clock = clock
        self.tokens = float(burst)
        self.at = clock()
        self.running: set[str] = set()  # ids of the operations the client started and that have not ended
        self._send: Send | None = None

    def _take(self) -> bool:
        if self.per_second <= 0:
            return True
        now = self.clock()
        self.tokens = min(float(self.burst), self.tokens + (now - self.at) * self.per_second)
        self.at = now
        if self.tokens < 1.0:
            return False
        self.tokens -= 1.0
        return True

    def wrap(self, receive: Receive, send: Send) -> tuple[Receive, Send]:
        """The ``receive`` and ``send`` to give the GraphQL handler instead of the server's."""
        self._send = send

        async def guarded_send(message: Message) -> None:
            if message["type"] == "websocket.send":
                ended = _operation_message(message, ("complete", "error"))
                if ended is not None:
                    self.running.discard(ended)
            await send(message)

        async def guarded_receive() -> Message:
            while True:
                message = await receive()
                if message["type"] != "websocket.receive":
                    return message
                if not self._take():
                    reason = f"more than {self.burst} messages at once or {self.per_second:g} per second"
                    await send({"type": "websocket.close", "code": CLOSE_TOO_MANY_MESSAGES, "reason": reason})
                    return {"type": "websocket.disconnect", "code": CLOSE_TOO_MANY_MESSAGES}
                started = _operation_message(message, ("subscribe",))
                if started is not None and started not in self.running:
                    if len(self.running) >= self.max_operations:
                        await send(_too_many_operations(started, self.max_operations))
                        continue
                    self.running.add(started)
                ended = _operation_message(message, ("complete",))
                if ended is not None:
                    self.running.discard(ended)
                return message

        return guarded_receive, guarded_send


def _operation_message(message: Message, types: tuple[str, ...]) -> str | None:
    """The operation id of a graphql-transport-ws message of one of ``types``, else None (anything unreadable is
    left to the protocol handler, which answers it as the protocol says)."""
    raw = message.get("text") or message.get("bytes")
    if not raw:
        return None
    try:
        body: Any = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(body, dict) or body.get("type") not in types or not isinstance(body.get("id"), str):
        return None
    operation: str = body["id"]
    return operation


def _too_many_operations(operation: str, limit: int) -> Message:
    error = {
        "message": f"this connection already runs {limit} operations: complete one before starting another",
        "extensions": {"code": TOO_MANY_OPERATIONS},
    }
    return {
        "type": "websocket.send",
        "text": orjson.dumps({"id": operation, "type": "error", "payload": [error]}).decode(),
    }
