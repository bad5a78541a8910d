"""SimpleEventQuery parameters read into the store's filter: patterns, values and the refusals, each naming the
parameter; facets taken from an event as the store keeps them."""

from __future__ import annotations

import time

import pytest

from graph_schema.epcis.facets import event_facets
from graph_schema.epcis.query import QueryError, page_token, parse_simple_event_query
from graph_schema.epcis.validation import validate_event


def refused(params: list[tuple[str, str]]) -> QueryError:
    with pytest.raises(QueryError) as error:
        parse_simple_event_query(params)
    return error.value


def test_patterns_become_terms_and_facets() -> None:
    parsed = parse_simple_event_query(
        [
            ("MATCH_anyEPC", "urn:epc:idpat:sgtin:8800000.012345.*"),
            ("EQ_bizTransaction_po", "urn:epcglobal:cbv:bt:8800000000001:PO-1|urn:epcglobal:cbv:bt:8800000000001:PO-2"),
            ("EQ_source_owning_party", "urn:epc:id:pgln:8800000.00001"),
            ("GE_value_CEL", "90"),
            ("EQ_ILMD_cbvmda:lotNumber", "L-1"),
            ("EXISTS_INNER_ex:line", ""),
        ]
    )
    terms = {(match.keys, match.prefixes) for match in parsed.filter.terms}
    assert terms == {
        (
            (),
            tuple(f"{kind} urn:epc:id:sgtin:8800000.012345." for kind in ("epc", "parentID", "inputEPC", "outputEPC")),
        ),
        (
            (
                "bizTransaction po urn:epcglobal:cbv:bt:8800000000001:PO-1",
                "bizTransaction po urn:epcglobal:cbv:bt:8800000000001:PO-2",
            ),
            (),
        ),
        (("source owning_party urn:epc:id:pgln:8800000.00001",), ()),
    }
    assert parsed.filter.facets[0] == ({"kind": "number", "key": "sensor value CEL", "op": "GE", "number": 90.0},)
    # cbvmda is the standard's own prefix: the field is found under its full IRI too
    assert {a["text"] for a in parsed.filter.facets[1] if a["kind"] == "text"} == {
        "ilmd cbvmda:lotNumber=L-1",
        "ilmd urn:epcglobal:cbv:mda:lotNumber=L-1",
    }
    assert parsed.filter.facets[2] == ({"kind": "name", "key": "inner ex:line"},)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ([("EQ_nothing", "1")], "EQ_nothing"),
        ([("HASATTR_ex:x", "1")], "HASATTR_ex:x"),
        ([("EQ_INNER_readPoint_ex:x", "1")], "EQ_INNER_readPoint_ex:x"),
        ([("EQ_readPoint_ex:x", "1")], "EQ_readPoint_ex:x"),
        ([("GE_eventTime", "yesterday")], "GE_eventTime"),
        ([("GE_eventTime", "2026-01-01T00:00:00")], "GE_eventTime"),  # no time zone
        ([("EQ_action", "ERASE")], "EQ_action"),
        ([("EQ_bizStep", "urn:epcglobal:cbv:bizstep:dancing")], "EQ_bizStep"),
        ([("MATCH_epc", "urn:epc:id:sgtin:1.2")], "MATCH_epc"),
        ([("MATCH_epc", "urn:epc:idpat:sgtin:8800000.012345.1")], "MATCH_epc"),
        ([("GT_ex:weight", "heavy")], "GT_ex:weight"),
        ([("GE_value_CEL", "NaN")], "GE_value_CEL"),
        ([("orderBy", "not a field")], "orderBy"),
        ([("orderBy", "eventTime"), ("orderDirection", "UP")], "orderDirection"),
        ([("eventCountLimit", "3")], "eventCountLimit"),  # needs orderBy
        ([("orderBy", "eventTime"), ("eventCountLimit", "3"), ("maxEventCount", "3")], "eventCountLimit"),
        ([("orderBy", "eventTime"), ("eventCountLimit", "0")], "eventCountLimit"),
        ([("maxEventCount", "-1")], "maxEventCount"),
        ([("perPage", "1001")], "perPage"),
        ([("GE_eventTime", "2026-01-01T00:00:00Z"), ("GE_eventTime", "2026-02-01T00:00:00Z")], "GE_eventTime"),
        ([("MATCH_epc", "|".join(f"urn:epc:id:sgtin:8800000.012345.{n}" for n in range(101)))], "MATCH_epc"),
        ([("nextPageToken", "not-a-token")], "nextPageToken"),
    ],
)
def test_what_cannot_be_answered_is_refused_naming_the_parameter(params: list[tuple[str, str]], field: str) -> None:
    assert refused(params).field == field


def test_a_page_token_belongs_to_its_order() -> None:
    ascending = parse_simple_event_query([("orderBy", "eventTime"), ("orderDirection", "ASC")])
    token = page_token(ascending, sort_key="2026-09-06T00:00:00+00:00", event_id="urn:uuid:1", served=30)
    again = parse_simple_event_query([("orderBy", "eventTime"), ("orderDirection", "ASC"), ("nextPageToken", token)])
    assert (again.after, again.served) == (ascending.after or again.after, 30)
    assert again.after is not None
    assert again.after.event_id == "urn:uuid:1"
    # the same token with another order would skip or repeat events: refused
    assert refused([("orderBy", "recordTime"), ("nextPageToken", token)]).field == "nextPageToken"


def test_a_hostile_query_string_is_refused_in_milliseconds() -> None:
    started = time.perf_counter()
    many = [(f"EQ_ex:f{n}", "x" * 1000) for n in range(2000)]
    assert refused(many).field == "EQ_ex:f64"  # at most 64 different parameters, each a predicate of the Cypher
    parse_simple_event_query(many[:64])
    assert refused([("EQ_bizStep", "|".join(["shipping"] * 5000))]).field == "EQ_bizStep"
    assert time.perf_counter() - started < 2.0


def test_an_events_facets_are_what_the_store_keeps() -> None:
    raw = {
        "type": "ObjectEvent",
        "eventTime": "2026-09-06T09:00:00+09:00",
        "eventTimeZoneOffset": "+09:00",
        "action": "OBSERVE",
        "epcList": ["urn:epc:id:sgtin:8800000.012345.A1"],
        "ex:grade": "A",
        "ex:brix": 12.5,
        "ex:checkedAt": "2026-09-06T09:00:00+09:00",
        "ex:batch": {"ex:line": "L2"},
        "sensorElementList": [
            {
                "sensorMetadata": {"deviceID": "urn:epc:id:giai:8800000.1"},
                "sensorReport": [{"type": "Temperature", "value": 4.5, "uom": "CEL"}],
            }
        ],
    }
    event = validate_event(raw, index=0, namespaces={"ex": "https://example.com/ns/"})
    assert not isinstance(event, list), event
    facets = event_facets(event)
    assert facets.terms == ["epc urn:epc:id:sgtin:8800000.012345.A1"]
    assert {
        "field ex:grade=A",
        "field https://example.com/ns/grade=A",
        "field ex:brix=12.5",
        "inner ex:line=L2",
    } <= set(facets.texts)
    assert "sensor type=Temperature" in facets.texts
    assert "sensor deviceID=urn:epc:id:giai:8800000.1" in facets.texts
    assert dict(zip(facets.number_keys, facets.numbers, strict=True))["sensor value CEL"] == 4.5
    # times are kept in UTC, so that one instant written in two zones compares equal
    assert dict(zip(facets.time_keys, facets.times, strict=True))["field ex:checkedAt"] == "2026-09-06T00:00:00+00:00"
    assert "sensorElementList" in facets.names
