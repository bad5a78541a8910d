"""A hostile or broken client inside one GraphQL websocket: a flood of messages closes it (4429), one operation
too many is refused by its id while the others go on, and a message bigger than a request body is refused."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from auth.principal import Role
from hub.app import create_app, open_issuer
from hub.server import serve_in_thread, uvicorn_options
from hub.settings import Settings
from tests.e2e.hub_settings import hub_settings
from tests.integration.conftest import Chain, chain  # noqa: F401  (the fixture: the firm 'farm' and its lots)

pytestmark = pytest.mark.neo4j


@pytest.fixture
def served(
    neo4j_server: tuple[str, str, str],
    tmp_path: Path,
    chain: Chain,  # noqa: F811
) -> Iterator[tuple[Settings, str]]:
    settings = hub_settings(
        neo4j_server,
        tmp_path,
        websocket_messages_per_second=1.0,
        websocket_message_burst=20,
        websocket_max_operations=2,
        max_body_kb=64,
    )
    with serve_in_thread(create_app(settings), port=settings.port, **uvicorn_options(settings)) as url:
        yield settings, url


async def signed_in(settings: Settings, url: str) -> ClientConnection:
    token = open_issuer(settings).mint(subject="app", firm_id="farm", roles=[Role.VIEWER])
    ws = await connect(url.replace("http://", "ws://") + "/graphql", subprotocols=["graphql-transport-ws"])  # type: ignore[list-item]
    await ws.send(json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}))
    assert (await next_message(ws))["type"] == "connection_ack"
    return ws


async def next_message(ws: ClientConnection) -> dict[str, object]:
    message: dict[str, object] = json.loads(await asyncio.wait_for(ws.recv(), timeout=30))
    return message


async def subscribe(ws: ClientConnection, operation: str, query: str) -> None:
    await ws.send(json.dumps({"id": operation, "type": "subscribe", "payload": {"query": query}}))


async def close_frame(ws: ClientConnection, *, within: float) -> tuple[int, str, list[dict[str, object]]]:
    """The close code and reason, and the messages that came before them."""
    before: list[dict[str, object]] = []
    deadline = time.monotonic() + within
    try:
        while True:
            before.append(json.loads(await asyncio.wait_for(ws.recv(), timeout=deadline - time.monotonic())))
    except ConnectionClosed as closed:
        frame = closed.rcvd
        assert frame is not None, "the server closed without a close frame"
        return frame.code, frame.reason, before


async def test_a_flood_of_messages_closes_the_websocket_with_4429(served: tuple[Settings, str]) -> None:
    settings, url = served
    ws = await signed_in(settings, url)
    started = time.monotonic()
    for _ in range(60):
        await ws.send(json.dumps({"type": "ping"}))
    code, reason, before = await close_frame(ws, within=30)
    assert code == 4429
    assert "messages" in reason
    pongs = [message for message in before if message["type"] == "pong"]
    # the burst (20, the connection_init among them) answered, then closed: not the 60 sent
    assert 15 <= len(pongs) <= 20, len(pongs)
    assert time.monotonic() - started < 10  # closed as it happens, not at some later sweep


async def test_a_third_operation_is_refused_by_its_id_and_the_others_go_on(served: tuple[Settings, str]) -> None:
    settings, url = served
    ws = await signed_in(settings, url)
    await subscribe(ws, "a", "subscription { recallDeclared { id } }")
    await subscribe(ws, "b", "subscription { recallDeclared { id } }")
    await subscribe(ws, "c", "{ me { firmId } }")
    refused = await next_message(ws)
    assert refused["id"] == "c"
    assert refused["type"] == "error"
    assert refused["payload"] == [
        {
            "message": "this connection already runs 2 operations: complete one before starting another",
            "extensions": {"code": "TOO_MANY_OPERATIONS"},
        }
    ]
    # the client ends one of its subscriptions: the same query now runs, and ending it frees its place again
    await ws.send(json.dumps({"id": "a", "type": "complete"}))
    await subscribe(ws, "d", "{ me { firmId } }")
    answer = await next_message(ws)
    assert answer == {"id": "d", "type": "next", "payload": {"data": {"me": {"firmId": "farm"}}}}
    assert await next_message(ws) == {"id": "d", "type": "complete"}
    await subscribe(ws, "e", "{ me { firmId } }")
    assert (await next_message(ws))["type"] == "next"
    await ws.close()


async def test_a_message_bigger_than_a_request_body_is_refused(served: tuple[Settings, str]) -> None:
    settings, url = served
    ws = await signed_in(settings, url)
    huge = "x" * (settings.max_body_kb * 1024 + 1)
    await ws.send(json.dumps({"id": "h", "type": "subscribe", "payload": {"query": f"{{ me {{ firmId }} }} #{huge}"}}))
    code, _, before = await close_frame(ws, within=30)
    assert code == 1009  # RFC 6455: message too big
    assert before == []
