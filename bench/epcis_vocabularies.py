"""The REST binding's lists of values in use (/bizSteps, /dispositions, /epcs): read from the terms against the scan
of every event they replaced.

Two firms of their own (created for the run, removed afterwards) capture N events each; one in fifty has a custom
business step and disposition (full URIs). For the first firm, the first page (31 values) of each list is read the
way the hub reads it now (graph_schema.epcis.event_reads.values_in_use: the terms' unique index in key order, each
term kept when one event the viewer may see has it) and the way it was read before (every event the viewer may
see scanned for the field, the distinct values sorted); then the same for a firm that may see none of the events
(the terms' worst case: every term looked at in vain); the two alternate, each run `--rounds` times, medians
compared. /epcs had no list before: it is timed against the same scan over the events' identifier lists.
Writes bench/results/epcis_vocabularies.json. Needs a running Neo4j (`hub neo4j start`, or HUB_NEO4J_URI).
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, Final, LiteralString

from bench.common import median_ms, open_driver, remove_firm, timed, write_result
from graph_schema import parties
from graph_schema.access import Viewer
from graph_schema.db import Graph
from graph_schema.epcis.capture import capture
from graph_schema.epcis.event_reads import EVENT_VISIBLE, values_in_use
from graph_schema.epcis.model import EpcisEvent, EventError
from graph_schema.epcis.validation import validate_event
from graph_schema.identifiers import gs1_check_digit
from graph_schema.records import FirmRecord, SiteRecord
from hub.settings import Settings

FIRMS: Final = ("bench-epcisv-a", "bench-epcisv-b")
PAGE: Final = 31


def _gln(n: int) -> str:
    body = f"990200{n:06d}"
    return body + str(gs1_check_digit(body))


SITES: Final = {FIRMS[0]: _gln(1), FIRMS[1]: _gln(2)}

# the queries of the lists before they were read from the terms (graph_schema.epcis.event_reads at 62cfe14)
BEFORE: Final[dict[str, LiteralString]] = {
    "bizStep": (
        "MATCH (e:EpcisEvent) WHERE e.bizStep CONTAINS ':' AND e.bizStep > $after AND "
        + EVENT_VISIBLE
        + " WITH DISTINCT e.bizStep AS value ORDER BY value LIMIT $limit RETURN value"
    ),
    "disposition": (
        "MATCH (e:EpcisEvent) WHERE e.disposition CONTAINS ':' AND e.disposition > $after AND "
        + EVENT_VISIBLE
        + " WITH DISTINCT e.disposition AS value ORDER BY value LIMIT $limit RETURN value"
    ),
    "epc": (
        "MATCH (e:EpcisEvent) WHERE "
        + EVENT_VISIBLE
        + " UNWIND e.epcs + e.anyEpcClasses AS value WITH DISTINCT value WHERE value > $after"
        " RETURN value ORDER BY value LIMIT $limit"
    ),
}


def sgln(gln: str, extension: str = "0") -> str:
    return f"urn:epc:id:sgln:{gln[:7]}.{gln[7:12]}.{extension}"


def events(firm: str, count: int) -> Iterator[dict[str, Any]]:
    site = SITES[firm]
    prefix = site[:7]
    start = datetime(2026, 10, 1, tzinfo=UTC)
    for i in range(count):
        custom = i % 50 == 0
        yield {
            "type": "ObjectEvent",
            "eventTime": (start + timedelta(minutes=i)).isoformat(),
            "eventTimeZoneOffset": "+09:00",
            "action": "OBSERVE",
            "bizStep": f"https://{firm}.example.com/steps/s{i % 7}" if custom else "inspecting",
            "disposition": f"https://{firm}.example.com/dispositions/d{i // 50 % 5}" if custom else "conformant",
            "readPoint": {"id": sgln(site, f"dock{i % 20}")},
            "bizLocation": {"id": sgln(site)},
            "epcList": [f"urn:epc:id:sgtin:{prefix}.0{i % 100:05d}.{i}"],
        }


async def prepare(graph: Graph, count: int) -> None:
    await parties.upsert_firms(graph, [FirmRecord(id=f, name=f"Benchmark {f}", roles=["PLANT"]) for f in FIRMS])
    await parties.upsert_sites(
        graph, [SiteRecord(gln=g, firm_id=f, name=f"Plant of {f}", kind="PLANT") for f, g in SITES.items()]
    )
    for firm in FIRMS:
        validated = [
            validate_event(copy.deepcopy(raw), index=i, namespaces={}) for i, raw in enumerate(events(firm, count))
        ]

        def source(
            validated: list[EpcisEvent | list[EventError]] = validated,
        ) -> Iterator[tuple[int, EpcisEvent | list[EventError]]]:
            yield from enumerate(validated)

        outcome = await capture(
            graph,
            source,
            firm_id=firm,
            capture_id=f"bench-{firm}",
            proceed=False,
            placeholders=False,
            record_time=datetime(2026, 11, 1, tzinfo=UTC),
            batch_size=500,
        )
        if not outcome.committed or outcome.captured != count:
            raise RuntimeError(f"the capture did not go through: {outcome.errors[:3]}")


async def run(count: int, rounds: int) -> dict[str, Any]:
    settings = Settings()
    driver = open_driver(settings)
    graph = Graph(driver, database=settings.neo4j_database)
    own = Viewer(firm_id=FIRMS[0], detail_firm_ids=frozenset({FIRMS[0]}))
    nobody = Viewer(firm_id="bench-epcisv-none", detail_firm_ids=frozenset({"bench-epcisv-none"}))
    results: dict[str, Any] = {}
    try:
        for firm in FIRMS:
            await remove_firm(graph, firm)
        started = time.perf_counter()
        await prepare(graph, count)
        seeded = time.perf_counter() - started
        # the first firm, and a firm that may see none of these events (every term is looked at, in vain)
        for who, viewer in (("own", own), ("none", nobody)):
            for field, before in BEFORE.items():
                params = {"after": "", "limit": PAGE, **viewer.params()}
                now_values = await values_in_use(graph, viewer, field, after="", limit=PAGE)
                before_values = [row["value"] for row in await graph.read(before, params)]
                if now_values != before_values:
                    raise RuntimeError(f"{field}: the two reads differ: {now_values[:3]} / {before_values[:3]}")
                now: list[float] = []
                scan: list[float] = []
                for _ in range(rounds):
                    now.append(await timed(values_in_use(graph, viewer, field, after="", limit=PAGE)))
                    scan.append(await timed(graph.read(before, params)))
                results[f"{field} ({who})"] = {
                    "terms_ms": median_ms(now),
                    "scan_ms": median_ms(scan),
                    "speedup": round(median_ms(scan) / max(median_ms(now), 0.001), 2),
                    "values": len(now_values),
                }
                line = results[f"{field} ({who})"]
                print(
                    f"{field:12} {who:5} terms {line['terms_ms']:8.2f} ms  scan {line['scan_ms']:8.2f} ms  "
                    f"x{line['speedup']:.2f} faster  ({len(now_values)} values)"
                )
    finally:
        for firm in FIRMS:
            await remove_firm(graph, firm)
        await driver.close()
    return {
        "events_per_firm": count,
        "firms": len(FIRMS),
        "rounds": rounds,
        "seed_s": round(seeded, 1),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "lists": results,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=3_000, help="events captured by each of the two firms")
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    figures = asyncio.run(run(args.events, args.rounds))
    print(f"{write_result('epcis_vocabularies', figures)}")


if __name__ == "__main__":
    main()
