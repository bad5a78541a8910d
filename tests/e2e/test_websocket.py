"""GraphQL over a websocket (graphql-transport-ws): signed in by the connection_init payload, decided per operation."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from auth.principal import Role
from graph_schema.db import Graph
from hub.app import create_app, open_issuer
from hub.server import serve_in_thread
from hub.settings import Settings
from tests.e2e.hub_settings import hub_settings
from tests.integration.conftest import Chain, chain  # noqa: F401  (the fixture, shared with the integration tests)

pytestmark = pytest.mark.neo4j

GRANT_THE_FARM = 'mutation { grantSharing(input: {scope: TRACE, level: DETAIL, toFirmId: "farm"}) { id } }'


@pytest.fixture(scope="module")
def settings(neo4j_server: tuple[str, str, str], tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return hub_settings(neo4j_server, tmp_path_factory.mktemp("state"))


@pytest.fixture(scope="module")
def ws_url(settings: Settings) -> Iterator[str]:
    with serve_in_thread(create_app(settings), port=settings.port) as url:
        yield url.replace("http://", "ws://") + "/graphql"


async def operation(ws: ClientConnection, op_id: str, query: str, variables: dict[str, Any] | None = None) -> Any:
    await ws.send(
        json.dumps({"id": op_id, "type": "subscribe", "payload": {"query": query, "variables": variables or {}}})
    )
    message = json.loads(await ws.recv())
    assert message["type"] == "next", message
    assert json.loads(await ws.recv())["type"] == "complete"
    return message["payload"]


@pytest.mark.parametrize("payload", [{}, {"Authorization": "Bearer not-a-token"}, {"Authorization": "Basic eDp5"}])
async def test_a_websocket_without_a_valid_token_is_closed(ws_url: str, payload: dict[str, str]) -> None:
    async with connect(ws_url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
        await ws.send(json.dumps({"type": "connection_init", "payload": payload}))
        with pytest.raises(ConnectionClosed) as closed:
            await ws.recv()
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 4403


async def test_operations_on_one_socket_each_take_the_permission_decision_anew(
    ws_url: str,
    settings: Settings,
    graph: Graph,
    chain: Chain,  # noqa: F811
) -> None:
    token = open_issuer(settings).mint(subject="app", firm_id="farm", roles=[Role.VIEWER])
    down = "query($id: ID!) { trace(lotId: $id, direction: DOWNSTREAM) { summary { redactedCount } } }"
    async with connect(ws_url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
        await ws.send(json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}))
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        assert await operation(ws, "1", "{ me { firmId } }") == {"data": {"me": {"firmId": "farm"}}}
        before = await operation(ws, "2", down, {"id": chain.soy})
        assert before == {"data": {"trace": {"summary": {"redactedCount": 1}}}}
        # the plant grants the farm its trace through the hub, over HTTP: the next operation on the socket counts it
        plant = open_issuer(settings).mint(subject="plant-admin", firm_id="plant", roles=[Role.ADMIN])
        async with httpx.AsyncClient() as http:
            granted = await http.post(
                ws_url.replace("ws://", "http://"),
                json={
                    "query": 'mutation { grantSharing(input: {scope: TRACE, level: DETAIL, toFirmId: "farm"}) { id } }'
                },
                headers={"Authorization": f"Bearer {plant}"},
            )
        assert granted.status_code == 200
        assert "errors" not in granted.json(), granted.json()
        after = await operation(ws, "3", down, {"id": chain.soy})
        assert after == {"data": {"trace": {"summary": {"redactedCount": 0}}}}
