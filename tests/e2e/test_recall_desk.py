"""The recall desk, live: its coordinator watches consignees' webhooks take the notice and their answers arrive.

Two hub processes share one SQL store: the desk subscribes on one, the consignee answers on the other. The farm
(owner of the recalled soybeans) is a consignee and the rival holds nothing; neither may watch the plant's desk.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect

from auth.principal import Role
from hub.app import create_app
from hub.server import serve_in_thread
from hub.settings import Settings
from tests.e2e.hub_settings import hub_settings
from tests.e2e.test_notifications import Receiver, graphql, receiver, register, token  # noqa: F401
from tests.integration.conftest import Chain, chain  # noqa: F401

pytestmark = pytest.mark.neo4j


@pytest.fixture
def two_hubs(neo4j_server: tuple[str, str, str], tmp_path: Path) -> Iterator[tuple[Settings, list[str]]]:
    """Two hub processes on one SQLite file; a refused webhook is tried again every 0.2-0.5 s, 50 times."""
    fast = {
        "notifications_poll_seconds": 0.1,
        "webhook_retry_base_seconds": 0.2,
        "webhook_retry_max_seconds": 0.5,
        "webhook_max_attempts": 50,
        "notifications_sweep_seconds": 3600,
        "issuer_url": "http://127.0.0.1/hub",
    }
    first = hub_settings(neo4j_server, tmp_path, **fast)
    second = hub_settings(neo4j_server, tmp_path, **fast)
    with ExitStack() as stack:
        urls = [stack.enter_context(serve_in_thread(create_app(s), port=s.port)) for s in (first, second)]
        yield first, urls


DESK = """subscription($id: ID!) { recallActivity(recallId: $id) {
  kind at firmIds lotIds firms { id name } recall { id status acknowledgements { firm { id } note } } } }"""


async def desk(url: str, bearer: str, recall_id: str) -> ClientConnection:
    ws = await connect(url.replace("http://", "ws://") + "/graphql", subprotocols=["graphql-transport-ws"])  # type: ignore[list-item]
    await ws.send(json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {bearer}"}}))
    assert json.loads(await ws.recv())["type"] == "connection_ack"
    await ws.send(
        json.dumps({"id": "desk", "type": "subscribe", "payload": {"query": DESK, "variables": {"id": recall_id}}})
    )
    return ws


async def next_activity(ws: ClientConnection) -> dict[str, Any]:
    raw = await asyncio.wait_for(ws.recv(), timeout=30)
    assert isinstance(raw, str), "a text frame: a browser's graphql-ws reads a binary frame as no message"
    message = json.loads(raw)
    assert message["type"] == "next", message
    assert "errors" not in message["payload"], message
    activity: dict[str, Any] = message["payload"]["data"]["recallActivity"]
    return activity


async def refused(url: str, bearer: str, recall_id: str) -> dict[str, Any]:
    """The one error a refused subscription gets, before it completes (graphql-transport-ws)."""
    ws = await desk(url, bearer, recall_id)
    try:
        message = json.loads(await asyncio.wait_for(ws.recv(), timeout=30))
        assert message["type"] == "next", message
        assert message["payload"]["data"] is None, message
        (error,) = message["payload"]["errors"]
        assert json.loads(await asyncio.wait_for(ws.recv(), timeout=30))["type"] == "complete"
    finally:
        await ws.close()
    assert isinstance(error, dict)
    return error


async def test_the_coordinators_desk_sees_notices_taken_and_acknowledgements_arrive_from_another_process(
    two_hubs: tuple[Settings, list[str]],
    receiver: Receiver,  # noqa: F811
    chain: Chain,  # noqa: F811
) -> None:
    settings, (hub_a, hub_b) = two_hubs
    farm = token(settings, "farm")
    await register(hub_a, farm, receiver.url("/farm"))
    coordinator = token(settings, "plant", Role.RECALL_COORDINATOR)
    # the desk cannot watch a recall before it exists: an unknown id is refused like another firm's
    unknown = await refused(hub_b, coordinator, "recall-00000000-0000-0000-0000-000000000000")
    assert unknown["extensions"] == {"code": "NOT_FOUND", "field": "recallId"}

    # the farm's receiver refuses until the desk listens, so the notice is taken while the desk watches
    receiver.fail_first["/farm"] = 10_000
    declared = await graphql(
        hub_a,
        coordinator,
        'mutation($lots: [ID!]!) { declareRecall(input: {lotIds: $lots, reason: "aflatoxin", recallClass: I}) { id } }',
        {"lots": [chain.soy]},
    )
    assert "errors" not in declared, declared
    recall_id = declared["data"]["declareRecall"]["id"]
    ws = await desk(hub_b, coordinator, recall_id)
    try:
        watching = await next_activity(ws)  # listening from now on, and the recall as it stands
        assert watching["kind"] == "WATCHING"
        assert watching["recall"]["id"] == recall_id
        assert watching["recall"]["status"] == "OPEN"
        with receiver.lock:
            receiver.fail_first["/farm"] = 0
        notified = await next_activity(ws)
        assert notified["kind"] == "NOTIFIED"
        assert notified["firmIds"] == ["farm"]
        assert [f["id"] for f in notified["firms"]] == ["farm"]
        assert notified["recall"]["acknowledgements"] == []

        # the farm acknowledges on the other process: the desk is told, and reads the acknowledgement with it
        acknowledged = await graphql(
            hub_a,
            token(settings, "farm", Role.EDITOR),
            'mutation($id: ID!) { acknowledgeRecall(id: $id, note: "pulled from the line") { id } }',
            {"id": recall_id},
        )
        assert "errors" not in acknowledged, acknowledged
        activity = await next_activity(ws)
        assert activity["kind"] == "ACKNOWLEDGED"
        assert activity["firmIds"] == ["farm"]
        assert activity["recall"]["acknowledgements"] == [{"firm": {"id": "farm"}, "note": "pulled from the line"}]

        closed = await graphql(
            hub_a, coordinator, "mutation($id: ID!) { closeRecall(id: $id) { id } }", {"id": recall_id}
        )
        assert "errors" not in closed, closed
        closing = await next_activity(ws)
        assert closing["kind"] == "CLOSED"
        assert closing["recall"]["status"] == "CLOSED"
    finally:
        await ws.close()


async def test_a_consignee_and_a_firm_holding_nothing_cannot_watch_the_desk(
    two_hubs: tuple[Settings, list[str]],
    chain: Chain,  # noqa: F811
) -> None:
    settings, (hub_a, _) = two_hubs
    coordinator = token(settings, "plant", Role.RECALL_COORDINATOR)
    declared = await graphql(
        hub_a,
        coordinator,
        'mutation($lots: [ID!]!) { declareRecall(input: {lotIds: $lots, reason: "aflatoxin", recallClass: I}) { id } }',
        {"lots": [chain.soy]},
    )
    recall_id = declared["data"]["declareRecall"]["id"]
    for firm in ("farm", "rival"):  # the farm sees the recall (it holds the soybeans) but not its answers
        for role in (Role.ADMIN, Role.RECALL_COORDINATOR):
            error = await refused(hub_a, token(settings, firm, role), recall_id)
            assert error["extensions"] == {"code": "NOT_FOUND", "field": "recallId"}
            # the same answer as for a recall that does not exist: nothing of the recall is disclosed
            assert error["message"] == f"no recall {recall_id!r} that your firm coordinates (or oversees as the agency)"
