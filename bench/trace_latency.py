"""First trace latency on the seeded graph: the hub's GraphQL over HTTP against the raw Cypher baseline.

Picks random lots (fixed seed), and for each runs the trace upstream and downstream twice: once as the
GraphQL request a partner app sends (HTTP, token, permission filter, redaction, JSON), once as the bare
trace Cypher through the Python driver with the same parameters. Reports medians and the ratio, and
writes bench/results/trace_latency.json. Run after `hub seed --scale large` (or on the demo, with --lots).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import socket
import statistics
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from neo4j import AsyncGraphDatabase, RoutingControl

from auth.principal import Role
from graph_schema.access import Viewer
from graph_schema.model import TraceDirection
from graph_schema.trace import trace_query
from hub.app import create_app, open_issuer
from hub.neo4j_connection import neo4j_connection
from hub.settings import Settings

RESULTS = Path(__file__).resolve().parent / "results"
QUERY = """query($id: ID!, $dir: TraceDirection!) { trace(lotId: $id, direction: $dir) {
  lots { id depth redacted ownerRole lot { id lotNumber quantity uom status } }
  shipments { id lotId redacted quantity shippedAt receivedAt }
  summary { lotCount redactedCount firmCount siteCount } } }"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _sample_lots(settings: Settings, count: int, seed: int) -> list[tuple[str, str]]:
    connection = neo4j_connection(settings)
    async with AsyncGraphDatabase.driver(connection.uri, auth=(connection.user, connection.password)) as driver:
        total = (await driver.execute_query("MATCH (l:Lot) RETURN count(l) AS n")).records[0]["n"]
        rng = random.Random(seed)
        picked: list[tuple[str, str]] = []
        for _ in range(count):
            skip = rng.randrange(total)
            record = (
                await driver.execute_query(
                    "MATCH (l:Lot) WITH l SKIP $skip LIMIT 1 RETURN l.id AS id, l.ownerFirmId AS firm", {"skip": skip}
                )
            ).records[0]
            picked.append((record["id"], record["firm"]))
        return picked


async def _raw(settings: Settings, lots: list[tuple[str, str]]) -> dict[str, list[float]]:
    connection = neo4j_connection(settings)
    timings: dict[str, list[float]] = {d.value: [] for d in TraceDirection}
    async with AsyncGraphDatabase.driver(connection.uri, auth=(connection.user, connection.password)) as driver:
        for lot_id, firm in lots:
            params = {"lotId": lot_id, **Viewer(firm_id=firm, detail_firm_ids=frozenset({firm})).params()}
            for direction in TraceDirection:
                started = time.perf_counter()
                await driver.execute_query(
                    trace_query(direction, 25), params, database_=settings.neo4j_database, routing_=RoutingControl.READ
                )
                timings[direction.value].append(time.perf_counter() - started)
    return timings


async def _hub(base_url: str, settings: Settings, lots: list[tuple[str, str]]) -> dict[str, Any]:
    issuer = open_issuer(settings)
    timings: dict[str, list[float]] = {d.value: [] for d in TraceDirection}
    sizes: dict[str, list[int]] = {d.value: [] for d in TraceDirection}
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
        for lot_id, firm in lots:
            token = issuer.mint(subject="bench", firm_id=firm, roles=[Role.VIEWER])
            for direction in TraceDirection:
                started = time.perf_counter()
                response = await client.post(
                    "/graphql",
                    json={"query": QUERY, "variables": {"id": lot_id, "dir": direction.value}},
                    headers={"Authorization": f"Bearer {token}"},
                )
                timings[direction.value].append(time.perf_counter() - started)
                body = response.json()
                if "errors" in body:
                    raise RuntimeError(f"trace of {lot_id} failed: {body['errors']}")
                sizes[direction.value].append(body["data"]["trace"]["summary"]["lotCount"])
    return {"timings": timings, "sizes": sizes}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lots", type=int, default=100)
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    settings = Settings(port=_free_port())
    lots = asyncio.run(_sample_lots(settings, args.lots, args.seed))
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=settings.port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    try:
        asyncio.run(_raw(settings, lots[:5]))  # warm the page cache and the query plans for both sides
        raw = asyncio.run(_raw(settings, lots))
        hub = asyncio.run(_hub(f"http://127.0.0.1:{settings.port}", settings, lots))
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    report: dict[str, Any] = {
        "benchmark": "trace_latency",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "lots_sampled": len(lots),
        "directions": {},
    }
    for direction in TraceDirection:
        raw_median = statistics.median(raw[direction.value])
        hub_median = statistics.median(hub["timings"][direction.value])
        report["directions"][direction.value] = {
            "hub_graphql_http_median_ms": round(hub_median * 1000, 2),
            "hub_p90_ms": round(statistics.quantiles(hub["timings"][direction.value], n=10)[-1] * 1000, 2),
            "raw_cypher_median_ms": round(raw_median * 1000, 2),
            "ratio_hub_to_raw": round(hub_median / raw_median, 2),
            "lots_reached_median": statistics.median(hub["sizes"][direction.value]),
            "lots_reached_max": max(hub["sizes"][direction.value]),
        }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "trace_latency.json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report["directions"], indent=2))


if __name__ == "__main__":
    main()
