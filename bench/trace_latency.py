"""First trace latency on the seeded graph: the hub's GraphQL over HTTP against the raw Cypher baseline.

Picks random lots (fixed seed), and for each runs the trace upstream and downstream twice: once as the
GraphQL request a partner app sends (HTTP, token, permission decision, redaction, JSON), once as the bare
trace Cypher through the Python driver with the same parameters. Reports medians and the ratio, and
writes bench/results/trace_latency.json. Run after `hub seed --scale large` (`make bench`).

The hub runs as `hub serve` does, in a process of its own (`--in-process` serves it from a thread of this
one, where it shares the interpreter with the client). The baseline is the strictest floor: the query as an
auto-commit transaction (one round trip), its records as the driver decodes them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from neo4j import READ_ACCESS

from auth.principal import Role
from bench.common import free_port, median_ms, open_driver, p90_ms, running, sample_lots, serve, write_result
from graph_schema.access import Viewer
from graph_schema.model import TraceDirection
from graph_schema.trace import trace_query
from hub.app import open_issuer
from hub.settings import Settings

QUERY = """query($id: ID!, $dir: TraceDirection!) { trace(lotId: $id, direction: $dir) {
  lots { id depth redacted ownerRole lot { id lotNumber quantity uom status } }
  shipments { id lotId redacted quantity shippedAt receivedAt }
  summary { lotCount redactedCount firmCount siteCount } } }"""


async def measure(base_url: str, settings: Settings, lots: list[tuple[str, str]], rounds: int) -> dict[str, Any]:
    """Every trace as the bare Cypher through the driver (the owner's visibility parameters) and as the GraphQL
    request a partner app of the owner sends, in passes over all the lots: one pass of each to warm the page
    cache and the plans, then ``rounds`` rounds of one pass of each, alternating which goes first. Each pass runs
    its requests back to back: interleaving the two kinds slowed the bare query from about 1.6 to 3 ms here."""
    issuer = open_issuer(settings)
    tokens = {firm: f"Bearer {issuer.mint(subject='bench', firm_id=firm, roles=[Role.VIEWER])}" for _, firm in lots}
    raw: dict[str, list[float]] = {d.value: [] for d in TraceDirection}
    hub: dict[str, list[float]] = {d.value: [] for d in TraceDirection}
    sizes: dict[str, list[int]] = {d.value: [] for d in TraceDirection}
    async with open_driver(settings) as driver, httpx.AsyncClient(base_url=base_url, timeout=60) as client:

        async def bare_pass(keep: bool) -> None:
            for lot_id, firm in lots:
                params = {"lotId": lot_id, **Viewer(firm_id=firm, detail_firm_ids=frozenset({firm})).params()}
                for direction in TraceDirection:
                    started = time.perf_counter()
                    async with driver.session(database=settings.neo4j_database, default_access_mode=READ_ACCESS) as s:
                        result = await s.run(trace_query(direction, 25), params)
                        [record async for record in result]
                    if keep:
                        raw[direction.value].append(time.perf_counter() - started)

        async def graphql_pass(keep: bool) -> None:
            for lot_id, firm in lots:
                for direction in TraceDirection:
                    body = {"query": QUERY, "variables": {"id": lot_id, "dir": direction.value}}
                    started = time.perf_counter()
                    response = await client.post("/graphql", json=body, headers={"Authorization": tokens[firm]})
                    elapsed = time.perf_counter() - started
                    answer = response.json()
                    if "errors" in answer:
                        raise RuntimeError(f"trace of {lot_id} failed: {answer['errors']}")
                    if keep:
                        hub[direction.value].append(elapsed)
                        sizes[direction.value].append(answer["data"]["trace"]["summary"]["lotCount"])

        await bare_pass(keep=False)
        await graphql_pass(keep=False)
        for round_ in range(rounds):
            for run in (bare_pass, graphql_pass) if round_ % 2 == 0 else (graphql_pass, bare_pass):
                await run(True)
    return {"raw": raw, "hub": hub, "sizes": sizes}


@contextmanager
def hub_process(settings: Settings) -> Iterator[str]:
    """`hub serve` on the settings' port, stopped at the end; yields its base URL."""
    url = f"http://127.0.0.1:{settings.port}"
    env = {**os.environ, "HUB_PORT": str(settings.port), "HUB_GRAPHIQL": "false"}
    cmd = [str(Path(sys.executable).parent / "hub"), "serve", "--port", str(settings.port)]
    log = settings.state_dir / "bench-trace-latency-hub.log"
    with running("hub", cmd, env, f"{url}/readyz", url, log):
        yield url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lots", type=int, default=100)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds of one pass of each kind")
    parser.add_argument("--in-process", action="store_true", help="serve the hub from a thread of this process")
    args = parser.parse_args()
    settings = Settings(port=free_port())

    async def pick() -> list[tuple[str, str]]:
        async with open_driver(settings) as driver:
            return await sample_lots(driver, args.lots, args.seed)

    lots = asyncio.run(pick())
    with serve(settings) if args.in_process else hub_process(settings) as base_url:
        measured = asyncio.run(measure(base_url, settings, lots, args.rounds))
    raw, hub, sizes = measured["raw"], measured["hub"], measured["sizes"]
    directions = {}
    for direction in TraceDirection:
        key = direction.value
        directions[key] = {
            "hub_graphql_http_median_ms": median_ms(hub[key]),
            "hub_graphql_http_p90_ms": p90_ms(hub[key]),
            "raw_cypher_median_ms": median_ms(raw[key]),
            "ratio_hub_to_raw_median": round(statistics.median(hub[key]) / statistics.median(raw[key]), 2),
            "lots_reached_median": statistics.median(sizes[key]),
            "lots_reached_max": max(sizes[key]),
        }
    server = "in-process thread" if args.in_process else "hub serve (a process of its own, 1 worker)"
    report = {
        "lots_sampled": len(lots),
        "hub_server": server,
        "decision_cache_seconds": settings.decision_cache_seconds,
        "rounds": args.rounds,
        "method": "passes over every lot, one of each kind to warm up, then alternating rounds of one pass each",
        "baseline": "the trace Cypher as an auto-commit read through the Python driver, records as decoded",
        "directions": directions,
    }
    path = write_result("trace_latency", report)
    print(json.dumps(directions, indent=2))
    print(f"written to {path}")


if __name__ == "__main__":
    main()
