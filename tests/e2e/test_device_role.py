"""The device role (a Smart HACCP gateway's credentials) can do nothing but post CCP readings."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from auth.principal import Role
from graph_schema.db import Graph
from hub.app import create_app, open_issuer
from hub.server import serve_in_thread
from hub.settings import Settings
from tests.e2e.hub_settings import hub_settings
from tests.factories import register_firms

pytestmark = pytest.mark.neo4j


@pytest.fixture(scope="module")
def settings(neo4j_server: tuple[str, str, str], tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return hub_settings(neo4j_server, tmp_path_factory.mktemp("state"))


@pytest.fixture(scope="module")
def base_url(settings: Settings) -> Iterator[str]:
    with serve_in_thread(create_app(settings), port=settings.port) as url:
        yield url


@pytest.fixture
async def device_token(settings: Settings, graph: Graph) -> str:
    await register_firms(graph, ["plant", "agency"], roles=["PLANT"])
    return open_issuer(settings).mint(subject="gateway-1", firm_id="plant", roles=[Role.DEVICE])


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/graphql", {"query": "{ me { firmId } }"}),
        ("GET", "/graphql?query=%7Bme%7BfirmId%7D%7D", None),
        ("GET", "/epcis/events", None),
        ("POST", "/epcis/capture", {"@context": [], "type": "EPCISDocument"}),
        ("GET", "/exports/fsma204?lot=x&direction=upstream&format=csv", None),
        ("GET", "/metrics", None),
    ],
)
def test_a_device_token_is_refused_everywhere_but_the_readings_route(
    base_url: str, device_token: str, method: str, path: str, body: dict[str, object] | None
) -> None:
    response = httpx.request(
        method, f"{base_url}{path}", json=body, headers={"Authorization": f"Bearer {device_token}"}
    )
    assert response.status_code == 403, response.text
    assert response.json()["code"] == "FORBIDDEN"
    assert "device role" in response.json()["detail"]
    assert "data" not in response.json()


async def test_a_device_token_cannot_open_a_graphql_websocket(base_url: str, device_token: str) -> None:
    ws_url = base_url.replace("http://", "ws://") + "/graphql"
    async with connect(ws_url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
        await ws.send(json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {device_token}"}}))
        with pytest.raises(ConnectionClosed) as closed:
            await ws.recv()
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 4403


def test_an_editor_token_of_the_same_firm_is_not_confined(base_url: str, settings: Settings, device_token: str) -> None:
    editor = open_issuer(settings).mint(subject="qa", firm_id="plant", roles=[Role.EDITOR])
    response = httpx.post(
        f"{base_url}/graphql", json={"query": "{ me { firmId } }"}, headers={"Authorization": f"Bearer {editor}"}
    )
    assert response.json() == {"data": {"me": {"firmId": "plant"}}}
