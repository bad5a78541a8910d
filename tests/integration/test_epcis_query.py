"""The whole SimpleEventQuery on the real graph: each parameter finds the events it names for the firm that may
see them and never another firm's; order, limits and paging; the index each selective parameter starts from."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from graph_schema.access import Viewer
from graph_schema.db import Graph
from graph_schema.epcis.capture import EventSource, capture
from graph_schema.epcis.event_reads import count_events, query_events, query_params, query_text
from graph_schema.epcis.model import EpcisEvent, EventError
from graph_schema.epcis.query import QueryError, parse_simple_event_query
from graph_schema.epcis.validation import validate_event
from tests.epcis_chain import EpcisChain, document, register_chain, sgln
from tests.plans import explain, shown, steps

pytestmark = pytest.mark.neo4j

RECORDED = {
    "farm": datetime(2026, 9, 5, 10, 0, tzinfo=UTC),
    "plant": datetime(2026, 9, 6, 10, 0, tzinfo=UTC),
    "dc": datetime(2026, 9, 7, 10, 0, tzinfo=UTC),
    "store": datetime(2026, 9, 8, 10, 0, tzinfo=UTC),
    "rival": datetime(2026, 9, 9, 10, 0, tzinfo=UTC),
}


def _source(doc: dict[str, Any]) -> EventSource:
    namespaces = {k: v for part in doc["@context"] if isinstance(part, dict) for k, v in part.items()}

    def events() -> Iterator[tuple[int, EpcisEvent | list[EventError]]]:
        for index, raw in enumerate(doc["epcisBody"]["eventList"]):
            yield index, validate_event(copy.deepcopy(raw), index=index, namespaces=namespaces)

    return events


def _named(events: list[dict[str, Any]], names: list[str]) -> list[dict[str, Any]]:
    return [{**event, "eventID": f"urn:uuid:{_uuid(name)}"} for event, name in zip(events, names, strict=True)]


def _uuid(name: str) -> str:
    digits = "".join(f"{ord(c):02x}" for c in name)[:12].ljust(12, "0")
    return f"00000000-0000-4000-8000-{digits}"


NAMES = ["F1", "F2", "P1", "P2", "P3", "P4", "P5", "P6", "P7", "D1", "D2", "S1", "R1"]
BY_ID = {f"urn:uuid:{_uuid(name)}": name for name in NAMES}


def plant_extras(chain: EpcisChain) -> list[dict[str, Any]]:
    """Events of the plant beyond the chain: instance EPCs with extension fields, a pallet, an error declaration."""
    plant = chain.sites["plant"]
    prefix = plant[:7]
    site = sgln(plant)
    return [
        {
            "type": "ObjectEvent",
            "eventTime": "2026-09-06T09:00:00+09:00",
            "eventTimeZoneOffset": "+09:00",
            "action": "OBSERVE",
            "bizStep": "inspecting",
            "disposition": "conformant",
            "persistentDisposition": {"set": ["completeness_verified"]},
            "readPoint": {"id": f"urn:epc:id:sgln:{prefix}.{plant[7:12]}.dock1"},
            "bizLocation": {"id": site},
            "epcList": [f"urn:epc:id:sgtin:{prefix}.012345.A1", f"urn:epc:id:sgtin:{prefix}.012345.A2"],
            "hub:grade": "A",
            "hub:brix": 12.5,
            "hub:checkedAt": "2026-09-06T09:00:00+09:00",
            "hub:batch": {"hub:line": "L2"},
        },
        {
            "type": "AggregationEvent",
            "eventTime": "2026-09-06T10:00:00+09:00",
            "eventTimeZoneOffset": "+09:00",
            "action": "ADD",
            "bizStep": "packing",
            "readPoint": {"id": site},
            "bizLocation": {"id": site},
            "parentID": f"urn:epc:id:sscc:{prefix}.0000000001",
            "childEPCs": [f"urn:epc:id:sgtin:{prefix}.012345.A1"],
            "bizTransactionList": [{"type": "po", "bizTransaction": f"urn:epcglobal:cbv:bt:{plant}:PO-77"}],
        },
        {
            "type": "ObjectEvent",
            "eventTime": "2026-09-06T11:00:00+09:00",
            "eventTimeZoneOffset": "+09:00",
            "action": "OBSERVE",
            "bizStep": "inspecting",
            "readPoint": {"id": site},
            "bizLocation": {"id": site},
            "epcList": [f"urn:epc:id:sgtin:{prefix}.012345.A2"],
            "errorDeclaration": {
                "declarationTime": "2026-09-06T12:00:00+09:00",
                "reason": "incorrect_data",
                "correctiveEventIDs": ["urn:uuid:11111111-1111-4111-8111-111111111111"],
            },
        },
    ]


def rival_event(chain: EpcisChain) -> dict[str, Any]:
    """The rival's own event, alike in every field the queries ask about, at its own site."""
    rival = chain.sites["rival"]
    return {
        "type": "ObjectEvent",
        "eventTime": "2026-09-06T09:30:00+09:00",
        "eventTimeZoneOffset": "+09:00",
        "action": "OBSERVE",
        "bizStep": "inspecting",
        "disposition": "conformant",
        "readPoint": {"id": sgln(rival)},
        "bizLocation": {"id": sgln(rival)},
        "epcList": [f"urn:epc:id:sgtin:{rival[:7]}.012345.B1"],
        "hub:grade": "A",
        "hub:brix": 12.5,
    }


