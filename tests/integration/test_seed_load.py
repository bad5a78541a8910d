"""The demo cluster loads through the API's write functions, twice without change, and traces farm to shelf."""

from __future__ import annotations

import pytest

from graph_schema.access import Viewer
from graph_schema.db import Graph
from graph_schema.model import TraceDirection
from graph_schema.trace import trace
from seed.demo import build_demo
from seed.loader import graph_is_empty, load_cluster

pytestmark = pytest.mark.neo4j


async def graph_size(graph: Graph) -> tuple[int, int]:
    nodes = (await graph.read("MATCH (n) RETURN count(n) AS n"))[0]["n"]
    relationships = (await graph.read("MATCH ()-[r]->() RETURN count(r) AS n"))[0]["n"]
    return int(nodes), int(relationships)


async def test_the_demo_loads_once_and_again_without_change(graph: Graph) -> None:
    cluster = build_demo(7)
    assert await graph_is_empty(graph)
    report = await load_cluster(graph, cluster)
    assert report.counts == cluster.counts()
    assert not await graph_is_empty(graph)
    firms = {row["id"]: row["roles"] for row in await graph.read("MATCH (f:Firm) RETURN f.id AS id, f.roles AS roles")}
    assert firms["agency"] == ["AGENCY"]
    assert "ANCHOR" in firms["anchor"]
    lots = (await graph.read("MATCH (l:Lot) RETURN count(l) AS n"))[0]["n"]
    assert lots == len(cluster.lots)
    size = await graph_size(graph)
    await load_cluster(graph, cluster)
    assert await graph_size(graph) == size


async def test_a_soybean_lot_reaches_shelves_downstream(graph: Graph) -> None:
    cluster = build_demo(7)
    await load_cluster(graph, cluster)
    products = {p.gtin: p for p in cluster.products}
    soy_lots = [
        lot
        for lot in cluster.lots
        if "soy" in products[lot.product_gtin].name.lower() and products[lot.product_gtin].category != "tofu"
    ]
    assert soy_lots
    everyone = Viewer(firm_id="agency", detail_firm_ids=frozenset(f.id for f in cluster.firms))
    reached = await trace(graph, everyone, lot_id=soy_lots[0].id, direction=TraceDirection.DOWNSTREAM, max_depth=25)
    reached_products = {products[row["lot"]["productGtin"]].category for row in reached}
    assert "Tofu" in reached_products
    shipped_to = {sh["toGln"] for row in reached for sh in row["shipments"]}
    store_sites = {site.gln for site in cluster.sites if site.kind in ("STORE", "DC", "WAREHOUSE")}
    assert shipped_to & store_sites
