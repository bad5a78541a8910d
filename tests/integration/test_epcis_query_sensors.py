"""Filters on the extension fields of sensor elements, their metadata and reports (EQ_/GT_/GE_/LT_/LE_/EXISTS_
SENSORELEMENT_, SENSORMETADATA_, SENSORREPORT_ and their INNER_): each finds the firm's events and never another
firm's look-alike, and a field of the same name elsewhere in an event is not taken for one inside its sensors."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from graph_schema.access import Viewer
from graph_schema.db import Graph
from graph_schema.epcis.capture import EventSource, capture
from graph_schema.epcis.event_reads import query_events
from graph_schema.epcis.model import EpcisEvent, EventError
from graph_schema.epcis.query import parse_simple_event_query
from graph_schema.epcis.validation import validate_event
from tests.epcis_chain import CONTEXT, sgln
from tests.factories import register_firms

pytestmark = pytest.mark.neo4j

NAMESPACES = {k: v for part in CONTEXT if isinstance(part, dict) for k, v in part.items()}


def event(name: str, site: str, hour: int, *, sensors: list[dict[str, Any]] | None, **extra: Any) -> dict[str, Any]:
    digits = "".join(f"{ord(c):02x}" for c in name)[:12].ljust(12, "0")
    found: dict[str, Any] = {
        "type": "ObjectEvent",
        "eventID": f"urn:uuid:00000000-0000-4000-8000-{digits}",
        "eventTime": f"2026-11-28T{hour:02d}:00:00+09:00",
        "eventTimeZoneOffset": "+09:00",
        "action": "OBSERVE",
        "epcList": [f"urn:epc:id:sscc:{site[:7]}.00000000{hour:02d}"],
        "bizLocation": {"id": sgln(site)},
        **extra,
    }
    if sensors is not None:
        found["sensorElementList"] = sensors
    return found


def sensor(*, batch: str, calibrated: float, probe: str, slot: str) -> list[dict[str, Any]]:
    return [
        {
            "sensorMetadata": {"time": "2026-11-28T08:00:00+09:00", "hub:batch": batch},
            "sensorReport": [{"type": "Temperature", "value": 4.5, "uom": "CEL", "hub:calibrated": calibrated}],
            "hub:probe": probe,
            "hub:box": {"hub:slot": slot},
        }
    ]


def _source(raws: list[dict[str, Any]]) -> EventSource:
    def events() -> Iterator[tuple[int, EpcisEvent | list[EventError]]]:
        for index, raw in enumerate(raws):
            yield index, validate_event(copy.deepcopy(raw), index=index, namespaces=NAMESPACES)

    return events


@pytest.fixture
async def captured(graph: Graph) -> None:
    sites = await register_firms(graph, ["plant", "rival"])
    plant, rival = sites["plant"], sites["rival"]
    documents = {
        "plant": [
            event("S1", plant, 1, sensors=sensor(batch="B7", calibrated=2.5, probe="A", slot="3")),
            event("S2", plant, 2, sensors=sensor(batch="B8", calibrated=1.0, probe="B", slot="4")),
            # the same names at the event's top level, and no sensors
            event("S3", plant, 3, sensors=None, **{"hub:batch": "B7", "hub:probe": "A"}),
        ],
        "rival": [event("R1", rival, 1, sensors=sensor(batch="B7", calibrated=2.5, probe="A", slot="3"))],
    }
    for firm, raws in documents.items():
        outcome = await capture(
            graph,
            _source(raws),
            firm_id=firm,
            capture_id=f"test-{firm}",
            proceed=False,
            placeholders=False,
            record_time=datetime(2026, 11, 28, 12, tzinfo=UTC),
        )
        assert (outcome.committed, outcome.errors) == (True, [])


async def found(graph: Graph, firm: str, params: list[tuple[str, str]]) -> list[str]:
    parsed = parse_simple_event_query(params)
    viewer = Viewer(firm_id=firm, detail_firm_ids=frozenset({firm}))
    rows = await query_events(graph, viewer, parsed.filter, after=None, limit=100)
    return [bytes.fromhex(row["eventId"][-12:].rstrip("0")).decode() for row in rows]


CASES: list[tuple[str, list[tuple[str, str]], list[str], list[str]]] = [
    ("EQ_SENSORMETADATA_", [("EQ_SENSORMETADATA_hub:batch", "B7")], ["S1"], ["R1"]),
    (
        "EQ_SENSORMETADATA_ by IRI",
        [("EQ_SENSORMETADATA_https://hub.example.org/epcis/batch", "B7|B8")],
        ["S1", "S2"],
        ["R1"],
    ),
    ("GT_SENSORREPORT_", [("GT_SENSORREPORT_hub:calibrated", "2")], ["S1"], ["R1"]),
    ("LE_SENSORREPORT_", [("LE_SENSORREPORT_hub:calibrated", "1.0")], ["S2"], []),
    ("EQ_SENSORREPORT_ number", [("EQ_SENSORREPORT_hub:calibrated", "2.50")], ["S1"], ["R1"]),
    ("EQ_SENSORELEMENT_", [("EQ_SENSORELEMENT_hub:probe", "B")], ["S2"], []),
    ("EXISTS_SENSORELEMENT_", [("EXISTS_SENSORELEMENT_hub:box", "")], ["S1", "S2"], ["R1"]),
    ("EQ_INNER_SENSORELEMENT_", [("EQ_INNER_SENSORELEMENT_hub:slot", "3")], ["S1"], ["R1"]),
    ("EXISTS_SENSORMETADATA_", [("EXISTS_SENSORMETADATA_hub:batch", "")], ["S1", "S2"], ["R1"]),
    ("EXISTS_SENSORREPORT_ absent", [("EXISTS_SENSORREPORT_hub:batch", "")], [], []),
    ("top level, not sensors", [("EQ_hub:batch", "B7")], ["S3"], []),
    (
        "with another filter",
        [("EQ_SENSORELEMENT_hub:probe", "A|B"), ("GE_eventTime", "2026-11-28T02:00:00+09:00")],
        ["S2"],
        [],
    ),
]


async def test_sensor_extension_filters_find_the_firms_events_and_never_another_firms(
    graph: Graph,
    captured: None,
) -> None:
    got = {what: (await found(graph, "plant", p), await found(graph, "rival", p)) for what, p, _, _ in CASES}
    assert got == {what: (plant, rival) for what, _, plant, rival in CASES}
