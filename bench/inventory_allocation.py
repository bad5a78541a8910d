"""Inventory reads and bulk-order allocation on the seeded graph, against their bare Cypher in the same run.

inventory: for random (holder, product) pairs with stock, ``inventory(productGtin)`` as the holder's partner
app asks for it (HTTP, token, permission decision, JSON), against the same inventory Cypher through the
driver with the same parameters; likewise the first page without a product filter.
allocation: ``placeBulkOrder`` over HTTP (validation, decision, one write transaction that records the order,
locks the category's capacities, finds the capable plants and writes the shares, then the order read back)
against the candidate-plant query alone through the driver, for the same order.

The seeds declare no production capacity: the benchmark declares one per certified plant and finished-goods
category it has made (its largest lot of that category as the capacity per day) where none is declared, and
at the end removes those, its orders and their shares. Writes bench/results/inventory_allocation.json.
Run after `hub seed --scale large` (`make bench`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import time
from datetime import UTC, datetime, timedelta
from typing import Any, Final, LiteralString

import httpx
from neo4j import AsyncDriver, RoutingControl

from auth.principal import Role
from bench.common import free_port, median_ms, open_driver, p90_ms, serve, write_result
from graph_schema.access import Viewer
from graph_schema.db import Graph
from graph_schema.inventory import LIST_STOCK
from graph_schema.orders import CANDIDATES, OPEN_STATUSES, CapacityRecord, declare_capacity
from hub.app import open_issuer
from hub.settings import Settings

REFERENCE: Final = "bench-inventory-allocation"
INVENTORY: Final = """query($gtin: String) { inventory(productGtin: $gtin, first: 20) {
  edges { node { level productGtin region quantity uom lotId firm { id } site { gln } } } } }"""
PLACE: Final = """mutation($in: BulkOrderInput!) { placeBulkOrder(input: $in) {
  id allocatedQuantity unallocatedQuantity allocations { id quantity reason { summary } } } }"""

HOLDERS: Final = "MATCH ()-[h:HELD_AT]->() WHERE h.quantity > 0 RETURN count(h) AS n"
HOLDER_AT: Final = """
MATCH (l:Lot)-[h:HELD_AT]->() WHERE h.quantity > 0
WITH l, h SKIP $skip LIMIT 1
RETURN h.firmId AS firm, l.productGtin AS gtin
"""

# Certified plants and the finished goods they made (from a sample of their lots), with their largest lot.
PLANTS: Final = """
MATCH (c:Certification)-[:COVERS]->(s:Site {kind: 'PLANT'})
WHERE c.kind IN ['HACCP', 'SMART_HACCP'] AND c.validFrom <= $now AND c.validUntil >= $until
WITH DISTINCT s
CALL (s) {
  MATCH (l:Lot {siteGln: s.gln}) WITH l LIMIT 300
  MATCH (p:Product {gtin: l.productGtin})
  WHERE NOT p.category STARTS WITH 'Raw' AND NOT p.category STARTS WITH 'Intermediate'
  RETURN p.category AS category, p.uom AS uom, max(l.quantity) AS perDay
}
OPTIONAL MATCH (existing:Capacity {id: s.gln + '|' + category})
RETURN s.gln AS gln, s.firmId AS firmId, category, uom, perDay, existing IS NOT NULL AS declared
ORDER BY gln, category
"""
PRODUCTS_OF: Final = """
MATCH (p:Product) WHERE p.category IN $categories AND EXISTS { MATCH (:Lot {productGtin: p.gtin}) }
RETURN p.gtin AS gtin ORDER BY gtin
"""
BUYER: Final = """
MATCH (f:Firm) WHERE 'ANCHOR' IN f.roles
MATCH (s:Site {firmId: f.id})
RETURN f.id AS firm, s.gln AS gln ORDER BY f.id = 'anchor' DESC, s.gln LIMIT 1
"""
REMOVE_ORDERS: Final = """
MATCH (o:BulkOrder {reference: $reference})
OPTIONAL MATCH (o)-[:HAS_ALLOCATION]->(a:Allocation)
DETACH DELETE a, o
"""
REMOVE_CAPACITIES: Final = "UNWIND $ids AS id MATCH (c:Capacity {id: id}) DETACH DELETE c"


async def read(
    driver: AsyncDriver, settings: Settings, query: LiteralString, params: dict[str, Any]
) -> list[dict[str, Any]]:
    records, _, _ = await driver.execute_query(
        query, params, database_=settings.neo4j_database, routing_=RoutingControl.READ
    )
    return [record.data() for record in records]


async def sample_holders(driver: AsyncDriver, settings: Settings, count: int, seed: int) -> list[tuple[str, str]]:
    """``count`` (holder firm, product) pairs picked at random (fixed seed) among the stock rows."""
    total = (await read(driver, settings, HOLDERS, {}))[0]["n"]
    if total == 0:
        raise RuntimeError("the graph holds no stock: seed it first (hub seed --scale demo|large)")
    rng = random.Random(seed)
    picked = []
    for _ in range(count):
        row = (await read(driver, settings, HOLDER_AT, {"skip": rng.randrange(total)}))[0]
        picked.append((row["firm"], row["gtin"]))
    return picked


async def inventory_reads(
    base_url: str, settings: Settings, driver: AsyncDriver, holders: list[tuple[str, str]], *, by_product: bool
) -> dict[str, Any]:
    """The holder's inventory over HTTP and as bare Cypher, alternately, for each sample."""
    issuer = open_issuer(settings)
    hub: list[float] = []
    raw: list[float] = []
    rows: list[int] = []
    async with httpx.AsyncClient(base_url=base_url, timeout=120) as client:
        for index, (firm, gtin) in enumerate(holders):
            product = gtin if by_product else None
            headers = {"Authorization": f"Bearer {issuer.mint(subject='bench', firm_id=firm, roles=[Role.VIEWER])}"}
            params = {
                "productGtin": product,
                "region": None,
                "after": None,
                "limit": 21,
                **Viewer(firm_id=firm, detail_firm_ids=frozenset({firm})).shared_params(),
            }
            for through_hub in (True, False) if index % 2 == 0 else (False, True):
                started = time.perf_counter()
                if through_hub:
                    response = await client.post(
                        "/graphql", json={"query": INVENTORY, "variables": {"gtin": product}}, headers=headers
                    )
                    hub.append(time.perf_counter() - started)
                    answer = response.json()
                    if "errors" in answer:
                        raise RuntimeError(f"inventory of {firm} failed: {answer['errors']}")
                    rows.append(len(answer["data"]["inventory"]["edges"]))
                else:
                    await read(driver, settings, LIST_STOCK, params)
                    raw.append(time.perf_counter() - started)
    return {
        "hub_graphql_http_median_ms": median_ms(hub),
        "hub_graphql_http_p90_ms": p90_ms(hub),
        "raw_cypher_median_ms": median_ms(raw),
        "ratio_hub_to_raw_median": round(statistics.median(hub) / statistics.median(raw), 2),
        "rows_median": statistics.median(rows),
    }


