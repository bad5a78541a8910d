"""A deviation opened but never told of (the hub stopped between the graph's commit and the outbox's write) is
told by the next sweep, once, and only while it is recent and open."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from graph_schema.db import Graph
from graph_schema.notifications import OutboxEvent
from hub.deviation_sweep import UNTOLD_WINDOW, opened_key, publish_untold
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


def told(engine: Engine) -> dict[str, dict[str, object]]:
    """The DEVIATION_OPENED events in the outbox, by key."""
    with Session(engine) as session:
        rows = session.exec(select(OutboxEvent).where(OutboxEvent.kind == "DEVIATION_OPENED")).all()
        return {row.key or "": json.loads(row.payload) for row in rows}


async def test_the_sweep_tells_an_opening_the_outbox_lost_once(
    base_url: str,  # noqa: F811
    plant: Plant,  # noqa: F811
    graph: Graph,
    sql: Engine,  # noqa: F811
) -> None:
    readings = [
        {"ccpId": plant.heating, "deviceId": "tt-1", "at": at(i), "value": v, "unit": "°C"}
        for i, v in enumerate([90.0, 91.0, 70.0, 65.0, 90.0])
    ]
    assert post(base_url, plant.tokens["device"], readings).json() == {"accepted": 5, "duplicates": 0}
    opened = await graph.read(
        "MATCH (d:Deviation {ccpId: $ccp, status: 'OPEN'}) RETURN d.id AS id, d.siteGln AS site", {"ccp": plant.heating}
    )
    assert len(opened) == 2  # out of limits, then silent since
    before = told(sql)
    assert {opened_key(row["id"]) for row in opened} <= set(before)
    assert await publish_untold(graph, sql, now=datetime.now(UTC)) == 0  # nothing lost: nothing said twice

    lost = opened_key(opened[0]["id"])
    with Session(sql) as session:  # the process stopped before this event was written
        session.exec(delete(OutboxEvent).where(col(OutboxEvent.key) == lost))
        session.commit()
    # past the window, an old opening is left alone (it would alarm people about yesterday's news)
    assert await publish_untold(graph, sql, now=datetime.now(UTC) + UNTOLD_WINDOW + timedelta(minutes=1)) == 0
    assert lost not in told(sql)

    assert await publish_untold(graph, sql, now=datetime.now(UTC)) == 1
    after = told(sql)
    assert after[lost] == before[lost]  # the same event the opening would have published
    assert after[lost] == {"deviationId": opened[0]["id"], "ccpId": plant.heating, "siteGln": opened[0]["site"]}
    assert await publish_untold(graph, sql, now=datetime.now(UTC)) == 0
