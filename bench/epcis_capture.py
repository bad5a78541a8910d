"""EPCIS capture throughput: events per second for one document, with and without validation.

A firm of its own (created for the run and removed afterwards) captures a document of N events: half
commissioning ObjectEvents (one lot each), half shipping ObjectEvents of those lots to a second site. Four
figures, each on fresh lots so that idempotency never short-cuts the work:
- validate: reading (ijson) and validating the document, no database;
- capture: the whole pipeline from the file (read, validate, check, write) in one transaction;
- capture, pre-validated: the same events validated beforehand, so only the graph work is timed;
- baseline: the same lots and shipments written straight through the write functions (lots_step and
  shipments_step in one transaction), the floor an EPCIS capture is measured against.
Beside each timed figure, the CPU it took per event: of this process (reading, validating, the capture's Python
and the driver) and of the Neo4j server when it is the project's local one (its pid file under the state dir), so
that what limits a figure is measured: the server's work, the client's, or neither (waiting on the network and on
the machine's other processes). Writes bench/results/epcis_capture.json. Needs a running Neo4j (`hub neo4j start`).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from bench.common import open_driver, remove_firm, write_result
from graph_schema import parties
from graph_schema.db import Graph, checked_write_all
from graph_schema.epcis.capture import EventSource, capture
from graph_schema.epcis.document import DocumentReader
from graph_schema.epcis.model import EpcisEvent, EventError
from graph_schema.epcis.reading import document_source
from graph_schema.epcis.validation import validate_event
from graph_schema.identifiers import gs1_check_digit, lgtin_for
from graph_schema.lots import lots_step, shipments_step
from graph_schema.records import FirmRecord, LotQuantity, LotRecord, ProductRecord, ShipmentRecord, SiteRecord
from hub.settings import Settings

FIRM = "bench-epcis"
CONTEXT = ["https://ref.gs1.org/standards/epcis/epcis-context.jsonld"]


class CpuMeter:
    """CPU seconds of this process and of the local Neo4j server (None when it is not a local process)."""

    def __init__(self, settings: Settings) -> None:
        pid_file = Path(settings.neo4j_home) / "run" / "neo4j.pid"
        self.server_pid = int(pid_file.read_text().strip()) if pid_file.exists() else None

    def client(self) -> float:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime

    def server(self) -> float | None:
        if self.server_pid is None:
            return None
        try:
            fields = Path(f"/proc/{self.server_pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Timed:
    """Wall time and CPU (client, server) of one phase, written into ``figures`` as ``<key>_s`` and, per event,
    ``<key>_client_cpu_ms_per_event`` and ``<key>_server_cpu_ms_per_event``."""

    def __init__(self, meter: CpuMeter, figures: dict[str, Any], key: str, count: int) -> None:
        self.meter, self.figures, self.key, self.count = meter, figures, key, count

    def __enter__(self) -> Timed:
        self.started, self.client, self.server = time.perf_counter(), self.meter.client(), self.meter.server()
        return self

    def __exit__(self, *_: object) -> None:
        self.figures[f"{self.key}_s"] = time.perf_counter() - self.started
        self.figures[f"{self.key}_client_cpu_ms_per_event"] = round(
            1000 * (self.meter.client() - self.client) / self.count, 3
        )
        server = self.meter.server()
        if server is not None and self.server is not None:
            self.figures[f"{self.key}_server_cpu_ms_per_event"] = round(1000 * (server - self.server) / self.count, 3)


def _gln(n: int) -> str:
    body = f"990000{n:06d}"
    return body + str(gs1_check_digit(body))


SITE_A, SITE_B = _gln(1), _gln(2)
GTIN = "0" + "9900000" + "00001"
GTIN = GTIN + str(gs1_check_digit(GTIN))


def sgln(gln: str) -> str:
    return f"urn:epc:id:sgln:{gln[:7]}.{gln[7:12]}.0"


def events(count: int, tag: str) -> Iterator[dict[str, Any]]:
    """``count`` events: commissioning and shipping of count/2 lots."""
    base = {"eventTimeZoneOffset": "+09:00", "readPoint": {"id": sgln(SITE_A)}, "bizLocation": {"id": sgln(SITE_A)}}
    for i in range(count // 2):
        lot = lgtin_for(GTIN, f"{tag}{i}")
        yield {
            "type": "ObjectEvent",
            "eventTime": "2026-11-01T08:00:00+09:00",
            "action": "ADD",
            "bizStep": "commissioning",
            "quantityList": [{"epcClass": lot, "quantity": 10, "uom": "KGM"}],
            **base,
        }
        yield {
            "type": "ObjectEvent",
            "eventTime": "2026-11-01T10:00:00+09:00",
            "action": "OBSERVE",
            "bizStep": "shipping",
            "quantityList": [{"epcClass": lot, "quantity": 10, "uom": "KGM"}],
            "sourceList": [{"type": "location", "source": sgln(SITE_A)}],
            "destinationList": [{"type": "location", "destination": sgln(SITE_B)}],
            **base,
        }


def document_file(count: int, tag: str, folder: Path) -> Path:
    """The document written event by event, so that building it never holds it in memory."""
    path = folder / f"{tag}.jsonld"
    header = {
        "@context": CONTEXT,
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2026-11-01T00:00:00Z",
    }
    with path.open("wb") as out:
        out.write(orjson.dumps(header)[:-1] + b',"epcisBody":{"eventList":[')
        for i, event in enumerate(events(count, tag)):
            out.write((b"," if i else b"") + orjson.dumps(event))
        out.write(b"]}}")
    return path


async def prepare(graph: Graph) -> None:
    await parties.upsert_firms(graph, [FirmRecord(id=FIRM, name="Benchmark firm", roles=["PLANT"])])
    await parties.upsert_sites(
        graph,
        [
            SiteRecord(gln=SITE_A, firm_id=FIRM, name="Bench plant", kind="PLANT"),
            SiteRecord(gln=SITE_B, firm_id=FIRM, name="Bench warehouse", kind="WAREHOUSE"),
        ],
    )
    await parties.upsert_products(
        graph, [ProductRecord(gtin=GTIN, owner_firm_id=FIRM, name="Bench product", category="bench", uom="kg")]
    )


async def clean_up(graph: Graph) -> None:
    await remove_firm(graph, FIRM)


def validate_only(path: Path) -> int:
    with path.open("rb") as stream:
        reader = DocumentReader(stream)
        return sum(
            1 for index, raw in reader.events() if not isinstance(validate_event(raw, index=index, namespaces={}), list)
        )


async def timed_capture(graph: Graph, source: EventSource, *, count: int, batch_size: int) -> None:
    """Capture ``source`` as the bench firm; every event must be captured."""
    outcome = await capture(
        graph,
        source,
        firm_id=FIRM,
        capture_id="bench",
        proceed=False,
        placeholders=False,
        record_time=_now(),
        batch_size=batch_size,
    )
    if not outcome.committed or outcome.captured != count:
        raise RuntimeError(f"the capture did not go through: {outcome.errors[:3]}")


async def capture_only(count: int) -> dict[str, Any]:
    """Only the capture of one document from a file, for the hub process's peak memory on large documents."""
    settings = Settings()
    driver = open_driver(settings)
    graph = Graph(driver, database=settings.neo4j_database)
    figures: dict[str, Any] = {"events": count, "mode": "capture only"}
    try:
        await clean_up(graph)
        await prepare(graph)
        with tempfile.TemporaryDirectory() as folder:
            path = document_file(count, "M", Path(folder))
            figures["document_mb"] = round(path.stat().st_size / 1_048_576, 1)
            before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            started = time.perf_counter()
            await timed_capture(graph, document_source(path), count=count, batch_size=settings.epcis_batch_size)
            figures["capture_s"] = time.perf_counter() - started
    finally:
        await clean_up(graph)
        await driver.close()
    figures["capture_events_per_s"] = round(count / figures["capture_s"], 1)
    figures["rss_before_capture_mb"] = round(before, 1)
    figures["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return figures


async def run(count: int) -> dict[str, Any]:
    settings = Settings()
    driver = open_driver(settings)
    graph = Graph(driver, database=settings.neo4j_database)
    figures: dict[str, Any] = {"events": count, "load_average_start": round(os.getloadavg()[0], 2)}
    meter = CpuMeter(settings)
    try:
        await clean_up(graph)
        await prepare(graph)
        with tempfile.TemporaryDirectory() as folder:
            path = document_file(count, "V", Path(folder))
            with Timed(meter, figures, "validate", count):
                valid = validate_only(path)
            if valid != count:
                raise RuntimeError(f"{count - valid} events of the benchmark document are invalid")

            path = document_file(count, "C", Path(folder))
            with Timed(meter, figures, "capture", count):
                await timed_capture(graph, document_source(path), count=count, batch_size=settings.epcis_batch_size)

            prevalidated = [validate_event(raw, index=i, namespaces={}) for i, raw in enumerate(events(count, "P"))]
            # the baseline writes the same graph records, built from the same kind of events

            def source() -> Iterator[tuple[int, EpcisEvent | list[EventError]]]:
                yield from enumerate(prevalidated)

            with Timed(meter, figures, "capture_prevalidated", count):
                await timed_capture(graph, source, count=count, batch_size=settings.epcis_batch_size)

            lots = [
                LotRecord(
                    id=lgtin_for(GTIN, f"B{i}"),
                    owner_firm_id=FIRM,
                    site_gln=SITE_A,
                    quantity=10,
                    uom="KGM",
                    produced_at=_now(),
                )
                for i in range(count // 2)
            ]
            shipments = [
                ShipmentRecord(
                    id=f"bench-{i}",
                    from_gln=SITE_A,
                    to_gln=SITE_B,
                    shipped_at=_now(),
                    items=[LotQuantity(lot_id=lot.id, quantity=10, uom="KGM")],
                )
                for i, lot in enumerate(lots)
            ]
            with Timed(meter, figures, "baseline_direct_writes", count):
                batch = settings.epcis_batch_size // 2
                for start in range(0, len(lots), batch):
                    await checked_write_all(
                        graph,
                        [
                            lots_step(lots[start : start + batch], where=str),
                            shipments_step(shipments[start : start + batch], shipper_firm_id=FIRM, where=str),
                        ],
                    )
    finally:
        await clean_up(graph)
        await driver.close()
    for key in ("validate", "capture", "capture_prevalidated", "baseline_direct_writes"):
        figures[f"{key}_events_per_s"] = round(count / figures[f"{key}_s"], 1)
    figures["capture_vs_baseline"] = round(figures["capture_s"] / figures["baseline_direct_writes_s"], 2)
    figures["capture_prevalidated_vs_baseline"] = round(
        figures["capture_prevalidated_s"] / figures["baseline_direct_writes_s"], 2
    )
    figures["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    figures["load_average_end"] = round(os.getloadavg()[0], 2)
    return figures


def _now() -> datetime:
    return datetime.now(UTC)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--capture-only", action="store_true", help="only the capture from a file (peak memory)")
    args = parser.parse_args()
    figures = asyncio.run(capture_only(args.events) if args.capture_only else run(args.events))
    for key, value in figures.items():
        print(f"{key:40} {value}")
    suffix = "_capture_only" if args.capture_only else ""
    print(write_result(f"epcis_capture_{args.events}{suffix}", figures))


if __name__ == "__main__":
    main()
