"""Trace answers against an independent breadth-first computation on random lot DAGs and a known diamond."""

from __future__ import annotations

import random
from collections import deque

import pytest

from graph_schema.access import Viewer
from graph_schema.db import Graph
from graph_schema.model import TraceDirection
from graph_schema.trace import trace
from tests.factories import TinyCluster, random_cluster

pytestmark = pytest.mark.neo4j


def oracle_depths(cluster: TinyCluster, origin: str, direction: TraceDirection, max_depth: int) -> dict[str, int]:
    """Shortest number of transformations from ``origin`` to every reachable lot, by plain BFS."""
    forward: dict[str, list[str]] = {}
    for output, inputs in cluster.inputs_of.items():
        for source in inputs:
            forward.setdefault(source, []).append(output)
    backward = cluster.inputs_of
    edges = forward if direction is TraceDirection.DOWNSTREAM else backward
    depths = {origin: 0}
    queue = deque([origin])
    while queue:
        lot = queue.popleft()
        if depths[lot] == max_depth:
            continue
        for nxt in edges.get(lot, []):
            if nxt not in depths:
                depths[nxt] = depths[lot] + 1
                queue.append(nxt)
    return depths


def oracle_visible(cluster: TinyCluster, lot: str, firm: str) -> bool:
    """Own lots and lots shipped to the firm are shown in detail."""
    return cluster.owner_of[lot] == firm or firm in cluster.shipped_to.get(lot, set())


@pytest.mark.parametrize("seed", range(12))
async def test_trace_matches_breadth_first_oracle(graph: Graph, seed: int) -> None:
    rng = random.Random(seed)
    cluster = await random_cluster(graph, rng, firm_count=rng.randint(1, 3), lot_count=rng.randint(8, 30))
    viewer_firm = rng.choice(cluster.firms)
    viewer = Viewer(firm_id=viewer_firm, detail_firm_ids=frozenset({viewer_firm}))
    visible_origins = [lot for lot in cluster.lots if oracle_visible(cluster, lot, viewer_firm)]
    for origin in rng.sample(visible_origins, k=min(4, len(visible_origins))):
        for direction in TraceDirection:
            max_depth = rng.choice([1, 2, 3, 25])
            expected = oracle_depths(cluster, origin, direction, max_depth)
            rows = await trace(graph, viewer, lot_id=origin, direction=direction, max_depth=max_depth)

            shown = {row["lot"]["id"]: row["depth"] for row in rows if row["lot"] is not None}
            expected_shown = {lot: d for lot, d in expected.items() if oracle_visible(cluster, lot, viewer_firm)}
            assert shown == expected_shown, (seed, origin, direction, max_depth)
            hidden_depths = sorted(row["depth"] for row in rows if row["lot"] is None)
            expected_hidden = sorted(d for lot, d in expected.items() if not oracle_visible(cluster, lot, viewer_firm))
            assert hidden_depths == expected_hidden
            assert len(rows) == len(expected)  # every distinct lot once, no path duplicates
            assert rows[0]["depth"] == 0
            assert rows[0]["lot"]["id"] == origin

            for row in rows:
                lot_id = row["lot"]["id"] if row["lot"] else None
                for shipment in row["shipments"]:
                    if "hiddenRef" in shipment:
                        continue
                    assert shipment["lotId"] == lot_id
                    assert viewer_firm in (shipment["fromFirmId"], shipment["toFirmId"])
            shown_shipments = sorted(s["id"] for row in rows for s in row["shipments"] if "hiddenRef" not in s)
            expected_shipments = sorted(
                sid
                for sid, lot, src, dst in cluster.shipments
                if lot in expected and viewer_firm in (src, dst) and oracle_visible(cluster, lot, viewer_firm)
            )
            assert shown_shipments == expected_shipments


async def test_diamond_with_shared_inputs_reports_each_lot_once_at_its_shortest_depth(graph: Graph) -> None:
    """soy1 -> tofuA, soy1 -> curdB -> tofuA: tofuA is at depth 1 even though a path of length 2 exists."""
    rng = random.Random(0)
    cluster = await random_cluster(graph, rng, firm_count=1, lot_count=0)
    firm = cluster.firms[0]
    from datetime import timedelta

    from graph_schema import lots
    from graph_schema.identifiers import lgtin_for
    from graph_schema.records import LotQuantity, LotRecord, TransformationRecord
    from tests.factories import T0

    ids = {name: lgtin_for(cluster.product, name) for name in ("SOY1", "SOY2", "CURDB", "TOFUA", "TOFUC")}
    await lots.record_lots(
        graph,
        [
            LotRecord(
                id=lot,
                owner_firm_id=firm,
                site_gln=cluster.site_of[firm],
                quantity=10.0,
                uom="kg",
                produced_at=T0 + timedelta(hours=i),
            )
            for i, lot in enumerate(ids.values())
        ],
    )

    async def make(tid: str, inputs: list[str], output: str) -> None:
        await lots.record_transformations(
            graph,
            [
                TransformationRecord(
                    id=tid,
                    firm_id=firm,
                    site_gln=cluster.site_of[firm],
                    occurred_at=T0,
                    inputs=[LotQuantity(lot_id=ids[i], quantity=1.0, uom="kg") for i in inputs],
                    outputs=[LotQuantity(lot_id=ids[output], quantity=1.0, uom="kg")],
                )
            ],
        )

    await make("t-curd", ["SOY1"], "CURDB")
    await make("t-tofuA", ["SOY1", "SOY2", "CURDB"], "TOFUA")
    await make("t-tofuC", ["SOY2", "CURDB"], "TOFUC")
    viewer = Viewer(firm_id=firm, detail_firm_ids=frozenset({firm}))

    down = await trace(graph, viewer, lot_id=ids["SOY1"], direction=TraceDirection.DOWNSTREAM, max_depth=25)
    assert {row["lot"]["lotNumber"]: row["depth"] for row in down} == {"SOY1": 0, "CURDB": 1, "TOFUA": 1, "TOFUC": 2}

    up = await trace(graph, viewer, lot_id=ids["TOFUC"], direction=TraceDirection.UPSTREAM, max_depth=25)
    assert {row["lot"]["lotNumber"]: row["depth"] for row in up} == {"TOFUC": 0, "SOY2": 1, "CURDB": 1, "SOY1": 2}

    one_step = await trace(graph, viewer, lot_id=ids["TOFUC"], direction=TraceDirection.UPSTREAM, max_depth=1)
    assert {row["lot"]["lotNumber"] for row in one_step} == {"TOFUC", "SOY2", "CURDB"}
