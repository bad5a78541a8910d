"""EPCIS XML capture against JSON-LD capture of the same events, and the XML reader's memory on a large document.

The events are bench/epcis_capture.py's (commissioning and shipping of N/2 lots at a firm of its own, created for
the run and removed afterwards), written once as an EPCIS 2.0 JSON-LD document and once as an EPCIS 2.0 XML
document (graph_schema.epcis.rendering, the writer of the hub's XML answers), each on fresh lots so idempotency
never short-cuts the work. Measured in the same run:
- read: reading and validating each document, no database (events/s), XML against JSON;
- capture: the whole capture pipeline from each file (read, validate, check, write), XML against JSON: the target
  is XML within 1.5x of JSON's time;
- both for XML with the GS1 XSD check the hub makes (the figures named xml) and without it (xml_no_xsd);
- memory: a document of --memory-events events (100,000 by default) read, checked against the XSD and validated as
  XML in a process of its own: its peak resident memory against the same process before reading.
Writes bench/results/epcis_xml_capture.json. Needs a running Neo4j (`hub neo4j start`, on your own port).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson
from lxml import etree

from bench.common import open_driver, write_result
from bench.epcis_capture import CONTEXT, clean_up, document_file, events, prepare, timed_capture
from graph_schema.db import Graph
from graph_schema.epcis.document import DocumentReader
from graph_schema.epcis.reading import document_source
from graph_schema.epcis.rendering import write_event
from graph_schema.epcis.validation import validate_event
from graph_schema.epcis.xml_reading import EPCIS_2_NS, xml_document_source
from hub.epcis_xsd import epcis_xml_schemas
from hub.settings import Settings


def xml_document_file(count: int, tag: str, folder: Path) -> Path:
    """The same events as ``document_file`` in the XML binding, written event by event."""
    path = folder / f"{tag}.xml"
    with path.open("wb") as out:
        out.write(
            f'<?xml version="1.0" encoding="UTF-8"?>\n<epcis:EPCISDocument xmlns:epcis="{EPCIS_2_NS}"'
            ' schemaVersion="2.0" creationDate="2026-11-01T00:00:00Z"><EPCISBody><EventList>'.encode()
        )
        holder = etree.Element("EventList")
        for event in events(count, tag):
            write_event(holder, {"@context": CONTEXT, **event})
            out.write(etree.tostring(holder[0]))
            del holder[0]
        out.write(b"</EventList></EPCISBody></epcis:EPCISDocument>")
    return path


def read_json(path: Path) -> int:
    with path.open("rb") as stream:
        reader = DocumentReader(stream)
        return sum(
            1 for index, raw in reader.events() if not isinstance(validate_event(raw, index=index, namespaces={}), list)
        )


def read_xml(path: Path) -> int:
    schemas = epcis_xml_schemas(Settings())
    return sum(1 for _, event in xml_document_source(path, schemas=schemas)() if not isinstance(event, list))


def read_xml_no_xsd(path: Path) -> int:
    return sum(1 for _, event in xml_document_source(path, schemas=None)() if not isinstance(event, list))


def timed(function: Any, path: Path, count: int) -> float:
    started = time.perf_counter()
    valid = function(path)
    elapsed = time.perf_counter() - started
    if valid != count:
        raise RuntimeError(f"{count - valid} events of {path.name} are invalid")
    return elapsed


def memory(count: int, folder: Path) -> dict[str, Any]:
    """Peak RSS of a process reading and validating an XML document of ``count`` events."""
    path = xml_document_file(count, "M", folder)
    script = (
        "import resource, sys, time\n"
        "from pathlib import Path\n"
        "from graph_schema.epcis.xml_reading import xml_document_source\n"
        "from hub.epcis_xsd import epcis_xml_schemas\n"
        "from hub.settings import Settings\n"
        "schemas = epcis_xml_schemas(Settings())\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "started = time.perf_counter()\n"
        "n = sum(1 for _, e in xml_document_source(Path(sys.argv[1]), schemas=schemas)() if not isinstance(e, list))\n"
        "print(n, before, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, time.perf_counter() - started)\n"
    )
    done = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True, text=True, check=True)
    valid, before, peak, seconds = done.stdout.split()
    if int(valid) != count:
        raise RuntimeError(f"{count - int(valid)} events of the memory document are invalid")
    return {
        "memory_events": count,
        "memory_document_mb": round(path.stat().st_size / 1_048_576, 1),
        "memory_rss_before_mb": round(int(before) / 1024, 1),
        "memory_peak_rss_mb": round(int(peak) / 1024, 1),
        "memory_read_s": round(float(seconds), 2),
        "memory_read_events_per_s": round(count / float(seconds), 1),
    }


async def run(count: int, memory_events: int) -> dict[str, Any]:
    settings = Settings()
    driver = open_driver(settings)
    graph = Graph(driver, database=settings.neo4j_database)
    figures: dict[str, Any] = {"events": count}
    try:
        await clean_up(graph)
        await prepare(graph)
        with tempfile.TemporaryDirectory() as folder:
            here = Path(folder)
            json_path, xml_path = document_file(count, "RJ", here), xml_document_file(count, "RX", here)
            figures["json_document_mb"] = round(json_path.stat().st_size / 1_048_576, 2)
            figures["xml_document_mb"] = round(xml_path.stat().st_size / 1_048_576, 2)
            figures["read_json_s"] = timed(read_json, json_path, count)
            figures["read_xml_s"] = timed(read_xml, xml_path, count)
            figures["read_xml_no_xsd_s"] = timed(read_xml_no_xsd, xml_path, count)

            json_path, xml_path = document_file(count, "CJ", here), xml_document_file(count, "CX", here)
            plain_path = xml_document_file(count, "CN", here)
            started = time.perf_counter()
            await timed_capture(graph, document_source(json_path), count=count, batch_size=settings.epcis_batch_size)
            figures["capture_json_s"] = time.perf_counter() - started
            started = time.perf_counter()
            schemas = epcis_xml_schemas(settings)
            source = xml_document_source(xml_path, schemas=schemas)
            await timed_capture(graph, source, count=count, batch_size=settings.epcis_batch_size)
            figures["capture_xml_s"] = time.perf_counter() - started
            started = time.perf_counter()
            source = xml_document_source(plain_path, schemas=None)
            await timed_capture(graph, source, count=count, batch_size=settings.epcis_batch_size)
            figures["capture_xml_no_xsd_s"] = time.perf_counter() - started
            if memory_events:
                figures.update(memory(memory_events, here))
    finally:
        await clean_up(graph)
        await driver.close()
    for key in ("read_json", "read_xml", "read_xml_no_xsd", "capture_json", "capture_xml", "capture_xml_no_xsd"):
        figures[f"{key}_events_per_s"] = round(count / figures[f"{key}_s"], 1)
    figures["read_xml_vs_json"] = round(figures["read_xml_s"] / figures["read_json_s"], 2)
    figures["read_xml_no_xsd_vs_json"] = round(figures["read_xml_no_xsd_s"] / figures["read_json_s"], 2)
    figures["capture_xml_vs_json"] = round(figures["capture_xml_s"] / figures["capture_json_s"], 2)
    figures["capture_xml_no_xsd_vs_json"] = round(figures["capture_xml_no_xsd_s"] / figures["capture_json_s"], 2)
    figures["load_average"] = [round(value, 2) for value in os.getloadavg()]
    figures["capture_target_met"] = figures["capture_xml_vs_json"] <= 1.5
    figures["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--memory-events", type=int, default=100_000, help="0 to skip the memory figure")
    args = parser.parse_args()
    figures = asyncio.run(run(args.events, args.memory_events))
    for key, value in figures.items():
        print(f"{key:40} {value}")
    print(write_result("epcis_xml_capture", figures))
    print(orjson.dumps({"capture_xml_vs_json": figures["capture_xml_vs_json"]}).decode())


if __name__ == "__main__":
    main()
