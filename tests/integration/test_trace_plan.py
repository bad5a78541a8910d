"""The trace must never enumerate paths: its plan is one breadth-first expansion per direction; what depends on a
lot's owner is read once per owner firm, and each lot's incoming relationships are walked once."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from graph_schema import lots
from graph_schema.access import Viewer
from graph_schema.db import Graph
from graph_schema.identifiers import lgtin_for
from graph_schema.model import TraceDirection
from graph_schema.records import LotQuantity, LotRecord, TransformationRecord
from graph_schema.trace import trace_query
from tests.factories import T0
from tests.integration.conftest import Chain

pytestmark = pytest.mark.neo4j


def operators(plan: Any) -> list[str]:
    found = [plan["operatorType"].split("@")[0]]
    for child in plan.get("children", []):
        found.extend(operators(child))
    return found


@pytest.mark.parametrize("direction", list(TraceDirection))
async def test_trace_plans_a_breadth_first_shortest_path_expansion(graph: Graph, direction: TraceDirection) -> None:
    result = await graph.driver.execute_query(
        "EXPLAIN " + trace_query(direction, 25), {"lotId": "x", "detailFirms": [], "viewerFirm": "x"}
    )
    used = operators(result.summary.plan)
    assert "StatefulShortestPath(All)" in used
    assert not any(op.startswith("VarLengthExpand") for op in used), used


def operator_rows(plan: Any) -> list[tuple[str, str, int]]:
    """(operator, details, rows) of every operator of a profiled plan."""
    found = [(plan["operatorType"].split("@")[0], str(plan.get("args", {}).get("Details", "")), plan.get("rows", 0))]
    for child in plan.get("children", []):
        found.extend(operator_rows(child))
    return found


async def test_the_trace_reads_each_owner_once_and_walks_each_lots_incoming_relationships_once(
    graph: Graph, chain: Chain
) -> None:
    # the soy (farm) made into six plant lots: seven lots reached downstream, of two owners
    made = [lgtin_for(chain.tofu_gtin, f"PLAN-{n}") for n in range(5)]
    await lots.record_lots(
        graph,
        [
            LotRecord(
                id=lot, owner_firm_id="plant", site_gln=chain.sites["plant"], quantity=1.0, uom="kg", produced_at=T0
            )
            for lot in made
        ],
    )
    await lots.record_transformations(
        graph,
        [
            TransformationRecord(
                id="T-PLAN",
                firm_id="plant",
                site_gln=chain.sites["plant"],
                occurred_at=T0 + timedelta(days=2),
                inputs=[LotQuantity(lot_id=chain.soy, quantity=10.0, uom="kg")],
                outputs=[LotQuantity(lot_id=lot, quantity=1.0, uom="kg") for lot in made],
            )
        ],
    )
    viewer = Viewer(firm_id="plant", detail_firm_ids=frozenset({"plant"}))
    query = trace_query(TraceDirection.DOWNSTREAM, 25)
    result = await graph.driver.execute_query("PROFILE " + query, {"lotId": chain.soy, **viewer.params()})
    assert len(result.records[0]["rows"]) == 7
    used = operator_rows(result.summary.profile)
    firm_seeks = [rows for op, details, rows in used if op == "NodeUniqueIndexSeek" and ":Firm(id)" in details]
    assert firm_seeks == [2], used  # one index seek per owner firm (farm, plant), not one per lot
    walks = [details for op, details, _ in used if op.startswith("Expand") and details.startswith("(l)<-[")]
    incoming = [details for details in walks if "DURING" in details or ":CARRIES]-(sh)" in details]
    assert len(incoming) == 1, walks  # shipments and deviations: one walk of each lot's incoming relationships
    assert ":CARRIES|DURING]" in incoming[0], walks
