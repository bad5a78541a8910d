"""A trace's links (input -> output steps among the lots it reaches) against the cluster as written."""

from __future__ import annotations

import random

import pytest

from graph_schema.access import Viewer
from graph_schema.db import Graph
from graph_schema.model import TraceDirection
from graph_schema.trace import trace, trace_links
from tests.factories import random_cluster
from tests.integration.test_trace_oracle import oracle_depths, oracle_visible

pytestmark = pytest.mark.neo4j


@pytest.mark.parametrize("seed", range(6))
async def test_links_are_every_step_among_the_reached_lots_with_hidden_ends_as_the_trace_hides_them(
    graph: Graph, seed: int
) -> None:
    rng = random.Random(seed)
    cluster = await random_cluster(graph, rng, firm_count=rng.randint(2, 3), lot_count=rng.randint(10, 30))
    viewer_firm = rng.choice(cluster.firms)
    viewer = Viewer(firm_id=viewer_firm, detail_firm_ids=frozenset({viewer_firm}))
    origins = [lot for lot in cluster.lots if oracle_visible(cluster, lot, viewer_firm)]
    for origin in rng.sample(origins, k=min(3, len(origins))):
        for direction in TraceDirection:
            max_depth = rng.choice([1, 2, 25])
            reached = oracle_depths(cluster, origin, direction, max_depth)
            expected = {
                (source, output)
                for output, inputs in cluster.inputs_of.items()
                for source in inputs
                if source in reached and output in reached
            }
            rows = await trace(graph, viewer, lot_id=origin, direction=direction, max_depth=max_depth)
            links = await trace_links(graph, viewer, lot_id=origin, direction=direction, max_depth=max_depth)
            assert len(links) == len(expected), (seed, origin, direction)
            hidden_refs = {row["hiddenRef"] for row in rows if row["lot"] is None}
            for link in links:
                for end in ("input", "output"):
                    if link[end] is None:  # hidden: a lot the trace hides too, never its id
                        assert link[f"{end}Ref"] in hidden_refs
                    else:
                        assert oracle_visible(cluster, link[end], viewer_firm)
            shown = {(link["input"], link["output"]) for link in links if link["input"] and link["output"]}
            assert shown == {
                (a, b)
                for a, b in expected
                if oracle_visible(cluster, a, viewer_firm) and oracle_visible(cluster, b, viewer_firm)
            }
