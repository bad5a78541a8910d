"""The demo's gateway that `make run` starts: which plant it streams for, and that it stops with the hub."""

from __future__ import annotations

import pytest

from graph_schema.db import Graph
from graph_schema.haccp import ccps
from graph_schema.records import CcpRecord
from hub import haccp_simulator
from hub.server import free_port
from tests.factories import register_firms

pytestmark = pytest.mark.neo4j


async def test_the_gateway_streams_for_the_plant_with_the_most_reporting_ccps(graph: Graph) -> None:
    sites = await register_firms(graph, ["quiet", "busy", "none"])
    assert await ccps.gateway_site(graph) is None  # no CCP names a device: nothing to stream
    for firm, code, devices in (
        ("quiet", "CCP-1B", ["q-1"]),
        ("busy", "CCP-1B", ["b-1"]),
        ("busy", "CCP-2P", ["b-2"]),
        ("none", "CCP-1B", []),
    ):
        record = CcpRecord(
            id=f"{sites[firm]}-{code}", site_gln=sites[firm], code=code, name=code, limit_high=100.0, unit="°C",
            devices=devices,
        )  # fmt: skip
        await ccps.register_ccp(graph, record, firm_id=firm)
    assert await ccps.gateway_site(graph) == sites["busy"]


def test_the_gateway_stops_when_no_hub_answers() -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there: the hub has stopped
    assert haccp_simulator.wait_for_hub(url, seconds=1) is False
    said: list[str] = []
    ccp = {"id": "x-CCP-1B", "unit": "°C", "devices": ["d-1"], "limitLow": 85.0, "limitHigh": 100.0}
    totals = haccp_simulator.run(url=url, token="t", ccps=[ccp], rate=1, duration=30, say=said.append)
    assert totals["accepted"] == 0
    assert said == [f"the hub at {url} stopped answering (ConnectError); the simulator stops"]
