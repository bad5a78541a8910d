"""Events stored before the query fields existed (written here as the store wrote them then: no terms, no facets,
event time with its own offset) are found by identifier, extension field and custom step once the backfill has run
with the schema, never by another firm, and running it again changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Final

import pytest

from graph_schema.access import Viewer
from graph_schema.constraints import apply_schema
from graph_schema.db import Graph
from graph_schema.epcis.backfill import BackfillOutcome, backfill
from graph_schema.epcis.event_reads import query_events
from graph_schema.epcis.query import parse_simple_event_query
from graph_schema.epcis.store import QUERY_FIELDS_VERSION, event_row
from graph_schema.epcis.validation import validate_event
from tests.epcis_chain import CONTEXT, register_chain, sgln

pytestmark = pytest.mark.neo4j

# The event store's write before the SimpleEventQuery was answered in full (5be8ddc^): what an old event holds.
OLD_WRITE: Final = """
UNWIND $rows AS row
OPTIONAL MATCH (site:Site {gln: row.siteGln})
MERGE (e:EpcisEvent {eventId: row.eventId})
ON CREATE SET e.eventHash = row.eventHash, e.eventType = row.eventType, e.eventTime = datetime(row.eventTime),
              e.eventTimeZoneOffset = row.eventTimeZoneOffset, e.recordTime = datetime(row.recordTime),
              e.action = row.action, e.bizStep = row.bizStep, e.disposition = row.disposition,
              e.readPoint = row.readPoint, e.bizLocation = row.bizLocation, e.siteGln = row.siteGln,
              e.siteFirmId = site.firmId, e.capturedBy = $firmId, e.captureId = 'old',
              e.epcs = row.epcs, e.epcClasses = row.epcClasses, e.anyEpcClasses = row.anyEpcClasses,
              e.json = row.json