async def declare_capacities(driver: AsyncDriver, settings: Settings, now: datetime) -> tuple[list[str], list[str]]:
    """Capacities for certified plants where none is declared; returns (ids declared here, categories covered)."""
    rows = await read(driver, settings, PLANTS, {"now": now, "until": now + timedelta(days=30)})
    graph = Graph(driver, database=settings.neo4j_database)
    declared: list[str] = []
    for row in rows:
        if row["declared"]:
            continue
        record = CapacityRecord(
            firm_id=row["firmId"],
            site_gln=row["gln"],
            category=row["category"],
            quantity_per_day=float(row["perDay"]),
            uom=row["uom"],
        )
        await declare_capacity(graph, record, now=now)
        declared.append(record.id)
    return declared, sorted({row["category"] for row in rows})


async def allocations(
    base_url: str, settings: Settings, driver: AsyncDriver, products: list[str], count: int, seed: int
) -> dict[str, Any]:
    """Place ``count`` orders over HTTP; after each, the candidate query alone for the same order."""
    issuer = open_issuer(settings)
    [buyer] = await read(driver, settings, BUYER, {})
    token = issuer.mint(subject="bench", firm_id=buyer["firm"], roles=[Role.EDITOR])
    rng = random.Random(seed)
    hub: list[float] = []
    raw: list[float] = []
    shares: list[int] = []
    candidates: list[int] = []
    async with httpx.AsyncClient(base_url=base_url, timeout=120) as client:
        for _ in range(count):
            due = datetime.now(UTC) + timedelta(days=7)
            order = {
                "productGtin": rng.choice(products),
                "quantity": 2000,
                "dueAt": due.isoformat(),
                "deliveryGln": buyer["gln"],
                "reference": REFERENCE,
            }
            started = time.perf_counter()
            response = await client.post(
                "/graphql",
                json={"query": PLACE, "variables": {"in": order}},
                headers={"Authorization": f"Bearer {token}"},
            )
            hub.append(time.perf_counter() - started)
            answer = response.json()
            if "errors" in answer:
                raise RuntimeError(f"placing an order failed: {answer['errors']}")
            placed = answer["data"]["placeBulkOrder"]
            shares.append(len(placed["allocations"]))
            params = {"orderId": placed["id"], "now": datetime.now(UTC), "open": list(OPEN_STATUSES)}
            started = time.perf_counter()
            found = await read(driver, settings, CANDIDATES, params)
            raw.append(time.perf_counter() - started)
            candidates.append(len(found))
    return {
        "hub_place_order_http_median_ms": median_ms(hub),
        "hub_place_order_http_p90_ms": p90_ms(hub),
        "raw_candidate_query_median_ms": median_ms(raw),
        "ratio_hub_to_raw_median": round(statistics.median(hub) / statistics.median(raw), 2),
        "shares_per_order_median": statistics.median(shares),
        "capable_plants_median": statistics.median(candidates),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--holders", type=int, default=100)
    parser.add_argument("--orders", type=int, default=50)
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    settings = Settings(port=free_port())
    now = datetime.now(UTC)

    async def prepare() -> tuple[list[tuple[str, str]], list[str], list[str]]:
        async with open_driver(settings) as driver:
            holders = await sample_holders(driver, settings, args.holders, args.seed)
            declared, categories = await declare_capacities(driver, settings, now)
            products = [row["gtin"] for row in await read(driver, settings, PRODUCTS_OF, {"categories": categories})]
            return holders, declared, products

    async def measure(base_url: str, holders: list[tuple[str, str]], products: list[str]) -> dict[str, Any]:
        async with open_driver(settings) as driver:
            await inventory_reads(base_url, settings, driver, holders[:10], by_product=True)  # warm plans, cache
            by_product = await inventory_reads(base_url, settings, driver, holders, by_product=True)
            first_page = await inventory_reads(base_url, settings, driver, holders, by_product=False)
            await allocations(base_url, settings, driver, products, 3, args.seed)  # warm
            placing = await allocations(base_url, settings, driver, products, args.orders, args.seed + 1)
            return {"inventory_by_product": by_product, "inventory_first_page": first_page, "allocation": placing}

    async def clean_up(declared: list[str]) -> None:
        async with open_driver(settings) as driver:
            await driver.execute_query(REMOVE_ORDERS, {"reference": REFERENCE}, database_=settings.neo4j_database)
            await driver.execute_query(REMOVE_CAPACITIES, {"ids": declared}, database_=settings.neo4j_database)

    holders, declared, products = asyncio.run(prepare())
    if not products:
        raise RuntimeError("no certified plant has made finished goods: nothing to allocate")
    try:
        with serve(settings) as base_url:
            figures = asyncio.run(measure(base_url, holders, products))
    finally:
        asyncio.run(clean_up(declared))
    figures["samples"] = {"holders": len(holders), "orders": args.orders, "capacities_declared": len(declared)}
    path = write_result("inventory_allocation", figures)
    print(json.dumps(figures, indent=2))
    print(f"written to {path}")


if __name__ == "__main__":
    main()
