"""Recalls told: two hub processes sharing one SQL store, real websockets, a real signed-webhook receiver.

The chain: the farm's soybean lot is shipped to the plant and made into tofu; a rival has a lot of its own.
The plant's coordinator recalls the soybean lot: the soybeans and the tofu are held. The farm (owner of the
soybeans) and the plant (received them, owns the tofu) are told; the rival holds nothing affected and is told
nothing. The farm is told of its own lot in full and of the tofu only as a count.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect

from auth.principal import Role
from hub.app import create_app, open_issuer
from hub.server import free_port, serve_in_thread
from hub.settings import Settings
from tests.e2e.hub_settings import hub_settings
from tests.integration.conftest import Chain, chain  # noqa: F401  (the fixture, shared with the integration tests)

pytestmark = pytest.mark.neo4j

SUBSCRIBE = """subscription { recallDeclared { id reason lotIds
  affectedLots(first: 10) { edges { node { id redacted lot { id owner { id } } } } } } }"""


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """A webhook receiver on a loopback port: records every POST; answers 503 to the first ``fail_first``."""

    port: int
    fail_first: dict[str, int] = field(default_factory=dict)  # path -> how many to refuse first
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def at(self, path: str) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.path == path]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver(port=free_port())

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            with state.lock:
                state.received.append(Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                refuse = state.fail_first.get(self.path, 0)
                if refuse:
                    state.fail_first[self.path] = refuse - 1
            self.send_response(503 if refuse else 204)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", state.port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def two_hubs(neo4j_server: tuple[str, str, str], tmp_path: Path) -> Iterator[tuple[Settings, list[str]]]:
    """Two hub apps, each with its own uvicorn server, sharing one SQLite file and the Neo4j."""
    fast = {
        "notifications_poll_seconds": 0.1,
        "webhook_retry_base_seconds": 0.2,
        "webhook_max_attempts": 4,
        "notifications_sweep_seconds": 3600,
        "issuer_url": "http://127.0.0.1/hub",  # one issuer behind both processes, as behind a balancer
    }
    first = hub_settings(neo4j_server, tmp_path, **fast)
    second = hub_settings(neo4j_server, tmp_path, **fast)
    with ExitStack() as stack:
        urls = [stack.enter_context(serve_in_thread(create_app(s), port=s.port)) for s in (first, second)]
        yield first, urls


def token(settings: Settings, firm: str, *roles: Role) -> str:
    return open_issuer(settings).mint(subject=f"{firm}-app", firm_id=firm, roles=list(roles or [Role.ADMIN]))


async def graphql(url: str, bearer: str, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=30) as http:
        response = await http.post(
            url + "/graphql",
            json={"query": query, "variables": variables or {}},
            headers={"Authorization": f"Bearer {bearer}"},
        )
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def subscribed(url: str, bearer: str) -> ClientConnection:
    ws = await connect(url.replace("http://", "ws://") + "/graphql", subprotocols=["graphql-transport-ws"])  # type: ignore[list-item]
    await ws.send(json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {bearer}"}}))
    assert json.loads(await ws.recv())["type"] == "connection_ack"
    await ws.send(json.dumps({"id": "recalls", "type": "subscribe", "payload": {"query": SUBSCRIBE}}))
    return ws


async def register(url: str, bearer: str, hook_url: str, events: str = "[RECALL_DECLARED, RECALL_CLOSED]") -> str:
    answer = await graphql(
        url,
        bearer,
        f'mutation {{ registerWebhook(input: {{url: "{hook_url}", events: {events}}}) {{ id url events secret }} }}',
    )
    assert "errors" not in answer, answer
    secret: str = answer["data"]["registerWebhook"]["secret"]
    assert secret.startswith("whsec_")
    return secret


def verified(secret: str, received: Received) -> dict[str, Any]:
    """The body, once its signature is checked as a receiver would."""
    expected = "sha256=" + hmac.new(secret.encode(), received.body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(received.headers["hub-signature"], expected)
    body: dict[str, Any] = json.loads(received.body)
    assert received.headers["hub-delivery"] == body["id"]
    return body


async def wait_for(check: Any, *, seconds: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def test_a_declared_recall_is_told_once_to_each_firm_holding_affected_lots_and_only_what_it_may_see(
    two_hubs: tuple[Settings, list[str]],
    receiver: Receiver,
    chain: Chain,  # noqa: F811
) -> None:
    settings, (hub_a, hub_b) = two_hubs
    farm, plant, rival = (token(settings, f) for f in ("farm", "plant", "rival"))
    secrets = {
        "farm": await register(hub_a, farm, receiver.url("/farm")),
        "plant": await register(hub_b, plant, receiver.url("/plant")),
        "rival": await register(hub_a, rival, receiver.url("/rival")),
    }
    receiver.fail_first["/farm"] = 1  # the farm's receiver is down at first: the delivery is retried
    # subscribers on both processes: the farm on each, the plant on b, the rival on a
    sockets = {
        "farm@a": await subscribed(hub_a, farm),
        "farm@b": await subscribed(hub_b, farm),
        "plant@b": await subscribed(hub_b, plant),
        "rival@a": await subscribed(hub_a, rival),
    }
    await asyncio.sleep(0.3)  # the subscriptions are listening
    coordinator = token(settings, "plant", Role.RECALL_COORDINATOR)
    declared = await graphql(
        hub_a,
        coordinator,
        "mutation($lots: [ID!]!) { declareRecall(input: {lotIds: $lots, reason: 'aflatoxin', recallClass: I})"
        " { id } }".replace("'", '"'),
        {"lots": [chain.soy]},
    )
    assert "errors" not in declared, declared
    recall_id = declared["data"]["declareRecall"]["id"]

    # websockets: every subscriber of the farm and the plant, on either process, gets it once
    for name in ("farm@a", "farm@b", "plant@b"):
        message = json.loads(await asyncio.wait_for(sockets[name].recv(), timeout=10))
        assert message["type"] == "next", message
        recall = message["payload"]["data"]["recallDeclared"]
        assert recall["id"] == recall_id
        lots = [edge["node"] for edge in recall["affectedLots"]["edges"]]
        if name.startswith("farm"):  # its soybeans in full; the plant's tofu redacted
            assert [n["lot"]["id"] for n in lots if not n["redacted"]] == [chain.soy]
            redacted = [n for n in lots if n["redacted"]]
            assert len(redacted) == 1
            assert redacted[0]["lot"] is None
            assert chain.tofu not in json.dumps(message)
        else:
            assert sorted(n["lot"]["id"] for n in lots) == sorted([chain.soy, chain.tofu])

    # webhooks: the farm's after one refusal, the plant's at once, each with its own view; the rival's never
    await wait_for(lambda: len(receiver.at("/farm")) == 2 and len(receiver.at("/plant")) == 1)
    farm_bodies = [verified(secrets["farm"], r) for r in receiver.at("/farm")]
    assert farm_bodies[0] == farm_bodies[1]  # the retry is the same delivery, same id
    farm_body = farm_bodies[0]
    assert farm_body["event"] == "RECALL_DECLARED"
    assert farm_body["recall"]["id"] == recall_id
    assert [lot["id"] for lot in farm_body["recall"]["yourLots"]] == [chain.soy]
    assert farm_body["recall"]["otherLotCount"] == 1
    assert chain.tofu not in receiver.at("/farm")[0].body.decode()
    plant_body = verified(secrets["plant"], receiver.at("/plant")[0])
    assert sorted(lot["id"] for lot in plant_body["recall"]["yourLots"]) == sorted([chain.soy, chain.tofu])
    assert plant_body["recall"]["otherLotCount"] == 0

    # nothing more arrives: no second delivery from the other process, nothing for the rival anywhere
    await asyncio.sleep(1.5)
    assert len(receiver.at("/farm")) == 2
    assert len(receiver.at("/plant")) == 1
    assert receiver.at("/rival") == []
    for name in ("farm@a", "farm@b", "plant@b", "rival@a"):
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(sockets[name].recv(), timeout=0.2)
        await sockets[name].close()

    # the farm's admin reads its delivery log
    log = await graphql(
        hub_b,
        farm,
        "{ webhooks { url secret deliveries { id event status attempts lastStatusCode lastError deliveredAt } } }",
    )
    assert "errors" not in log, log
    (hook,) = log["data"]["webhooks"]
    assert hook["secret"] is None
    (delivery,) = hook["deliveries"]
    assert delivery["id"] == farm_body["id"]
    assert delivery["event"] == "RECALL_DECLARED"
    assert delivery["status"] == "DELIVERED"
    assert delivery["attempts"] == 2
    assert delivery["lastStatusCode"] == 204
    assert delivery["deliveredAt"] is not None

    # closing the recall is told too
    closed = await graphql(
        hub_b, coordinator, "mutation($id: ID!) { closeRecall(id: $id) { status } }", {"id": recall_id}
    )
    assert "errors" not in closed, closed
    await wait_for(lambda: len(receiver.at("/farm")) == 3 and len(receiver.at("/plant")) == 2)
    closing = verified(secrets["farm"], receiver.at("/farm")[2])
    assert closing["event"] == "RECALL_CLOSED"
    assert closing["recall"]["status"] == "CLOSED"
    assert closing["id"] != farm_body["id"]
    assert receiver.at("/rival") == []