@pytest.fixture
async def chain(graph: Graph) -> EpcisChain:
    chain = await register_chain(graph)
    farm, plant = chain.farm_events(), chain.plant_events()
    documents = {
        "farm": _named(farm, NAMES[0:2]),
        "plant": _named([*plant, *plant_extras(chain)], NAMES[2:9]),
        "dc": _named(chain.dc_events(), NAMES[9:11]),
        "store": _named(chain.store_events(), NAMES[11:12]),
        "rival": _named([rival_event(chain)], NAMES[12:13]),
    }
    for firm, events in documents.items():
        outcome = await capture(
            graph,
            _source(document(events)),
            firm_id=firm,
            capture_id=f"test-{firm}",
            proceed=False,
            placeholders=False,
            record_time=RECORDED[firm],
            batch_size=500,
            transaction_events=20_000,
        )
        assert (outcome.committed, outcome.errors) == (True, []), firm
    return chain


def viewer(firm: str) -> Viewer:
    return Viewer(firm_id=firm, detail_firm_ids=frozenset({firm}))


async def found(graph: Graph, firm: str, params: list[tuple[str, str]]) -> list[str]:
    parsed = parse_simple_event_query(params)
    rows = await query_events(graph, viewer(firm), parsed.filter, after=None, limit=100)
    return [BY_ID[row["eventId"]] for row in rows]


