"""EPCIS capture onto the real graph: the farm-to-shelf chain, all-or-nothing, proceed, idempotency, permissions."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from graph_schema.db import Graph
from graph_schema.epcis.capture import CaptureOutcome, EventSource, capture
from graph_schema.epcis.model import EpcisEvent, EventError
from graph_schema.epcis.validation import validate_event
from tests.epcis_chain import EpcisChain, document, register_chain
from tests.epcis_schema import cross_check

pytestmark = pytest.mark.neo4j

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def source_of(doc: dict[str, Any], *, fail_after: int | None = None) -> EventSource:
    """The document's events, validated as the hub does; ``fail_after`` simulates a crash after that many."""
    namespaces = {k: v for part in doc["@context"] if isinstance(part, dict) for k, v in part.items()}

    def events() -> Iterator[tuple[int, EpcisEvent | list[EventError]]]:
        for index, raw in enumerate(doc["epcisBody"]["eventList"]):
            if fail_after is not None and index == fail_after:
                raise ConnectionResetError("the sender went away")
            yield index, validate_event(copy.deepcopy(raw), index=index, namespaces=namespaces)

    return events


async def capture_as(
    graph: Graph,
    firm: str,
    events: list[dict[str, Any]],
    *,
    proceed: bool = False,
    batch_size: int = 500,
    transaction_events: int = 20_000,
    **kw: Any,
) -> CaptureOutcome:
    outcome = await capture(
        graph,
        source_of(document(events), **kw),
        firm_id=firm,
        capture_id=f"test-{firm}",
        proceed=proceed,
        placeholders=False,
        record_time=NOW,
        batch_size=batch_size,
        transaction_events=transaction_events,
    )
    cross_check(document(events), accepted_whole=outcome.committed and outcome.error_count == 0)
    return outcome


async def capture_chain(graph: Graph, chain: EpcisChain, *, batch_size: int = 500) -> None:
    for firm, events in (
        ("farm", chain.farm_events()),
        ("plant", chain.plant_events()),
        ("dc", chain.dc_events()),
        ("store", chain.store_events()),
    ):
        outcome = await capture_as(graph, firm, events, batch_size=batch_size)
        assert (outcome.committed, outcome.errors, outcome.captured) == (True, [], len(events)), firm


async def counts(graph: Graph) -> dict[str, int]:
    rows = await graph.read(
        "RETURN COUNT { (:EpcisEvent) } AS events, COUNT { (:Lot) } AS lots, COUNT { (:Shipment) } AS shipments,"
        " COUNT { (:Transformation) } AS transformations, COUNT { ()-[:CONCERNS]->() } AS links"
    )
    return rows[0]