"""
RECORDED = datetime(2026, 9, 6, 10, 0, tzinfo=UTC)
PO = "urn:epcglobal:cbv:bt:8800000000001:PO-OLD"
STEP = "https://plant.example.org/steps/curdling"


def _old_events(plant: str, count: int) -> list[dict[str, Any]]:
    prefix = plant[:7]
    return [
        {
            "@context": CONTEXT,
            "type": "ObjectEvent",
            "eventID": f"urn:uuid:00000000-0000-4000-8000-0000000000{n:02d}",
            "eventTime": f"2026-09-06T0{n % 10}:00:00+09:00",
            "eventTimeZoneOffset": "+09:00",
            "action": "OBSERVE",
            "bizStep": STEP,
            "readPoint": {"id": sgln(plant)},
            "bizLocation": {"id": sgln(plant)},
            "epcList": [f"urn:epc:id:sgtin:{prefix}.012345.OLD{n}"],
            "bizTransactionList": [{"type": "po", "bizTransaction": PO}],
            "hub:grade": "B",
            "sensorElementList": [
                {"sensorReport": [{"type": "Temperature", "value": 4.0, "uom": "CEL", "hub:probe": "P1"}]}
            ],
        }
        for n in range(count)
    ]


async def _write_old(graph: Graph, firm: str, events: list[dict[str, Any]]) -> None:
    rows = []
    for raw in events:
        event = validate_event(raw, index=0, namespaces={})
        assert not isinstance(event, list), event
        row = event_row(event, record_time=RECORDED)
        row["eventTime"] = event.event_time.isoformat()  # stored with its own offset then
        rows.append(row)
    await graph.write(OLD_WRITE, {"rows": rows, "firmId": firm})


async def _found(graph: Graph, firm: str, params: list[tuple[str, str]]) -> list[str]:
    parsed = parse_simple_event_query(params)
    viewer = Viewer(firm_id=firm, detail_firm_ids=frozenset({firm}))
    rows = await query_events(graph, viewer, parsed.filter, after=None, limit=100)
    return sorted(row["eventId"][-2:] for row in rows)


async def _state(graph: Graph) -> list[dict[str, Any]]:
    return await graph.read(
        "MATCH (e:EpcisEvent) OPTIONAL MATCH (e)-[:HAS_TERM]->(t:EpcisTerm)"
        " WITH e, t ORDER BY t.key WITH e, collect(t.key) AS keys ORDER BY e.eventId"
        " RETURN e {.*, eventTime: toString(e.eventTime), times: [x IN e.times | toString(x)],"
        " errorDeclarationTime: toString(e.errorDeclarationTime), recordTime: toString(e.recordTime)} AS e, keys"
    )


async def test_old_events_are_found_after_the_backfill_and_a_second_run_changes_nothing(graph: Graph) -> None:
    chain = await register_chain(graph)
    plant = chain.sites["plant"]
    await _write_old(graph, "plant", _old_events(plant, 5))
    asked = {
        "MATCH_epc": [("MATCH_epc", f"urn:epc:id:sgtin:{plant[:7]}.012345.OLD3")],
        "MATCH_epc pattern": [("MATCH_epc", f"urn:epc:idpat:sgtin:{plant[:7]}.012345.*")],
        "EQ_bizTransaction_po": [("EQ_bizTransaction_po", PO)],
        "EQ_ extension field": [("EQ_hub:grade", "B")],
        "EQ_bizStep": [("EQ_bizStep", STEP)],
        "EQ_SENSORREPORT_": [("EQ_SENSORREPORT_hub:probe", "P1")],
        "GE_eventTime": [("GE_eventTime", "2026-09-06T03:00:00+09:00")],
    }
    before = {what: await _found(graph, "plant", params) for what, params in asked.items()}
    # the gap: by identifier and extension field, the old events are not found
    assert (before["MATCH_epc"], before["EQ_bizTransaction_po"], before["EQ_ extension field"]) == ([], [], [])
    assert before["EQ_SENSORREPORT_"] == []

    outcome = await backfill(graph, batch_size=2)  # three batches
    assert outcome == BackfillOutcome(events=5, unreadable=0, locations=0)
    after = {what: await _found(graph, "plant", params) for what, params in asked.items()}
    every = ["00", "01", "02", "03", "04"]
    assert after == {
        "MATCH_epc": ["03"],
        "MATCH_epc pattern": every,
        "EQ_bizTransaction_po": every,
        "EQ_ extension field": every,
        "EQ_bizStep": every,
        "EQ_SENSORREPORT_": every,
        "GE_eventTime": ["03", "04"],
    }
    # another firm finds none of them by any of these parameters
    assert {what: await _found(graph, "rival", params) for what, params in asked.items()} == {w: [] for w in asked}

    state = await _state(graph)
    assert all(row["e"]["queryFields"] == QUERY_FIELDS_VERSION and row["keys"] for row in state)
    assert await backfill(graph) == BackfillOutcome()
    assert await _state(graph) == state
    # even forced to read every event again (an older layout's mark), it writes the same fields and terms, once
    await graph.write("MATCH (e:EpcisEvent) SET e.queryFields = 1")
    assert await backfill(graph, batch_size=3) == BackfillOutcome(events=5, unreadable=0, locations=0)
    assert await _state(graph) == state


async def test_the_schema_applies_the_backfill(graph: Graph) -> None:
    chain = await register_chain(graph)
    plant = chain.sites["plant"]
    await _write_old(graph, "plant", _old_events(plant, 1))
    assert await _found(graph, "plant", [("EQ_bizTransaction_po", PO)]) == []
    await apply_schema(graph)
    assert await _found(graph, "plant", [("EQ_bizTransaction_po", PO)]) == ["00"]
    terms = await graph.read("MATCH (:EpcisEvent)-[r:HAS_TERM]->() RETURN count(r) AS n")
    await apply_schema(graph)
    assert await graph.read("MATCH (:EpcisEvent)-[r:HAS_TERM]->() RETURN count(r) AS n") == terms


async def test_an_event_that_no_longer_reads_is_marked_once_and_left_alone(graph: Graph) -> None:
    await graph.write(
        "CREATE (:EpcisEvent {eventId: 'urn:uuid:broken', json: '{\"type\": \"NoSuchEvent\"}',"
        " eventTime: datetime('2026-09-06T00:00:00Z'), capturedBy: 'plant'})"
    )
    assert await backfill(graph) == BackfillOutcome(events=0, unreadable=1, locations=0)
    assert await backfill(graph) == BackfillOutcome()