def cases(chain: EpcisChain) -> list[tuple[str, list[tuple[str, str]], str, list[str]]]:
    """(what, parameters, the firm asking, the events it gets) for each parameter of the standard."""
    plant, farm, dc = chain.sites["plant"], chain.sites["farm"], chain.sites["dc"]
    prefix = plant[:7]
    a1 = f"urn:epc:id:sgtin:{prefix}.012345.A1"
    sscc = f"urn:epc:id:sscc:{prefix}.0000000001"
    return [
        ("eventType", [("eventType", "AggregationEvent")], "plant", ["P6"]),
        (
            "GE_eventTime",
            [("GE_eventTime", "2026-09-06T10:00:00+09:00")],
            "plant",
            ["P6", "P7", "P4", "D1", "D2", "S1"],
        ),
        ("LT_eventTime", [("LT_eventTime", "2026-09-05T13:00:00+09:00")], "farm", ["F1", "F2"]),
        ("GE_recordTime", [("GE_recordTime", "2026-09-07T00:00:00Z")], "dc", ["D1", "D2", "S1"]),
        ("LT_recordTime", [("LT_recordTime", "2026-09-06T00:00:00Z")], "farm", ["F1", "F2"]),
        ("EQ_action", [("EQ_action", "ADD")], "plant", ["F1", "P6"]),
        ("EQ_bizStep", [("EQ_bizStep", "packing")], "plant", ["P6"]),
        ("EQ_disposition", [("EQ_disposition", "in_transit")], "plant", ["F2", "P4", "D2"]),
        ("EQ_persistentDisposition_set", [("EQ_persistentDisposition_set", "completeness_verified")], "plant", ["P5"]),
        ("EQ_readPoint", [("EQ_readPoint", f"urn:epc:id:sgln:{prefix}.{plant[7:12]}.dock1")], "plant", ["P5"]),
        ("WD_readPoint", [("WD_readPoint", sgln(plant))], "plant", ["P1", "P2", "P3", "P5", "P6", "P7", "P4"]),
        ("EQ_bizLocation", [("EQ_bizLocation", sgln(dc))], "dc", ["D1", "D2"]),
        ("WD_bizLocation", [("WD_bizLocation", sgln(farm))], "farm", ["F1", "F2"]),
        ("EQ_bizTransaction_po", [("EQ_bizTransaction_po", f"urn:epcglobal:cbv:bt:{plant}:PO-77")], "plant", ["P6"]),
        (
            "EQ_bizTransaction_desadv",
            [("EQ_bizTransaction_desadv", f"urn:epcglobal:cbv:bt:{farm}:D-1")],
            "farm",
            ["F2", "P1"],
        ),
        ("EQ_source_location", [("EQ_source_location", sgln(plant))], "dc", ["P4", "D1"]),
        ("EQ_destination_location", [("EQ_destination_location", sgln(dc))], "plant", ["P4", "D1"]),
        ("MATCH_epc", [("MATCH_epc", a1)], "plant", ["P5", "P6"]),
        ("MATCH_epc pattern", [("MATCH_epc", f"urn:epc:idpat:sgtin:{prefix}.012345.*")], "plant", ["P5", "P6", "P7"]),
        ("MATCH_parentID", [("MATCH_parentID", sscc)], "plant", ["P6"]),
        ("MATCH_anyEPC", [("MATCH_anyEPC", sscc)], "plant", ["P6"]),
        ("MATCH_inputEPCClass", [("MATCH_inputEPCClass", chain.soy)], "plant", ["P2"]),
        ("MATCH_outputEPCClass", [("MATCH_outputEPCClass", chain.tofu)], "plant", ["P2"]),
        ("MATCH_epcClass", [("MATCH_epcClass", chain.tofu)], "dc", ["P3", "P4", "D1", "D2", "S1"]),
        ("MATCH_anyEPCClass", [("MATCH_anyEPCClass", chain.soy)], "farm", ["F1", "F2", "P1", "P2"]),
        ("EQ_eventID", [("EQ_eventID", f"urn:uuid:{_uuid('P5')}")], "plant", ["P5"]),
        ("EXISTS_errorDeclaration", [("EXISTS_errorDeclaration", "")], "plant", ["P7"]),
        ("GE_errorDeclarationTime", [("GE_errorDeclarationTime", "2026-09-06T00:00:00Z")], "plant", ["P7"]),
        ("EQ_errorReason", [("EQ_errorReason", "incorrect_data")], "plant", ["P7"]),
        (
            "EQ_correctiveEventID",
            [("EQ_correctiveEventID", "urn:uuid:11111111-1111-4111-8111-111111111111")],
            "plant",
            ["P7"],
        ),
        ("EQ_ extension field", [("EQ_hub:grade", "A")], "plant", ["P5"]),
        ("GT_ extension field", [("GT_hub:brix", "12")], "plant", ["P5"]),
        ("LE_ extension field time", [("LE_hub:checkedAt", "2026-09-06T00:00:00Z")], "plant", ["P5"]),
        ("EXISTS_ extension field", [("EXISTS_hub:batch", "")], "plant", ["P5"]),
        ("EQ_INNER_ field", [("EQ_INNER_hub:line", "L2")], "plant", ["P5"]),
        ("EQ_ILMD_", [("EQ_ILMD_cbvmda:itemExpirationDate", "2026-09-20")], "plant", ["P2"]),
        ("EXISTS_ILMD_", [("EXISTS_ILMD_cbvmda:itemExpirationDate", "")], "farm", ["F1", "P2"]),
        ("GE_quantity_KGM", [("GE_quantity_KGM", "300")], "plant", ["F1", "F2", "P1", "P2", "P3", "P4", "D1"]),
        ("LT_quantity", [("LT_quantity", "250")], "plant", ["P2", "D2", "S1"]),
        ("EQ_type", [("EQ_type", "Temperature")], "plant", ["P3"]),
        ("EQ_deviceID", [("EQ_deviceID", "urn:epc:id:giai:8800000.HEAT01")], "plant", ["P3"]),
        ("GE_value_CEL", [("GE_value_CEL", "90")], "plant", ["P3"]),
        ("LT_value_CEL", [("LT_value_CEL", "90")], "plant", []),
        ("GE_time", [("GE_time", "2026-09-06T00:00:00+09:00")], "plant", ["P3"]),
        ("EXISTS_sensorElementList", [("EXISTS_sensorElementList", "")], "dc", ["P3"]),
    ]


