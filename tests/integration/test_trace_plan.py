"""The trace must never enumerate paths: its plan is one breadth-first expansion per direction."""

from __future__ import annotations

from typing import Any

import pytest

from graph_schema.db import Graph
from graph_schema.model import TraceDirection
from graph_schema.trace import trace_query

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
