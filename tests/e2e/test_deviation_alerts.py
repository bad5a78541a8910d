"""Deviations from readings posted over real HTTP: the ingest checks each committed batch."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect

from auth.principal import Role
from graph_schema.db import Graph
from hub.app import open_issuer
from hub.settings import Settings
from tests.e2e.test_haccp_readings import (  # noqa: F401  (fixtures shared with the readings' tests)
    Plant,
    at,
    base_url,
    plant,
    post,
    settings,
    sql,
)
from tests.e2e.test_notifications import Receiver, receiver, register, verified, wait_for  # noqa: F401
from tests.factories import gln

pytestmark = pytest.mark.neo4j

DEVIATIONS = "{ deviations(status: OPEN) { edges { node { kind worstValue windowStart windowEnd ccp { id } } } } }"


def graphql(url: str, token: str, query: str) -> dict[str, object]:
    answer = httpx.post(f"{url}/graphql", json={"query": query}, headers={"Authorization": f"Bearer {token}"})
    body: dict[str, object] = answer.json()
    return body


async def test_posted_readings_open_a_deviation(base_url: str, plant: Plant, graph: Graph) -> None:  # noqa: F811
    readings = [
        {"ccpId": plant.heating, "deviceId": "tt-1", "at": at(i), "value": v, "unit": "°C"}
        for i, v in enumerate([90.0, 91.0, 70.0, 65.0, 90.0])
    ]
    answer = post(base_url, plant.tokens["device"], readings)
    assert answer.json() == {"accepted": 5, "duplicates": 0}
    seen = graphql(base_url, plant.tokens["viewer"], DEVIATIONS)
    nodes = sorted((e["node"] for e in seen["data"]["deviations"]["edges"]), key=lambda n: n["kind"])  # type: ignore[index]
    assert nodes == [
        # readings an hour old, every 10 s: the CCP has been silent since the last of them
        {"kind": "MISSED_MONITORING", "worstValue": None, "windowStart": at(4), "windowEnd": None,
         "ccp": {"id": plant.heating}},
        {"kind": "OUT_OF_LIMITS", "worstValue": 65.0, "windowStart": at(1), "windowEnd": at(4),
         "ccp": {"id": plant.heating}},
    ]  # fmt: skip


DEVIATION_OPENED = "subscription($site: String) { deviationOpened(siteGln: $site) { id kind worstValue ccp { id } } }"


async def subscribe(url: str, bearer: str, site: str | None) -> ClientConnection:
    ws = await connect(url.replace("http://", "ws://") + "/graphql", subprotocols=["graphql-transport-ws"])  # type: ignore[list-item]
    await ws.send(json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {bearer}"}}))
    assert json.loads(await ws.recv())["type"] == "connection_ack"
    payload = {"query": DEVIATION_OPENED, "variables": {"site": site}}
    await ws.send(json.dumps({"id": "deviations", "type": "subscribe", "payload": payload}))
    return ws


async def test_a_reading_out_of_limits_is_told_to_those_who_may_see_it(
    base_url: str,  # noqa: F811
    settings: Settings,  # noqa: F811
    plant: Plant,  # noqa: F811
    receiver: Receiver,  # noqa: F811
) -> None:
    issuer = open_issuer(settings)
    admin = issuer.mint(subject="plant-admin", firm_id="plant", roles=[Role.ADMIN])
    rival = issuer.mint(subject="rival-admin", firm_id="rival", roles=[Role.ADMIN])
    secret = await register(base_url, admin, receiver.url("/plant"), events="[DEVIATION_OPENED]")
    await register(base_url, rival, receiver.url("/rival"), events="[DEVIATION_OPENED]")
    site = plant.heating.split("-")[0]
    sockets = {
        "plant": await subscribe(base_url, plant.tokens["viewer"], site),
        "plant-anywhere": await subscribe(base_url, admin, None),
        "rival": await subscribe(base_url, rival, None),  # no CCP grant from the plant
        "plant-elsewhere": await subscribe(base_url, admin, gln()),  # another site's alerts only
    }
    await asyncio.sleep(0.3)  # the subscriptions are listening
    start = datetime.now(UTC) - timedelta(seconds=10)
    readings = [
        {"ccpId": plant.heating, "deviceId": "tt-2", "at": (start + timedelta(seconds=i)).isoformat(), "value": v,
         "unit": "°C"}
        for i, v in enumerate([90.0, 70.0, 90.0])
    ]  # fmt: skip
    answer = post(base_url, plant.tokens["device"], readings)
    assert answer.json() == {"accepted": 3, "duplicates": 0}

    for name in ("plant", "plant-anywhere"):
        message = json.loads(await asyncio.wait_for(sockets[name].recv(), timeout=10))
        assert message["type"] == "next", message
        opened = message["payload"]["data"]["deviationOpened"]
        assert (opened["kind"], opened["worstValue"], opened["ccp"]) == ("OUT_OF_LIMITS", 70.0, {"id": plant.heating})
    await wait_for(lambda: bool(receiver.at("/plant")))
    body = verified(secret, receiver.at("/plant")[0])
    assert body["event"] == "DEVIATION_OPENED"
    assert (body["deviation"]["id"], body["deviation"]["worstValue"]) == (opened["id"], 70.0)
    # the rival (no grant) and the subscriber of another site are told nothing
    for name in ("rival", "plant-elsewhere"):
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(sockets[name].recv(), timeout=1.5)
    assert receiver.at("/rival") == []

    # once the plant shares CCP at DETAIL with the rival, the rival is told of the next deviation, decided then
    granted = graphql(
        base_url, admin, 'mutation { grantSharing(input: {scope: CCP, level: DETAIL, toFirmId: "rival"}) { id } }'
    )
    assert "errors" not in granted, granted
    later = [{**r, "at": (start + timedelta(seconds=5 + i)).isoformat()} for i, r in enumerate(readings)]
    assert post(base_url, plant.tokens["device"], later).json() == {"accepted": 3, "duplicates": 0}
    message = json.loads(await asyncio.wait_for(sockets["rival"].recv(), timeout=10))
    assert message["payload"]["data"]["deviationOpened"]["ccp"] == {"id": plant.heating}
    await wait_for(lambda: bool(receiver.at("/rival")))
    for ws in sockets.values():
        await ws.close()