async def test_each_parameter_finds_what_the_firm_may_see_and_never_another_firms_events(
    graph: Graph, chain: EpcisChain
) -> None:
    # one chain for every parameter (capturing it is the slow part); every difference is reported at once
    got: dict[str, list[str]] = {}
    expected: dict[str, list[str]] = {}
    leaked: dict[str, list[str]] = {}
    for what, params, firm, events in cases(chain):
        expected[what] = events
        got[what] = await found(graph, firm, params)
        # a firm with none of these events, sharing nothing with anyone, finds none of them (only its own)
        leaked[what] = [name for name in await found(graph, "rival", params) if name != "R1"]
    assert got == expected
    assert leaked == {what: [] for what in expected}
    assert len(expected) >= 45


async def test_the_rival_finds_its_own_event_by_the_same_fields_and_nothing_else(
    graph: Graph, chain: EpcisChain
) -> None:
    for params in ([("EQ_hub:grade", "A")], [("GE_hub:brix", "12.5")], [("EQ_disposition", "conformant")]):
        assert await found(graph, "rival", params) == ["R1"], params
        assert await found(graph, "plant", params) == ["P5"], params


async def test_order_count_limit_and_the_most_events(graph: Graph, chain: EpcisChain) -> None:
    newest = await found(graph, "plant", [("orderBy", "eventTime"), ("EQ_bizStep", "inspecting")])
    assert newest == ["P7", "P5", "P3"]  # orderBy defaults to descending, as the standard says
    oldest = await found(
        graph, "plant", [("orderBy", "recordTime"), ("orderDirection", "ASC"), ("MATCH_anyEPCClass", chain.tofu)]
    )
    assert oldest == ["P2", "P3", "P4", "D1", "D2", "S1"]  # the plant sees its tofu downstream
    limited = parse_simple_event_query([("orderBy", "eventTime"), ("eventCountLimit", "2"), ("perPage", "5")])
    assert limited.page_size == 2
    parsed = parse_simple_event_query([("EQ_bizStep", "inspecting")])
    assert await count_events(graph, viewer("plant"), parsed.filter, at_most=10) == 3
    assert await count_events(graph, viewer("plant"), parsed.filter, at_most=2) == 2
    assert await count_events(graph, viewer("rival"), parsed.filter, at_most=10) == 1


async def _plan(graph: Graph, params: list[tuple[str, str]]) -> dict[str, Any]:
    parsed = parse_simple_event_query(params)
    return await explain(graph, query_text(parsed.filter), query_params(viewer("plant"), parsed.filter, limit=31))


@pytest.mark.parametrize(
    ("params", "operator", "index"),
    [
        ([("MATCH_epc", "urn:epc:id:sgtin:8800000.012345.A1")], "NodeUniqueIndexSeek", "EpcisTerm"),
        ([("MATCH_epc", "urn:epc:idpat:sgtin:8800000.012345.*")], "NodeUniqueIndexSeekByRange", "EpcisTerm"),
        ([("EQ_bizTransaction_po", "urn:epcglobal:cbv:bt:8800000000001:PO-1")], "NodeUniqueIndexSeek", "EpcisTerm"),
        ([("EQ_eventID", "urn:uuid:1")], "NodeUniqueIndexSeek", "EpcisEvent"),
        ([("EQ_readPoint", "urn:epc:id:sgln:8800000.00001.0")], "NodeIndexSeek", "readPoint"),
        ([("EQ_bizLocation", "urn:epc:id:sgln:8800000.00001.0")], "NodeIndexSeek", "bizLocation"),
        ([("GE_recordTime", "2026-09-06T00:00:00Z")], "NodeIndexSeekByRange", "recordTime"),
        ([("GE_eventTime", "2026-09-06T00:00:00Z"), ("EQ_disposition", "active")], "NodeIndexSeekByRange", "eventTime"),
    ],
)
async def test_selective_parameters_start_from_their_index(
    graph: Graph, params: list[tuple[str, str]], operator: str, index: str
) -> None:
    plan = await _plan(graph, params)
    operators = steps(plan)
    assert any(op.startswith(operator) and index in details for op, details in operators), shown(plan)
    assert not any(op.startswith("NodeByLabelScan") and "EpcisEvent" in details for op, details in operators), shown(
        plan
    )


def test_an_unsupported_parameter_is_refused_by_name() -> None:
    for name in ("EQ_bogus", "HASATTR_ex:x", "EQATTR_ex:x_cbvmda:sst", "EQ_bizLocation_ex:x", "orderBy"):
        value = "not a field" if name == "orderBy" else "1"
        with pytest.raises(QueryError) as refused:
            parse_simple_event_query([(name, value)])
        assert refused.value.field == name
