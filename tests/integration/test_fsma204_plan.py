"""The FSMA 204 export reaches lots as the trace does: one breadth-first expansion, never an enumeration of paths."""

from __future__ import annotations

import pytest

from graph_schema.db import Graph
from graph_schema.fsma204 import SORTS, export_query
from graph_schema.model import TraceDirection
from tests.plans import explain, operators

pytestmark = pytest.mark.neo4j


@pytest.mark.parametrize("direction", list(TraceDirection))
@pytest.mark.parametrize("sort", list(SORTS))
async def test_export_plans_a_breadth_first_shortest_path_expansion(
    graph: Graph, direction: TraceDirection, sort: str
) -> None:
    params = {"lotId": "x", "detailFirms": [], "viewerFirm": "x", "recalls": [], "lang": "en"}
    used = operators(await explain(graph, export_query(direction, 25, sort), params))
    assert "StatefulShortestPath(All)" in used
    assert not any(op.startswith("VarLengthExpand") for op in used), used
