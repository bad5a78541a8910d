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
from graph_schema.trace import LOT_KEYS_ALWAYS, SHIPMENT_KEYS_ALWAYS, TraceProjection, trace_query
from tests.factories import T0
from tests.integration.conftest import Chain
from tests.plans import explain, operators

pytestmark = pytest.mark.neo4j


@pytest.mark.parametrize("direction", list(TraceDirection))
async def test_trace_plans_a_breadth_first_shortest_path_expansion(graph: Graph, direction: TraceDirection) -> None:
    params = {"lotId": "x", "detailFirms": [], "viewerFirm": "x"}
    used = operators(await explain(graph, trace_query(direction, 25), params))
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


# what a compiled selection may ask of the trace (resolvers/compiled.py's _trace_projection): the big trace's, one
# with nothing of the lots but their ids, and one with deviations but no shipments
PROJECTIONS = [
    TraceProjection(
        lot_fields=frozenset({"lotNumber", "productGtin", "quantity", "uom", "status"}),
        shipment_fields=frozenset({"quantity", "uom", "shippedAt", "receivedAt"}),
        deviations=False,
        aggregate=False,
    ),
    TraceProjection(lot_fields=frozenset(), shipments=False, deviations=False, aggregate=False, owner_role=False),
    TraceProjection(lot_fields=frozenset({"producedAt", "expiresAt"}), shipments=False, aggregate=True),
]


def restricted(row: dict[str, Any] | None, keys: frozenset[str]) -> dict[str, Any] | None:
    return None if row is None else {key: value for key, value in row.items() if key in keys}


@pytest.mark.parametrize("projection", PROJECTIONS)
@pytest.mark.parametrize(
    "viewer",
    [
        Viewer(firm_id="plant", detail_firm_ids=frozenset({"plant"})),
        Viewer(firm_id="farm", detail_firm_ids=frozenset({"farm"})),
        Viewer(firm_id="farm", detail_firm_ids=frozenset({"farm"}), summary_firm_ids=frozenset({"plant"})),
    ],
)
async def test_a_projected_trace_returns_the_full_traces_rows_restricted_to_what_it_names(
    graph: Graph, chain: Chain, viewer: Viewer, projection: TraceProjection
) -> None:
    """The same lots, depths, redaction and shipments shown or hidden as the full trace: only the fields differ."""
    params = {"lotId": chain.soy, **viewer.params()}
    [full] = await graph.read_maps(trace_query(TraceDirection.DOWNSTREAM, 25), params)
    [projected] = await graph.read_maps(trace_query(TraceDirection.DOWNSTREAM, 25, projection), params)
    lot_keys = projection.lot_fields | LOT_KEYS_ALWAYS
    shipment_keys = projection.shipment_fields | SHIPMENT_KEYS_ALWAYS | {"hiddenRef"}
    assert len(full["rows"]) == len(projected["rows"]) == 2
    assert any(row["lot"] is None for row in full["rows"]) == (viewer.firm_id == "farm")
    for whole, part in zip(full["rows"], projected["rows"], strict=True):
        assert part["depth"] == whole["depth"]
        assert part["hiddenRef"] == whole["hiddenRef"]
        assert part["lot"] == restricted(whole["lot"], lot_keys)
        assert part["aggregate"] == (whole["aggregate"] if projection.aggregate else None)
        assert part["ownerRole"] == (whole["ownerRole"] if projection.owner_role else None)
        assert part["madeDuringDeviation"] == (whole["madeDuringDeviation"] if projection.deviations else False)
        expected = [restricted(sh, shipment_keys) for sh in whole["shipments"]] if projection.shipments else []
        assert part["shipments"] == expected
    assert any(row["shipments"] for row in full["rows"])  # the soy's shipment to the plant


async def test_a_trace_asking_for_no_deviations_walks_only_each_lots_shipments(graph: Graph, chain: Chain) -> None:
    viewer = Viewer(firm_id="plant", detail_firm_ids=frozenset({"plant"}))
    query = trace_query(TraceDirection.DOWNSTREAM, 25, PROJECTIONS[0])
    result = await graph.driver.execute_query("PROFILE " + query, {"lotId": chain.soy, **viewer.params()})
    used = operator_rows(result.summary.profile)
    walks = [details for op, details, _ in used if op.startswith("Expand") and details.startswith("(l)<-[")]
    assert not any("DURING" in details for details in walks), walks
    assert sum(":CARRIES]-(sh)" in details for details in walks) == 1, walks
