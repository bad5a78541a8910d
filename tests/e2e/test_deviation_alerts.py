"""Deviations from readings posted over real HTTP: the ingest checks each committed batch."""

from __future__ import annotations

import httpx
import pytest

from graph_schema.db import Graph
from tests.e2e.test_haccp_readings import (  # noqa: F401  (fixtures shared with the readings' tests)
    Plant,
    at,
    base_url,
    plant,
    post,
    settings,
    sql,
)

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
