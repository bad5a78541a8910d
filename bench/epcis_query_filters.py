"""The SimpleEventQuery's filters against the bare Cypher of the same filter.

Two firms of their own (created for the run, removed afterwards) capture N events each: inspections of
instance EPCs at a dock, with a business transaction, a source and destination, an extension field and a
sensor report, one in fifty with an error declaration. For each filter the hub's query (the caller's
visibility, every other parameter null, the page of 30 in time order: graph_schema.epcis.event_reads) is timed
against a hand-written Cypher of the same filter alone, through the same driver, without visibility or any
other predicate; the two alternate, each run `--rounds` times, medians compared. The target: within 2x.
Writes bench/results/epcis_query_filters.json. Needs a running Neo4j (`hub neo4j start`).
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, LiteralString

from bench.common import median_ms, open_driver, remove_firm, timed, write_result
from graph_schema import parties
from graph_schema.access import Viewer
from graph_schema.db import Graph
from graph_schema.epcis.capture import SourceItem, capture
from graph_schema.epcis.event_reads import query_events
from graph_schema.epcis.master_data import MasterData, header_master_data
from graph_schema.epcis.model import EpcisEvent, EventError
from graph_schema.epcis.query import parse_simple_event_query
from graph_schema.epcis.validation import validate_event
from graph_schema.identifiers import gs1_check_digit
from graph_schema.records import FirmRecord, SiteRecord
from hub.settings import Settings

FIRMS = ("bench-epcisq-a", "bench-epcisq-b")
NAMESPACES = {"ex": "https://example.com/bench/"}
PAGE = 30


def _gln(n: int) -> str:
    body = f"990100{n:06d}"
    return body + str(gs1_check_digit(body))


SITES = {FIRMS[0]: _gln(1), FIRMS[1]: _gln(2)}


def sgln(gln: str, extension: str = "0") -> str:
    return f"urn:epc:id:sgln:{gln[:7]}.{gln[7:12]}.{extension}"


def events(firm: str, count: int) -> Iterator[dict[str, Any]]:
    site = SITES[firm]
    prefix = site[:7]
    start = datetime(2026, 10, 1, tzinfo=UTC)
    for i in range(count):
        event: dict[str, Any] = {
            "type": "ObjectEvent",
            "eventTime": (start + timedelta(minutes=i)).isoformat(),
            "eventTimeZoneOffset": "+09:00",
            "action": "OBSERVE",
            "bizStep": "inspecting",
            "disposition": "conformant" if i % 10 else "non_conformant",
            "readPoint": {"id": sgln(site, f"dock{i % 20}")},
            "bizLocation": {"id": sgln(site)},
            "epcList": [
                f"urn:epc:id:sgtin:{prefix}.0{i % 100:05d}.{i}",
                f"urn:epc:id:sgtin:{prefix}.0{i % 100:05d}.{i}x",
            ],
            "bizTransactionList": [{"type": "po", "bizTransaction": f"urn:epcglobal:cbv:bt:{site}:PO-{i}"}],
            "sourceList": [{"type": "location", "source": sgln(site)}],
            "destinationList": [{"type": "location", "destination": sgln(site, f"bay{i % 50}")}],
            "ex:grade": "ABCDE"[i % 5],
            "ex:brix": float(i % 200) / 10,
            "sensorElementList": [
                {
                    "sensorMetadata": {"time": (start + timedelta(minutes=i)).isoformat()},
                    "sensorReport": [
                        {"type": "Temperature", "value": float(i % 120) / 10, "uom": "CEL", "ex:probe": f"P{i % 10}"}
                    ],
                }
            ],
        }
        if i % 50 == 0:
            event["errorDeclaration"] = {
                "declarationTime": (start + timedelta(days=30)).isoformat(),
                "reason": "incorrect_data",
            }
        yield event


def master_data(firm: str) -> dict[str, Any]:
    """The firm's site and its 20 docks as children, every other dock a cold room (cbvmda:sst 202)."""
    site = SITES[firm]
    docks = [sgln(site, f"dock{n}") for n in range(20)]
    elements = [
        {"id": sgln(site), "attributes": [{"id": "cbvmda:name", "attribute": f"Plant of {firm}"}], "children": docks},
        *(
            {
                "id": dock,
                "attributes": [
                    {"id": "cbvmda:site", "attribute": site},
                    {"id": "cbvmda:sst", "attribute": "20" + "12"[n % 2]},
                ],
            }
            for n, dock in enumerate(docks)
        ),
    ]
    vocabulary = {"type": "urn:epcglobal:epcis:vtype:ReadPoint", "vocabularyElementList": elements}
    return {"epcisHeader": {"epcisMasterData": {"vocabularyList": [vocabulary]}}}


