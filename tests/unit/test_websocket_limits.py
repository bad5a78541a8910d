"""The websocket message guard's bucket refills with time; an operation's id is freed by either side ending it."""

from __future__ import annotations

import json

from starlette.types import Message

from hub.websocket_limits import CLOSE_TOO_MANY_MESSAGES, MessageGuard


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def text(body: dict[str, object]) -> Message:
    return {"type": "websocket.receive", "text": json.dumps(body)}


async def test_the_bucket_refills_at_its_rate_and_closes_past_it() -> None:
    clock = Clock()
    incoming = [text({"type": "ping"}) for _ in range(5)]
    sent: list[Message] = []

    async def receive() -> Message:
        return incoming.pop(0)

    async def send(message: Message) -> None:
        sent.append(message)

    guarded_receive, _ = MessageGuard(per_second=2.0, burst=2, max_operations=5, clock=clock).wrap(receive, send)
    assert (await guarded_receive())["type"] == "websocket.receive"
    assert (await guarded_receive())["type"] == "websocket.receive"
    clock.now = 0.5  # one message's worth refilled
    assert (await guarded_receive())["type"] == "websocket.receive"
    assert sent == []
    assert (await guarded_receive()) == {"type": "websocket.disconnect", "code": CLOSE_TOO_MANY_MESSAGES}
    assert sent[0]["type"] == "websocket.close"
    assert sent[0]["code"] == CLOSE_TOO_MANY_MESSAGES


async def test_an_operation_ended_by_the_server_frees_its_place() -> None:
    incoming = [text({"id": "1", "type": "subscribe", "payload": {}}), text({"id": "2", "type": "subscribe"})]
    sent: list[Message] = []

    async def receive() -> Message:
        return incoming.pop(0)

    async def send(message: Message) -> None:
        sent.append(message)

    guard = MessageGuard(per_second=0, burst=1, max_operations=1)
    guarded_receive, guarded_send = guard.wrap(receive, send)
    await guarded_receive()
    assert guard.running == {"1"}
    await guarded_send({"type": "websocket.send", "text": json.dumps({"id": "1", "type": "complete"})})
    assert guard.running == set()
    assert json.loads((await guarded_receive())["text"])["id"] == "2"
    assert guard.running == {"2"}
    # unreadable or foreign messages are the protocol handler's to answer, and count as no operation
    incoming.append({"type": "websocket.receive", "text": "{not json"})
    assert (await guarded_receive())["text"] == "{not json"
    assert guard.running == {"2"}
