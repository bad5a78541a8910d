"""A recall reaching more stock after it was declared is told: two hub processes, real websockets, a real
signed-webhook receiver (the fixtures of tests/e2e/test_notifications.py).

The plant's coordinator recalls the farm's soybean lot (the soybeans and the plant's tofu are held). Later the
plant makes another tofu lot from the same soybeans: it joins the open recall, and the plant (its holder) is told
through its webhook and its ``recallDeclared`` subscription, as at declaration. The farm, told of the recall
already, holds nothing new and is told nothing more; the rival holds nothing affected and is told nothing.
"""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import pytest

from auth.principal import Role
from graph_schema.identifiers import lgtin_for
from hub.settings import Settings
from tests.e2e.test_notifications import (  # noqa: F401  (fixtures)
    Receiver,
    graphql,
    receiver,
    register,
    subscribed,
    token,
    two_hubs,
    verified,
    wait_for,
)
from tests.factories import T0
from tests.integration.conftest import Chain, chain  # noqa: F401  (the fixture)

pytestmark = pytest.mark.neo4j

EVENTS = "[RECALL_DECLARED, RECALL_UPDATED]"
RECORD_LOTS = "mutation($l: [LotInput!]!) { recordLots(input: $l) { id } }"
RECORD_STEP = "mutation($t: TransformationInput!) { recordTransformation(input: $t) { id status } }"


async def test_a_lot_joining_an_open_recall_is_told_to_its_holder_once_and_to_nobody_else(
    two_hubs: tuple[Settings, list[str]],  # noqa: F811
    receiver: Receiver,  # noqa: F811
    chain: Chain,  # noqa: F811
) -> None:
    settings, (hub_a, hub_b) = two_hubs
    farm, plant, rival = (token(settings, f) for f in ("farm", "plant", "rival"))
    secrets = {
        "farm": await register(hub_a, farm, receiver.url("/farm"), EVENTS),
        "plant": await register(hub_b, plant, receiver.url("/plant"), EVENTS),
        "rival": await register(hub_a, rival, receiver.url("/rival"), EVENTS),
    }
    sockets = {
        "farm@a": await subscribed(hub_a, farm),
        "plant@a": await subscribed(hub_a, plant),
        "rival@b": await subscribed(hub_b, rival),
    }
    await asyncio.sleep(0.3)  # the subscriptions are listening
    coordinator = token(settings, "plant", Role.RECALL_COORDINATOR)
    declared = await graphql(
        hub_a,
        coordinator,
        'mutation($lots: [ID!]!) { declareRecall(input: {lotIds: $lots, reason: "aflatoxin", recallClass: I}) { id } }',
        {"lots": [chain.soy]},
    )
    assert "errors" not in declared, declared
    recall_id = declared["data"]["declareRecall"]["id"]
    for name in ("farm@a", "plant@a"):  # the declaration, as before
        message = json.loads(await asyncio.wait_for(sockets[name].recv(), timeout=10))
        assert message["payload"]["data"]["recallDeclared"]["id"] == recall_id
    await wait_for(lambda: len(receiver.at("/farm")) == 1 and len(receiver.at("/plant")) == 1)

    # the plant makes another tofu lot from the held soybeans, through the other process
    late = lgtin_for(chain.tofu_gtin, "TOFU-LATE")
    made = {
        "id": late,
        "siteGln": chain.sites["plant"],
        "quantity": 40.0,
        "uom": "kg",
        "producedAt": (T0 + timedelta(days=3)).isoformat(),
    }
    written = await graphql(hub_b, plant, RECORD_LOTS, {"l": [made]})
    assert "errors" not in written, written
    step = {
        "id": "MIX-LATE",
        "siteGln": chain.sites["plant"],
        "occurredAt": (T0 + timedelta(days=3)).isoformat(),
        "inputs": [{"lotId": chain.soy, "quantity": 20.0, "uom": "kg"}],
        "outputs": [{"lotId": late, "quantity": 40.0, "uom": "kg"}],
    }
    recorded = await graphql(hub_b, plant, RECORD_STEP, {"t": step})
    assert recorded["data"] == {"recordTransformation": [{"id": late, "status": "ON_HOLD"}]}, recorded

    # the plant's webhook: a signed RECALL_UPDATED with the late lot among its own, in full
    await wait_for(lambda: len(receiver.at("/plant")) == 2)
    body = verified(secrets["plant"], receiver.at("/plant")[1])
    assert body["event"] == "RECALL_UPDATED"
    assert body["recall"]["id"] == recall_id
    assert sorted(lot["id"] for lot in body["recall"]["yourLots"]) == sorted([chain.soy, chain.tofu, late])
    assert body["recall"]["otherLotCount"] == 0
    # the plant's subscriber on the other process: the recall again, now reaching the late lot
    message = json.loads(await asyncio.wait_for(sockets["plant@a"].recv(), timeout=10))
    recall = message["payload"]["data"]["recallDeclared"]
    assert recall["id"] == recall_id
    assert late in [edge["node"]["lot"]["id"] for edge in recall["affectedLots"]["edges"]]

    # the same write again joins nothing: nothing new for anyone; the farm and the rival never hear of the late lot
    again = await graphql(hub_a, plant, RECORD_STEP, {"t": step})
    assert "errors" not in again, again
    await asyncio.sleep(1.5)
    assert len(receiver.at("/plant")) == 2
    assert len(receiver.at("/farm")) == 1
    assert receiver.at("/rival") == []
    assert late not in receiver.at("/farm")[0].body.decode()
    for name in ("farm@a", "plant@a", "rival@b"):
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(sockets[name].recv(), timeout=0.2)
        await sockets[name].close()
