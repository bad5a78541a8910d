"""Recall latency on a seeded graph: declareRecall and mockRecall over HTTP against the bare downstream trace.

Picks random lots (fixed seed) and, for each, as a recall coordinator of the lot's owner: runs mockRecall
(read-only: trace up and down, impact, FSMA 204 readiness), then declareRecall (the same trace written as the
recall's AFFECTS with holds, answered with the recall's impact), then closeRecall (not timed; it releases the
holds, so every lot starts from the same statuses). The baseline is the bare downstream trace Cypher of the
same lot through the driver. Writes bench/results/recall_latency.json. Run after `hub seed --scale demo`
(or pass --load-demo to seed an empty graph).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from typing import Any

import httpx
from neo4j import RoutingControl

from auth.principal import Role
from bench.common import free_port, median_ms, open_driver, p90_ms, sample_lots, serve, write_result
from graph_schema.access import Viewer
from graph_schema.db import Graph
from graph_schema.model import TraceDirection
from graph_schema.trace import trace_query
from hub.app import open_issuer
from hub.settings import Settings
from seed.demo import build_demo
from seed.loader import graph_is_empty, load_cluster

IMPACT = """impact { lotCount hiddenLotCount firmCount siteCount channelCount
  quantities { productGtin uom quantity } inStock { productGtin uom quantity } }"""
MOCK = (
    """mutation($lots: [ID!]!) { mockRecall(input: {lotIds: $lots, reason: "bench drill", recallClass: II}) {
  affectedLotCount totalMillis steps { name millis } """
    + IMPACT
    + " exportReadiness { eventCount incompleteEventCount } } }"
)
DECLARE = (
    """mutation($lots: [ID!]!) { declareRecall(input: {lotIds: $lots, reason: "bench", recallClass: II}) {
  id affectedLotCount heldLotCount """
    + IMPACT
    + " } }"
)
CLOSE = "mutation($id: ID!) { closeRecall(id: $id) { status } }"


async def raw_trace(settings: Settings, lots: list[tuple[str, str]]) -> list[float]:
    """The bare downstream trace of each lot with its owner's visibility."""
    timings: list[float] = []
    async with open_driver(settings) as driver:
        for lot_id, firm in lots:
            params = {"lotId": lot_id, **Viewer(firm_id=firm, detail_firm_ids=frozenset({firm})).params()}
            started = time.perf_counter()
            await driver.execute_query(
                trace_query(TraceDirection.DOWNSTREAM, 25),
                params,
                database_=settings.neo4j_database,
                routing_=RoutingControl.READ,
            )
            timings.append(time.perf_counter() - started)
    return timings


async def _post(client: httpx.AsyncClient, token: str, query: str, variables: dict[str, Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    response = await client.post(
        "/graphql", json={"query": query, "variables": variables}, headers={"Authorization": f"Bearer {token}"}
    )
    elapsed = time.perf_counter() - started
    answer = response.json()
    if answer.get("errors"):
        raise RuntimeError(f"{query.split('(')[0]} failed: {answer['errors']}")
    return elapsed, answer["data"]


async def through_hub(base_url: str, settings: Settings, lots: list[tuple[str, str]]) -> dict[str, Any]:
    """mockRecall, then declareRecall and closeRecall, for each lot, as its owner's recall coordinator."""
    issuer = open_issuer(settings)
    out: dict[str, Any] = {"mock": [], "declare": [], "mock_internal_ms": [], "steps": {}, "affected": []}
    async with httpx.AsyncClient(base_url=base_url, timeout=120) as client:
        for lot_id, firm in lots:
            token = issuer.mint(subject="bench", firm_id=firm, roles=[Role.RECALL_COORDINATOR])
            elapsed, data = await _post(client, token, MOCK, {"lots": [lot_id]})
            out["mock"].append(elapsed)
            out["mock_internal_ms"].append(data["mockRecall"]["totalMillis"])
            for step in data["mockRecall"]["steps"]:
                out["steps"].setdefault(step["name"], []).append(step["millis"])
            elapsed, data = await _post(client, token, DECLARE, {"lots": [lot_id]})
            out["declare"].append(elapsed)
            out["affected"].append(data["declareRecall"]["affectedLotCount"])
            await _post(client, token, CLOSE, {"id": data["declareRecall"]["id"]})
    return out


async def prepare(settings: Settings, *, count: int, seed: int, load_demo: bool) -> list[tuple[str, str]]:
    """Seed the demo into an empty graph when asked, then pick the lots."""
    async with open_driver(settings) as driver:
        graph = Graph(driver, database=settings.neo4j_database)
        if load_demo and await graph_is_empty(graph):
            await load_cluster(graph, build_demo(seed))
        return await sample_lots(driver, count, seed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lots", type=int, default=40)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--load-demo", action="store_true", help="seed the demo cluster if the graph is empty")
    args = parser.parse_args()
    settings = Settings(port=free_port())
    lots = asyncio.run(prepare(settings, count=args.lots, seed=args.seed, load_demo=args.load_demo))
    with serve(settings) as base_url:
        asyncio.run(raw_trace(settings, lots[:5]))  # warm the page cache and the query plans
        asyncio.run(through_hub(base_url, settings, lots[:5]))
        raw = asyncio.run(raw_trace(settings, lots))
        hub = asyncio.run(through_hub(base_url, settings, lots))
    baseline = statistics.median(raw)
    figures = {
        "lots_sampled": len(lots),
        "raw_downstream_trace_median_ms": median_ms(raw),
        "declare_recall_http_median_ms": median_ms(hub["declare"]),
        "declare_recall_http_p90_ms": p90_ms(hub["declare"]),
        "ratio_declare_to_raw_trace_median": round(statistics.median(hub["declare"]) / baseline, 2),
        "mock_recall_http_median_ms": median_ms(hub["mock"]),
        "mock_recall_http_p90_ms": p90_ms(hub["mock"]),
        "ratio_mock_to_raw_trace_median": round(statistics.median(hub["mock"]) / baseline, 2),
        "mock_recall_reported_total_median_ms": round(statistics.median(hub["mock_internal_ms"]), 3),
        "mock_recall_step_median_ms": {k: round(statistics.median(v), 3) for k, v in hub["steps"].items()},
        "affected_lots_median": statistics.median(hub["affected"]),
        "affected_lots_max": max(hub["affected"]),
    }
    path = write_result("recall_latency", figures)
    print(json.dumps(figures, indent=2))
    print(f"written to {path}")


if __name__ == "__main__":
    main()