async def prepare(graph: Graph, count: int) -> None:
    await parties.upsert_firms(graph, [FirmRecord(id=f, name=f"Benchmark {f}", roles=["PLANT"]) for f in FIRMS])
    await parties.upsert_sites(
        graph, [SiteRecord(gln=g, firm_id=f, name=f"Plant of {f}", kind="PLANT") for f, g in SITES.items()]
    )
    for firm in FIRMS:
        validated = [
            validate_event(copy.deepcopy(raw), index=i, namespaces=NAMESPACES)
            for i, raw in enumerate(events(firm, count))
        ]
        bad = [e for e in validated if isinstance(e, list)]
        if bad:
            raise RuntimeError(f"benchmark events are invalid: {bad[0][:2]}")

        master = header_master_data(master_data(firm), namespaces=NAMESPACES)
        if not isinstance(master, MasterData):
            raise RuntimeError(f"benchmark master data is invalid: {master}")

        def source(
            validated: list[EpcisEvent | list[EventError]] = validated, master: MasterData = master
        ) -> Iterator[tuple[int, SourceItem]]:
            yield -1, master
            yield from enumerate(validated)

        outcome = await capture(
            graph,
            source,
            firm_id=firm,
            capture_id=f"bench-{firm}",
            proceed=False,
            placeholders=False,
            record_time=datetime(2026, 11, 1, tzinfo=UTC) + timedelta(days=FIRMS.index(firm)),
            batch_size=500,
        )
        if not outcome.committed or outcome.captured != count:
            raise RuntimeError(f"the capture did not go through: {outcome.errors[:3]}")


def filters(count: int) -> list[tuple[str, list[tuple[str, str]], LiteralString, dict[str, Any]]]:
    """(name, query parameters, the bare Cypher of the same filter, its parameters), for the first firm."""
    site = SITES[FIRMS[0]]
    prefix = site[:7]
    i = count // 2
    order = " RETURN e.eventId AS eventId, e.json AS json ORDER BY e.eventTime, e.eventId LIMIT 30"
    by_term = "MATCH (:EpcisTerm {key: $key})<-[:HAS_TERM]-(e:EpcisEvent) WITH DISTINCT e" + order
    return [
        (
            "MATCH_epc",
            [("MATCH_epc", f"urn:epc:id:sgtin:{prefix}.0{i % 100:05d}.{i}")],
            by_term,
            {"key": f"epc urn:epc:id:sgtin:{prefix}.0{i % 100:05d}.{i}"},
        ),
        (
            "MATCH_epc pattern",
            [("MATCH_epc", f"urn:epc:idpat:sgtin:{prefix}.000007.*")],
            "MATCH (t:EpcisTerm)<-[:HAS_TERM]-(e:EpcisEvent) WHERE t.key STARTS WITH $prefix WITH DISTINCT e" + order,
            {"prefix": f"epc urn:epc:id:sgtin:{prefix}.000007."},
        ),
        (
            "EQ_bizTransaction_po",
            [("EQ_bizTransaction_po", f"urn:epcglobal:cbv:bt:{site}:PO-{i}")],
            by_term,
            {"key": f"bizTransaction po urn:epcglobal:cbv:bt:{site}:PO-{i}"},
        ),
        (
            "EQ_destination_location",
            [("EQ_destination_location", sgln(site, "bay7"))],
            by_term,
            {"key": f"destination location {sgln(site, 'bay7')}"},
        ),
        (
            "EQ_eventID",
            [("EQ_eventID", "__first__")],
            "MATCH (e:EpcisEvent {eventId: $id})" + order,
            {"id": "__first__"},
        ),
        (
            "EQ_readPoint",
            [("EQ_readPoint", sgln(site, "dock3"))],
            "MATCH (e:EpcisEvent {readPoint: $place})" + order,
            {"place": sgln(site, "dock3")},
        ),
        (
            "LT_recordTime",  # the first firm's capture (the second's is a day later)
            [("LT_recordTime", "2026-11-01T12:00:00Z")],
            "MATCH (e:EpcisEvent) WHERE e.recordTime < datetime($t)" + order,
            {"t": "2026-11-01T12:00:00Z"},
        ),
        (
            "EQ_disposition",
            [("EQ_disposition", "non_conformant")],
            "MATCH (e:EpcisEvent) WHERE e.disposition = $d" + order,
            {"d": "non_conformant"},
        ),
        (
            "EXISTS_errorDeclaration",
            [("EXISTS_errorDeclaration", "")],
            "MATCH (e:EpcisEvent) WHERE e.errorDeclarationTime IS NOT NULL" + order,
            {},
        ),
        (
            "GT_ extension field",
            [("GT_ex:brix", "19.5")],
            "MATCH (e:EpcisEvent) WHERE any(i IN range(0, size(e.numberKeys) - 1)"
            " WHERE e.numberKeys[i] = $key AND e.numbers[i] > $v)" + order,
            {"key": "field ex:brix", "v": 19.5},
        ),
        (
            "EQ_ extension field",
            [("EQ_ex:grade", "E")],
            "MATCH (e:EpcisEvent) WHERE $text IN e.facets" + order,
            {"text": "field ex:grade=E"},
        ),
        (
            "EQ_SENSORREPORT_ extension field",
            [("EQ_SENSORREPORT_ex:probe", "P3")],
            "MATCH (e:EpcisEvent) WHERE $text IN e.facets" + order,
            {"text": "sensorReport ex:probe=P3"},
        ),
        (
            "EQATTR_readPoint_",
            [("EQATTR_readPoint_cbvmda:sst", "202")],
            "MATCH (e:EpcisEvent) WHERE EXISTS { MATCH (l:EpcisLocation {digitalLink: e.readPointLink})"
            " WHERE $text IN l.attributeTexts }" + order,
            {"text": "urn:epcglobal:cbv:mda:sst=202"},
        ),
        (
            "WD_readPoint (master data)",
            [("WD_readPoint", f"https://id.gs1.org/414/{site}")],
            "MATCH (e:EpcisEvent) WHERE e.readPoint STARTS WITH $prefix OR EXISTS { MATCH (:EpcisLocation"
            " {digitalLink: e.readPointLink})<-[:HAS_CHILD*1..8]-(a:EpcisLocation) WHERE a.digitalLink = $link }"
            + order,
            {"link": f"https://id.gs1.org/414/{site}", "prefix": sgln(site)[:-1]},
        ),
        (
            "orderBy extension field",
            [("orderBy", "ex:brix"), ("orderDirection", "ASC")],
            "MATCH (e:EpcisEvent) WITH e, [i IN range(0, size(e.numberKeys) - 1) WHERE e.numberKeys[i] = $key"
            " | e.numbers[i]][0] AS brix RETURN e.eventId AS eventId, e.json AS json ORDER BY brix, e.eventId LIMIT 30",
            {"key": "field ex:brix"},
        ),
        (
            "GE_value_CEL",
            [("GE_value_CEL", "11.8")],
            "MATCH (e:EpcisEvent) WHERE any(i IN range(0, size(e.numberKeys) - 1)"
            " WHERE e.numberKeys[i] = $key AND e.numbers[i] >= $v)" + order,
            {"key": "sensor value CEL", "v": 11.8},
        ),
    ]


