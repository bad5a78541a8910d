"""FSMA 204 export of a downstream trace of a raw (farm) lot: the hub's HTTP export against the raw Cypher baseline.

Picks random lots harvested at FARM sites (fixed seed) and, for each, downloads the export the way a recall
coordinator's tool does (HTTP, token, permission decision, rows streamed from the driver into a CSV or XLSX
file, access log, file sent), and runs the export's Cypher alone through the Python driver with the same
parameters, fetching every row. Reports medians and the ratio, and writes bench/results/fsma204_export.json.
Run after `hub seed` (`make bench` on the large seed).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import time
from typing import Any

import httpx
from neo4j import AsyncDriver, RoutingControl

from auth.principal import Role
from bench.common import free_port, median_ms, open_driver, p90_ms, serve, write_result
from graph_schema.access import Viewer
from graph_schema.fsma204 import export_query
from graph_schema.model import TraceDirection
from hub.app import open_issuer
from hub.settings import Settings

FORMATS = ("csv", "xlsx")
RAW_LOTS = """
MATCH (s:Site {kind: 'FARM'})
MATCH (l:Lot {siteGln: s.gln})
WHERE NOT EXISTS { (l)<-[:PRODUCED]-() }
RETURN l.id AS id, l.ownerFirmId AS firm
ORDER BY id
"""


async def sample_raw_lots(driver: AsyncDriver, count: int, seed: int) -> list[tuple[str, str]]:
    """``count`` lots harvested at farms (not made by a transformation), picked at random, with their owners."""
    records = (await driver.execute_query(RAW_LOTS, routing_=RoutingControl.READ)).records
    if not records:
        raise RuntimeError("the graph has no lots harvested at a FARM site: seed it first (hub seed)")
    rng = random.Random(seed)
    return [(r["id"], r["firm"]) for r in (rng.choice(records) for _ in range(count))]


async def raw_cypher(driver: AsyncDriver, settings: Settings, lot: tuple[str, str]) -> tuple[float, int]:
    """The export query alone, every row fetched, with the owner's visibility parameters: seconds and rows."""
    lot_id, firm = lot
    params = {"lotId": lot_id, "lang": "en", **Viewer(firm_id=firm, detail_firm_ids=frozenset({firm})).params()}
    started = time.perf_counter()
    records, _, _ = await driver.execute_query(
        export_query(TraceDirection.DOWNSTREAM, 25),
        params,
        database_=settings.neo4j_database,
        routing_=RoutingControl.READ,
    )
    return time.perf_counter() - started, len(records)


async def through_hub(
    client: httpx.AsyncClient, settings: Settings, lot: tuple[str, str], fmt: str
) -> tuple[float, int]:
    """The same export downloaded over HTTP by a viewer of the lot's owner: seconds and bytes."""
    lot_id, firm = lot
    token = open_issuer(settings).mint(subject="bench", firm_id=firm, roles=[Role.VIEWER])
    params = {"lot": lot_id, "direction": "downstream", "format": fmt}
    started = time.perf_counter()
    response = await client.get("/exports/fsma204", params=params, headers={"Authorization": f"Bearer {token}"})
    elapsed = time.perf_counter() - started
    if response.status_code != 200:
        raise RuntimeError(f"export of {lot_id} failed: {response.status_code} {response.text}")
    return elapsed, len(response.content)


async def measure(base_url: str, settings: Settings, lots: list[tuple[str, str]]) -> dict[str, Any]:
    """Each lot's raw query and its exports in turn, so the machine's noise falls on every variant alike."""
    raw: dict[str, list[float]] = {"timings": [], "rows": []}
    hub: dict[str, dict[str, list[float]]] = {fmt: {"timings": [], "bytes": []} for fmt in FORMATS}
    async with open_driver(settings) as driver, httpx.AsyncClient(base_url=base_url, timeout=300) as client:
        for lot in lots[:5]:  # warm the page cache, the query plans and the connections
            await raw_cypher(driver, settings, lot)
            for fmt in FORMATS:
                await through_hub(client, settings, lot, fmt)
        for lot in lots:
            seconds, rows = await raw_cypher(driver, settings, lot)
            raw["timings"].append(seconds)
            raw["rows"].append(rows)
            for fmt in FORMATS:
                seconds, size = await through_hub(client, settings, lot, fmt)
                hub[fmt]["timings"].append(seconds)
                hub[fmt]["bytes"].append(size)
    return {"raw": raw, "hub": hub}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lots", type=int, default=30)
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    settings = Settings(port=free_port())

    async def pick() -> list[tuple[str, str]]:
        async with open_driver(settings) as driver:
            return await sample_raw_lots(driver, args.lots, args.seed)

    lots = asyncio.run(pick())
    with serve(settings) as base_url:
        measured = asyncio.run(measure(base_url, settings, lots))
    raw, hub = measured["raw"], measured["hub"]
    raw_median = statistics.median(raw["timings"])
    figures: dict[str, Any] = {
        "lots_sampled": len(lots),
        "direction": "DOWNSTREAM",
        "caller": "a viewer of the lot's owner (others' records redacted)",
        "rows_median": statistics.median(raw["rows"]),
        "rows_max": max(raw["rows"]),
        "raw_cypher_median_ms": median_ms(raw["timings"]),
        "raw_cypher_max_ms": round(max(raw["timings"]) * 1000, 3),
        "formats": {
            fmt: {
                "hub_http_median_ms": median_ms(hub[fmt]["timings"]),
                "hub_http_p90_ms": p90_ms(hub[fmt]["timings"]),
                "hub_http_max_ms": round(max(hub[fmt]["timings"]) * 1000, 3),
                "ratio_hub_to_raw_median": round(statistics.median(hub[fmt]["timings"]) / raw_median, 2),
                "bytes_median": statistics.median(hub[fmt]["bytes"]),
            }
            for fmt in FORMATS
        },
    }
    path = write_result("fsma204_export", figures)
    print(json.dumps(figures, indent=2))
    print(f"written to {path}")


if __name__ == "__main__":
    main()
