"""The SimpleEventQuery through the locations' master data (HASATTR_, EQATTR_, WD_ down the children the master data
gives) and ordered by an extension field: each finds the firm's events and never another firm's, whose locations
are described alike."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import orjson
import pytest

from graph_schema import parties
from graph_schema.access import Viewer
from graph_schema.db import Graph
from graph_schema.epcis.backfill import backfill
from graph_schema.epcis.capture import capture
from graph_schema.epcis.event_reads import query_events, query_params, query_text, sort_position
from graph_schema.epcis.query import QueryError, page_token, parse_simple_event_query
from graph_schema.epcis.reading import document_source
from graph_schema.records import SiteRecord
from tests.epcis_chain import document, sgln
from tests.factories import gln, register_firms
from tests.plans import explain, shown, steps

pytestmark = pytest.mark.neo4j

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
_documents = itertools.count()


def sub(site: str, extension: str) -> str:
    return f"urn:epc:id:sgln:{site[:7]}.{site[7:12]}.{extension}"


def event(name: str, hour: int, *, biz: str, read: str, **extra: Any) -> dict[str, Any]:
    digits = "".join(f"{ord(c):02x}" for c in name)[:12].ljust(12, "0")
    return {
        "type": "ObjectEvent",
        "eventID": f"urn:uuid:00000000-0000-4000-8000-{digits}",
        "eventTime": f"2026-11-28T{hour:02d}:00:00+09:00",
        "eventTimeZoneOffset": "+09:00",
        "action": "OBSERVE",
        "epcList": ["urn:epc:id:sscc:8801234.0000000001"],
        "bizLocation": {"id": biz},
        "readPoint": {"id": read},
        **extra,
    }


def element(id_: str, attributes: dict[str, Any], children: list[str] | None = None) -> dict[str, Any]:
    found: dict[str, Any] = {"id": id_, "attributes": [{"id": k, "attribute": v} for k, v in attributes.items()]}
    if children:
        found["children"] = children
    return found


def with_locations(events: list[dict[str, Any]], *elements: dict[str, Any]) -> dict[str, Any]:
    doc = document(events)
    vocabulary = {"type": "urn:epcglobal:epcis:vtype:BusinessLocation", "vocabularyElementList": list(elements)}
    doc["epcisHeader"] = {"epcisMasterData": {"vocabularyList": [vocabulary]}}
    return doc


async def capture_document(graph: Graph, tmp_path: Path, firm: str, doc: dict[str, Any]) -> None:
    path = tmp_path / f"{firm}-{next(_documents)}.jsonld"
    await anyio.Path(path).write_bytes(orjson.dumps(doc))
    outcome = await capture(
        graph,
        document_source(path),
        firm_id=firm,
        capture_id=f"test-{firm}",
        proceed=False,
        placeholders=False,
        record_time=NOW,
    )
    assert (outcome.committed, outcome.errors) == (True, [])


class Places:
    def __init__(self, plant: str, warehouse: str, rival: str) -> None:
        self.plant, self.warehouse, self.rival = plant, warehouse, rival


@pytest.fixture
async def places(graph: Graph, tmp_path: Path) -> Places:
    """The plant describes its site (children: its cold room and its warehouse, another GLN), the warehouse (child:
    a dock); the rival describes its own site and cold room with the same names and types."""
    sites = await register_firms(graph, ["plant", "rival"])
    warehouse = gln()
    await parties.upsert_sites(
        graph, [SiteRecord(gln=warehouse, firm_id="plant", name="Jincheon warehouse", kind="WAREHOUSE")]
    )
    at = Places(sites["plant"], warehouse, sites["rival"])
    plant, rival = at.plant, at.rival
    plant_events = [
        event("E1", 1, biz=sgln(plant), read=sub(plant, "201"), **{"hub:weight": 3, "hub:label": "b"}),
        event("E2", 2, biz=sgln(warehouse), read=sub(warehouse, "7"), **{"hub:weight": 1, "hub:label": "c"}),
        event("E3", 3, biz=sub(plant, "999"), read=sub(plant, "999"), **{"hub:weight": 2.5, "hub:label": "a"}),
        event("E4", 4, biz=sgln(plant), read=sgln(plant)),
    ]
    await capture_document(
        graph,
        tmp_path,
        "plant",
        with_locations(
            plant_events,
            element(sgln(plant), {"cbvmda:name": "Eumseong tofu plant"}, [sub(plant, "201"), sgln(warehouse)]),
            element(sub(plant, "201"), {"cbvmda:site": plant, "cbvmda:sst": "202", "cbvmda:ssd": "Cold room 1"}),
            element(sgln(warehouse), {"cbvmda:name": "Jincheon warehouse"}, [sub(warehouse, "7")]),
            element(sub(warehouse, "7"), {"cbvmda:site": warehouse, "cbvmda:sst": "203"}),
        ),
    )
    rival_events = [event("R1", 1, biz=sgln(rival), read=sub(rival, "201"), **{"hub:weight": 0, "hub:label": "a"})]
    await capture_document(
        graph,
        tmp_path,
        "rival",
        with_locations(
            rival_events,
            element(sgln(rival), {"cbvmda:name": "Eumseong tofu plant"}, [sub(rival, "201")]),
            element(sub(rival, "201"), {"cbvmda:site": rival, "cbvmda:sst": "202", "cbvmda:ssd": "Cold room 1"}),
        ),
    )
    return at


def viewer(firm: str) -> Viewer:
    return Viewer(firm_id=firm, detail_firm_ids=frozenset({firm}))


async def found(graph: Graph, firm: str, params: list[tuple[str, str]]) -> list[str]:
    parsed = parse_simple_event_query(params)
    rows = await query_events(graph, viewer(firm), parsed.filter, after=None, limit=100)
    return [bytes.fromhex(row["eventId"][-12:].rstrip("0")).decode() for row in rows]


def cases(at: Places) -> list[tuple[str, list[tuple[str, str]], list[str], list[str]]]:
    """(what, parameters, what the plant gets, what the rival gets: only its own look-alike, or nothing)."""
    plant, warehouse, rival = at.plant, at.warehouse, at.rival
    return [
        ("HASATTR_bizLocation", [("HASATTR_bizLocation", "cbvmda:name")], ["E1", "E2", "E4"], ["R1"]),
        ("HASATTR_readPoint", [("HASATTR_readPoint", "urn:epcglobal:cbv:mda:sst")], ["E1", "E2"], ["R1"]),
        ("HASATTR_ of several", [("HASATTR_readPoint", "cbvmda:name|cbvmda:ssd")], ["E1", "E4"], ["R1"]),
        ("EQATTR_readPoint_", [("EQATTR_readPoint_cbvmda:sst", "202")], ["E1"], ["R1"]),
        ("EQATTR_ as a number", [("EQATTR_readPoint_cbvmda:sst", "203.0")], ["E2"], []),
        (
            "EQATTR_bizLocation_ full URI",
            [("EQATTR_bizLocation_urn:epcglobal:cbv:mda:name", "Jincheon warehouse|Eumseong tofu plant")],
            ["E1", "E2", "E4"],
            ["R1"],
        ),
        ("EQATTR_ no match", [("EQATTR_bizLocation_cbvmda:name", "Cold room 1")], [], []),
        ("WD_bizLocation through children", [("WD_bizLocation", sgln(plant))], ["E1", "E2", "E3", "E4"], []),
        ("WD_readPoint two levels down", [("WD_readPoint", sgln(plant))], ["E1", "E2", "E3", "E4"], []),
        ("WD_readPoint of a sub-site", [("WD_readPoint", sub(plant, "201"))], ["E1"], []),
        ("WD_ by Digital Link", [("WD_bizLocation", f"https://id.gs1.org/414/{warehouse}")], ["E2"], []),
        ("WD_ of the rival's site", [("WD_bizLocation", sgln(rival))], [], ["R1"]),
        (
            "EQATTR_ with other filters",
            [("EQATTR_readPoint_cbvmda:sst", "202|203"), ("GE_eventTime", "2026-11-28T02:00:00+09:00")],
            ["E2"],
            [],
        ),
    ]


async def test_master_data_parameters_find_the_firms_events_and_never_another_firms(
    graph: Graph, places: Places
) -> None:
    got: dict[str, tuple[list[str], list[str]]] = {}
    expected: dict[str, tuple[list[str], list[str]]] = {}
    for what, params, plant_gets, rival_gets in cases(places):
        expected[what] = (plant_gets, rival_gets)
        got[what] = (await found(graph, "plant", params), await found(graph, "rival", params))
    assert got == expected


async def test_locations_described_before_their_attributes_were_kept_as_lists_are_found_after_the_backfill(
    graph: Graph, places: Places
) -> None:
    await graph.write("MATCH (l:EpcisLocation) REMOVE l.attributeNames, l.attributeTexts")
    assert await found(graph, "plant", [("EQATTR_readPoint_cbvmda:sst", "202")]) == []
    outcome = await backfill(graph, batch_size=2)
    assert (outcome.events, outcome.locations) == (0, 6)
    assert await found(graph, "plant", [("EQATTR_readPoint_cbvmda:sst", "202")]) == ["E1"]
    assert (await backfill(graph)).locations == 0


async def _page_through(graph: Graph, firm: str, params: list[tuple[str, str]]) -> list[str]:
    """Every page of one event, each asked with the token the previous one gave."""
    names: list[str] = []
    token: str | None = None
    for _ in range(10):
        parsed = parse_simple_event_query([*params, ("perPage", "1"), *([("nextPageToken", token)] if token else [])])
        rows = await query_events(graph, viewer(firm), parsed.filter, after=parsed.after, limit=2)
        names += [bytes.fromhex(row["eventId"][-12:].rstrip("0")).decode() for row in rows[:1]]
        if len(rows) < 2:
            return names
        token = page_token(parsed, sort_key=sort_position(rows[0]), event_id=rows[0]["eventId"], served=len(names))
    raise AssertionError("more pages than events")


async def test_order_by_an_extension_field_numbers_texts_and_missing_last_page_by_page(
    graph: Graph, places: Places
) -> None:
    ascending = [("orderBy", "hub:weight"), ("orderDirection", "ASC")]
    assert await found(graph, "plant", ascending) == ["E2", "E3", "E1", "E4"]  # E4 has no weight: last
    assert await found(graph, "plant", [("orderBy", "hub:weight")]) == ["E1", "E3", "E2", "E4"]  # DESC by default
    assert await found(graph, "plant", [("orderBy", "hub:label"), ("orderDirection", "ASC")]) == [
        "E3",
        "E1",
        "E2",
        "E4",
    ]
    # the same field by its full IRI
    by_iri = [("orderBy", "https://hub.example.org/epcis/weight"), ("orderDirection", "ASC")]
    assert await found(graph, "plant", by_iri) == ["E2", "E3", "E1", "E4"]
    assert await _page_through(graph, "plant", ascending) == ["E2", "E3", "E1", "E4"]
    assert await _page_through(graph, "plant", [("orderBy", "hub:label")]) == ["E2", "E1", "E3", "E4"]
    assert await _page_through(graph, "rival", ascending) == ["R1"]
    limited = parse_simple_event_query([("orderBy", "hub:weight"), ("eventCountLimit", "2")])
    assert limited.page_size == 2


def test_a_page_token_of_another_order_or_a_forged_key_is_refused() -> None:
    parsed = parse_simple_event_query([("orderBy", "hub:weight")])
    token = page_token(parsed, sort_key=[0, 2.5], event_id="urn:uuid:x", served=1)
    again = parse_simple_event_query([("orderBy", "hub:weight"), ("nextPageToken", token)])
    assert again.after is not None
    assert (again.after.rank, again.after.key) == (0, 2.5)
    for other in (
        [("orderBy", "hub:label")],
        [("orderBy", "eventTime")],
        [("orderBy", "hub:weight"), ("orderDirection", "ASC")],
    ):
        with pytest.raises(QueryError) as refused:
            parse_simple_event_query([*other, ("nextPageToken", token)])
        assert refused.value.field == "nextPageToken"
    for forged in ([0, "2.5"], [1, "not a time"], [7, "x"], [True, 1], "2026-01-01T00:00:00Z"):
        bad = page_token(parsed, sort_key=forged, event_id="urn:uuid:x", served=1)
        with pytest.raises(QueryError):
            parse_simple_event_query([("orderBy", "hub:weight"), ("nextPageToken", bad)])


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ([("HASATTR_ex:field", "cbvmda:name")], "HASATTR_ex:field"),
        ([("HASATTR_bizStep", "cbvmda:name")], "HASATTR_bizStep"),
        ([("EQATTR_epcClass_cbvmda:name", "x")], "EQATTR_epcClass_cbvmda:name"),
        ([("HASATTR_bizLocation", "not an attribute")], "HASATTR_bizLocation"),
        ([("HASATTR_bizLocation", '=HYPERLINK("http://evil")')], "HASATTR_bizLocation"),
        ([("EQATTR_bizLocation_=1+1", "x")], "EQATTR_bizLocation_=1+1"),
        ([("HASATTR_bizLocation", "|".join(f"cbvmda:a{i}" for i in range(101)))], "HASATTR_bizLocation"),
        ([("HASATTR_bizLocation", "cbvmda:name")] * 101, "HASATTR_bizLocation"),
        ([(f"EQATTR_bizLocation_cbvmda:a{i}", "x") for i in range(65)], "EQATTR_bizLocation_cbvmda:a64"),
        ([("orderBy", "not a field")], "orderBy"),
        ([("orderBy", "=SUM(A1)")], "orderBy"),
        ([("WD_bizLocation", "x" * 100_000)], "WD_bizLocation"),
        ([("EQ_readPoint_ex:x", "1")], "EQ_readPoint_ex:x"),
    ],
)
def test_hostile_or_unanswerable_parameters_are_refused_naming_them(params: list[tuple[str, str]], field: str) -> None:
    with pytest.raises(QueryError) as refused:
        parse_simple_event_query(params)
    assert refused.value.field == field
    assert len(refused.value.message) < 1_000


async def test_attribute_filters_look_up_the_location_by_its_index(graph: Graph) -> None:
    parsed = parse_simple_event_query(
        [("EQATTR_bizLocation_cbvmda:name", "x"), ("WD_readPoint", sgln("8800000000017"))]
    )
    plan = await explain(graph, query_text(parsed.filter), query_params(viewer("plant"), parsed.filter, limit=31))
    operators = steps(plan)
    seeks = [d for op, d in operators if op == "NodeUniqueIndexSeek" and "EpcisLocation(digitalLink)" in d]
    assert len(seeks) >= 2, shown(plan)  # the attribute's location and the read point's, each by the unique index
    assert not any(op == "NodeByLabelScan" and "EpcisLocation" in d for op, d in operators), shown(plan)