async def run(count: int, rounds: int) -> dict[str, Any]:
    settings = Settings()
    driver = open_driver(settings)
    graph = Graph(driver, database=settings.neo4j_database)
    viewer = Viewer(firm_id=FIRMS[0], detail_firm_ids=frozenset({FIRMS[0]}))
    results: dict[str, Any] = {}
    try:
        for firm in FIRMS:
            await remove_firm(graph, firm)
        started = time.perf_counter()
        await prepare(graph, count)
        seeded = time.perf_counter() - started
        first = (
            await graph.read(
                "MATCH (e:EpcisEvent {capturedBy: $firm}) RETURN e.eventId AS id ORDER BY e.eventTime LIMIT 1",
                {"firm": FIRMS[0]},
            )
        )[0]["id"]
        for name, params, bare, bare_params in filters(count):
            params = [(k, first if v == "__first__" else v) for k, v in params]
            bare_params = {k: first if v == "__first__" else v for k, v in bare_params.items()}
            parsed = parse_simple_event_query(params)
            ours_rows = await query_events(graph, viewer, parsed.filter, after=None, limit=PAGE)
            bare_rows = await graph.read(bare, bare_params)
            ours: list[float] = []
            plain: list[float] = []
            for _ in range(rounds):
                ours.append(await timed(query_events(graph, viewer, parsed.filter, after=None, limit=PAGE)))
                plain.append(await timed(graph.read(bare, bare_params)))
            results[name] = {
                "hub_ms": median_ms(ours),
                "bare_ms": median_ms(plain),
                "ratio": round(median_ms(ours) / max(median_ms(plain), 0.001), 2),
                "events": len(ours_rows),
                "bare_events": len(bare_rows),  # the bare query sees both firms' events: it has no visibility
            }
            print(
                f"{name:28} hub {results[name]['hub_ms']:8.2f} ms  bare {results[name]['bare_ms']:8.2f} ms  "
                f"x{results[name]['ratio']:.2f}  ({len(ours_rows)} / {len(bare_rows)} events)"
            )
    finally:
        for firm in FIRMS:
            await remove_firm(graph, firm)
        await driver.close()
    ratios = [each["ratio"] for each in results.values()]
    return {
        "events_per_firm": count,
        "firms": len(FIRMS),
        "rounds": rounds,
        "seed_s": round(seeded, 1),
        "target_ratio": 2.0,
        "worst_ratio": max(ratios),
        "within_target": all(r <= 2.0 for r in ratios),
        "filters": results,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000, help="events captured by each of the two firms")
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    figures = asyncio.run(run(args.events, args.rounds))
    path = write_result("epcis_query_filters", figures)
    print(f"worst ratio {figures['worst_ratio']} (target 2.0); {path}")


if __name__ == "__main__":
    main()