@pytest.mark.parametrize("batch_size", [500, 1])
async def test_a_farm_to_shelf_chain_captured_as_epcis_becomes_lots_transformations_and_shipments(
    graph: Graph, batch_size: int
) -> None:
    chain = await register_chain(graph)
    await capture_chain(graph, chain, batch_size=batch_size)

    lots = await graph.read(
        "MATCH (l:Lot) RETURN l.id AS id, l.ownerFirmId AS owner, l.siteGln AS site, l.quantity AS quantity,"
        " l.uom AS uom, toString(l.expiresAt) AS expires ORDER BY id"
    )
    assert lots == sorted(
        [
            {
                "id": chain.soy,
                "owner": "farm",
                "site": chain.sites["farm"],
                "quantity": 500.0,
                "uom": "KGM",
                "expires": "2027-03-01T00:00:00Z",
            },
            {
                "id": chain.tofu,
                "owner": "plant",
                "site": chain.sites["plant"],
                "quantity": 300.0,
                "uom": "KGM",
                "expires": "2026-09-20T00:00:00Z",
            },
        ],
        key=lambda row: str(row["id"]),
    )
    made = await graph.read(
        "MATCH (i:Lot)-[c:CONSUMED_BY]->(t:Transformation)-[p:PRODUCED]->(o:Lot)"
        " RETURN i.id AS input, c.quantity AS used, t.firmId AS firm, o.id AS output, p.quantity AS made"
    )
    assert made == [{"input": chain.soy, "used": 200.0, "firm": "plant", "output": chain.tofu, "made": 300.0}]
    shipments = await graph.read(
        "MATCH (sh:Shipment)-[c:CARRIES]->(l:Lot) RETURN sh.fromFirmId AS origin, sh.toFirmId AS destination,"
        " l.id AS lot, c.quantity AS quantity, sh.docType AS docType, sh.docNumber AS docNumber,"
        " toString(sh.shippedAt) AS shipped, toString(sh.receivedAt) AS received ORDER BY shipped"
    )
    bt = "urn:epcglobal:cbv:bt:"
    assert shipments == [
        {
            "origin": "farm",
            "destination": "plant",
            "lot": chain.soy,
            "quantity": 500.0,
            "docType": "desadv",
            "docNumber": f"{bt}{chain.sites['farm']}:D-1",
            "shipped": "2026-09-05T09:00:00+09:00",
            "received": "2026-09-05T13:00:00+09:00",
        },
        {
            "origin": "plant",
            "destination": "dc",
            "lot": chain.tofu,
            "quantity": 300.0,
            "docType": "desadv",
            "docNumber": f"{bt}{chain.sites['plant']}:D-2",
            "shipped": "2026-09-06T15:00:00+09:00",
            "received": "2026-09-06T20:00:00+09:00",
        },
        {
            "origin": "dc",
            "destination": "store",
            "lot": chain.tofu,
            "quantity": 120.0,
            "docType": "desadv",
            "docNumber": f"{bt}{chain.sites['dc']}:D-3",
            "shipped": "2026-09-07T06:00:00+09:00",
            "received": "2026-09-07T09:00:00+09:00",
        },
    ]
    # stock followed the goods: 300 kg of soybeans left at the plant after 200 kg went into the tofu,
    # 180 kg of tofu at the DC after 120 kg went on to the store
    stock = await graph.read(
        "MATCH (l:Lot)-[h:HELD_AT]->(s:Site) RETURN l.id AS lot, s.firmId AS firm, h.quantity AS quantity"
        " ORDER BY lot, firm"
    )
    expected_stock = [
        {"lot": chain.soy, "firm": "farm", "quantity": 0.0},
        {"lot": chain.soy, "firm": "plant", "quantity": 300.0},
        {"lot": chain.tofu, "firm": "dc", "quantity": 180.0},
        {"lot": chain.tofu, "firm": "plant", "quantity": 0.0},
        {"lot": chain.tofu, "firm": "store", "quantity": 120.0},
    ]
    assert stock == sorted(expected_stock, key=lambda row: (str(row["lot"]), str(row["firm"])))
    # every event is stored, the sensor reading included, and linked to the lots it names
    assert await counts(graph) == {"events": 9, "lots": 2, "shipments": 3, "transformations": 1, "links": 10}
    sensor = await graph.read("MATCH (e:EpcisEvent {bizStep: 'inspecting'}) RETURN e.json AS json")
    assert '"sensorElementList"' in sensor[0]["json"]
    assert '"value":92.5' in sensor[0]["json"]


async def test_one_invalid_event_rolls_back_the_whole_document_and_every_error_is_listed(graph: Graph) -> None:
    chain = await register_chain(graph)
    events = chain.farm_events()
    events[1]["quantityList"][0]["quantity"] = "500"  # text, not a number
    events.append({**chain.farm_events()[0], "bizStep": "harvest_it"})  # not a CBV business step
    outcome = await capture_as(graph, "farm", events)

    assert not outcome.committed
    assert [(e.index, e.field, e.code) for e in outcome.errors] == [
        (1, "quantityList[0].quantity", "BAD_USER_INPUT"),
        (2, "bizStep", "BAD_USER_INPUT"),
    ]
    assert "harvest_it" in outcome.errors[1].message
    assert await counts(graph) == {"events": 0, "lots": 0, "shipments": 0, "transformations": 0, "links": 0}


async def test_graph_level_errors_name_the_event_and_also_roll_back(graph: Graph) -> None:
    chain = await register_chain(graph)
    events = chain.plant_events()[1:2]  # a transformation of a soybean lot the plant never received
    outcome = await capture_as(graph, "plant", chain.farm_events()[:0] + events)
    assert not outcome.committed
    assert [(e.index, e.code, e.field) for e in outcome.errors] == [(0, "NOT_FOUND", "inputQuantityList")]
    assert f"input lot {chain.soy} is not recorded" in outcome.errors[0].message
    assert (await counts(graph))["events"] == 0


async def test_proceed_captures_the_valid_events_and_lists_the_others(graph: Graph) -> None:
    chain = await register_chain(graph)
    events = chain.farm_events()
    bad = copy.deepcopy(events[0])
    bad["action"] = "CREATE"
    outcome = await capture_as(graph, "farm", [events[0], bad, events[1]], proceed=True)
    assert outcome.committed
    assert outcome.captured == 2
    assert [(e.index, e.field) for e in outcome.errors] == [(1, "action")]
    assert (await counts(graph))["shipments"] == 1


