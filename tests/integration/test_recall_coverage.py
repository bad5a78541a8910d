"""Recall coverage over time: a lot made from a held lot after the recall was declared joins the open recall."""

from __future__ import annotations

from datetime import timedelta

import pytest

from graph_schema import lots
from graph_schema.db import Graph
from graph_schema.identifiers import lgtin_for
from graph_schema.records import LotQuantity, LotRecord, TransformationRecord
from tests.factories import T0
from tests.graphql_client import execute, principal
from tests.integration import test_recall_workflow as workflow
from tests.integration.test_recall_workflow import AFFECTED, CLOSE, COORDINATOR, Recipe, data, declare

pytestmark = pytest.mark.neo4j
recipe = workflow.recipe  # the recall workflow's chain, as a fixture of this module


async def make(graph: Graph, recipe: Recipe, name: str, source: str) -> str:
    lot_id = lgtin_for(recipe.product["tofu"], name)
    await lots.record_lots(
        graph,
        [
            LotRecord(
                id=lot_id,
                owner_firm_id="plant",
                site_gln=recipe.site["plant"],
                quantity=10.0,
                uom="kg",
                produced_at=T0 + timedelta(days=5),
            )
        ],
    )
    await lots.record_transformations(
        graph,
        [
            TransformationRecord(
                id=f"T-{name}",
                firm_id="plant",
                site_gln=recipe.site["plant"],
                occurred_at=T0 + timedelta(days=5),
                inputs=[LotQuantity(lot_id=recipe.lot[source], quantity=5.0, uom="kg")],
                outputs=[LotQuantity(lot_id=lot_id, quantity=10.0, uom="kg")],
            )
        ],
    )
    return lot_id


async def status(graph: Graph, lot_id: str) -> str:
    rows = await graph.read("MATCH (l:Lot {id: $id}) RETURN l.status AS status", {"id": lot_id})
    return str(rows[0]["status"])


async def affected(graph: Graph, recall_id: str) -> dict[str, tuple[str, int, bool]]:
    listed = data(await execute(graph, AFFECTED, COORDINATOR, {"id": recall_id, "first": 50}))
    nodes = [edge["node"] for edge in listed["recall"]["affectedLots"]["edges"]]
    return {n["id"]: (n["direction"], n["depth"], n["held"]) for n in nodes}


async def test_a_lot_made_from_a_held_lot_joins_the_open_recall_and_is_held(graph: Graph, recipe: Recipe) -> None:
    recall_id = await declare(graph, recipe, "M1")
    late = await make(graph, recipe, "T9", "T1")  # from T1, held at depth 1
    assert await status(graph, late) == "ON_HOLD"
    assert (await affected(graph, recall_id))[late] == ("DOWNSTREAM", 2, True)
    # made from X1, which the recall does not hold: left alone
    free = await make(graph, recipe, "T8", "X1")
    assert await status(graph, free) == "ACTIVE"
    assert free not in await affected(graph, recall_id)
    # closing releases the late lot like the others
    await execute(graph, CLOSE, COORDINATOR, {"id": recall_id})
    assert await status(graph, late) == "ACTIVE"
    # a closed recall takes in nothing more
    after_close = await make(graph, recipe, "T7", "T1")
    assert await status(graph, after_close) == "ACTIVE"


async def test_a_recall_that_recalls_outright_recalls_the_late_lot_too(graph: Graph, recipe: Recipe) -> None:
    recall_id = await declare(graph, recipe, "M1", hold="RECALLED")
    late = await make(graph, recipe, "T9", "T2")
    assert await status(graph, late) == "RECALLED"
    seen = data(await execute(graph, "query($id: ID!) { lot(id: $id) { status } }", COORDINATOR, {"id": late}))
    assert seen == {"lot": {"status": "RECALLED"}}
    counts = data(
        await execute(
            graph, "query($id: ID!) { recall(id: $id) { heldLotCount } }", principal("agency"), {"id": recall_id}
        )
    )
    assert counts == {"recall": {"heldLotCount": 4}}