async def test_proceed_also_sets_aside_events_that_depended_on_a_rejected_one(graph: Graph) -> None:
    chain = await register_chain(graph)
    commissioning, shipping = chain.farm_events()
    commissioning["bizLocation"] = {"id": "urn:epc:id:sgln:8800000.99999.0"}  # a site nobody registered
    commissioning["readPoint"] = commissioning["bizLocation"]
    outcome = await capture_as(graph, "farm", [commissioning, shipping], proceed=True)
    assert outcome.committed
    assert outcome.captured == 0
    assert [(e.index, e.code) for e in outcome.errors] == [(0, "NOT_FOUND"), (1, "NOT_FOUND")]
    assert "is not a registered site" in outcome.errors[0].message
    assert f"lot {chain.soy} is not recorded" in outcome.errors[1].message


async def test_a_firm_cannot_capture_at_another_firms_site(graph: Graph) -> None:
    chain = await register_chain(graph)
    outcome = await capture_as(graph, "rival", chain.farm_events())  # the farm's events, sent by a rival
    assert not outcome.committed
    assert [(e.index, e.code, e.field) for e in outcome.errors] == [
        (0, "FORBIDDEN", "bizLocation"),
        (1, "FORBIDDEN", "bizLocation"),
    ]
    assert (await counts(graph))["events"] == 0


async def test_capture_is_idempotent_and_a_crash_mid_document_leaves_nothing_behind(graph: Graph) -> None:
    chain = await register_chain(graph)
    await capture_chain(graph, chain)
    plant = chain.plant_events()
    before = await counts(graph)

    # a crash while the plant's next document was half sent (its first event already sent in the open
    # transaction): nothing of it is written
    more = copy.deepcopy(plant)
    for event in more:
        event["eventTime"] = event["eventTime"].replace("2026-09-0", "2026-10-0")
    more = [more[2], more[2] | {"disposition": "active"}]  # two new inspections
    with pytest.raises(ConnectionResetError):
        await capture_as(graph, "plant", more, fail_after=1, batch_size=1, proceed=True)
    assert await counts(graph) == before

    # the retry captures it once; sending everything again adds nothing
    retried = await capture_as(graph, "plant", more)
    assert (retried.captured, retried.duplicates) == (2, 0)
    again = await capture_as(graph, "plant", plant + more)
    assert (again.committed, again.captured, again.duplicates) == (True, 0, 6)
    after = await counts(graph)
    assert after == {**before, "events": before["events"] + 2, "links": before["links"] + 2}


async def test_a_document_larger_than_a_transaction_resumes_after_a_crash_without_loss_or_duplicates(
    graph: Graph,
) -> None:
    chain = await register_chain(graph)
    events = chain.farm_events()
    # one event per transaction: the crash comes after the first transaction was committed
    with pytest.raises(ConnectionResetError):
        await capture_as(graph, "farm", events, fail_after=1, batch_size=1, transaction_events=1, proceed=True)
    assert await counts(graph) == {"events": 1, "lots": 1, "shipments": 0, "transformations": 0, "links": 1}
    resent = await capture_as(graph, "farm", events, batch_size=1, transaction_events=1)
    assert (resent.committed, resent.captured, resent.duplicates) == (True, 1, 1)
    assert await counts(graph) == {"events": 2, "lots": 1, "shipments": 1, "transformations": 0, "links": 2}


async def test_a_graph_error_in_a_later_transaction_keeps_the_earlier_ones_and_says_so(graph: Graph) -> None:
    chain = await register_chain(graph)
    commissioning, shipping = chain.farm_events()
    stray = copy.deepcopy(shipping)
    stray["quantityList"][0]["epcClass"] = chain.tofu  # a lot the farm never had
    outcome = await capture_as(graph, "farm", [commissioning, stray, shipping], batch_size=1, transaction_events=1)
    assert (outcome.committed, outcome.captured) == (False, 1)
    assert [(e.index, e.code) for e in outcome.errors] == [(1, "NOT_FOUND")]
    assert (await counts(graph))["events"] == 1
    # the corrected document, sent again, completes the capture: the first event is a duplicate
    resent = await capture_as(graph, "farm", [commissioning, shipping], batch_size=1, transaction_events=1)
    assert (resent.committed, resent.captured, resent.duplicates) == (True, 1, 1)


async def test_an_event_id_reused_for_other_content_is_a_conflict(graph: Graph) -> None:
    chain = await register_chain(graph)
    first = chain.farm_events()[0] | {"eventID": "urn:uuid:6d1f0c7e-2c2b-4e5b-9a43-5d0f1e0c9b11"}
    assert (await capture_as(graph, "farm", [first])).committed
    changed = first | {"disposition": "in_progress"}
    outcome = await capture_as(graph, "farm", [changed])
    assert not outcome.committed
    assert [(e.code, e.field) for e in outcome.errors] == [("CONFLICT", "eventID")]
