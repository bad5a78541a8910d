"""Recall coverage over time: a lot made from a held lot after the recall was declared joins the open recall."""

from __future__ import annotations

from datetime import timedelta

import pytest

from auth.principal import Role
from graph_schema import lots, notifications, recalls
from graph_schema.db import Graph
from graph_schema.identifiers import lgtin_for
from graph_schema.records import LotQuantity, LotRecord, TransformationRecord
from resolvers.notifications import joined_lots_audience, publish_recall_joins, render_recalls
from tests.factories import T0
from tests.graphql_client import SQL_ENGINE, execute, principal
from tests.integration import test_recall_workflow as workflow
from tests.integration.test_recall_workflow import AFFECTED, CLOSE, COORDINATOR, Recipe, data, declare
from tests.plans import explain, operators

pytestmark = pytest.mark.neo4j
recipe = workflow.recipe  # the recall workflow's chain, as a fixture of this module
PLANT = principal("plant", Role.EDITOR)


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


async def outbox(after_id: int) -> list[tuple[str, dict[str, object]]]:
    return [(e.kind, e.payload) for e in notifications.events_after(SQL_ENGINE, after_id=after_id)]


async def test_a_lot_joining_a_recall_is_published_once_for_its_holder_and_a_crash_loses_nothing(
    graph: Graph, recipe: Recipe
) -> None:
    recall_id = await declare(graph, recipe, "M1")  # through GraphQL: RECALL_DECLARED is in the outbox
    before = notifications.last_event_id(SQL_ENGINE)
    # written in the graph alone, as if the process died before publishing: the join waits, marked pending
    late = await make(graph, recipe, "T9", "T1")
    pending = await recalls.pending_joins(graph)
    assert [(r["recallId"], r["noticeKey"], r["lotIds"]) for r in pending] == [(recall_id, "T-T9", [late])]
    assert await outbox(before) == []
    # the sweep (or the next write's publish) publishes it
    assert await publish_recall_joins(graph, SQL_ENGINE) == 1
    assert await outbox(before) == [("RECALL_UPDATED", {"recallId": recall_id, "lotIds": [late]})]
    assert await recalls.pending_joins(graph) == []
    assert await publish_recall_joins(graph, SQL_ENGINE) == 0
    # published, but the marker never reached the graph (a crash between): published again, written once
    await graph.write("MATCH ()-[a:AFFECTS {noticeKey: 'T-T9'}]->() SET a.notice = 'PENDING'")
    assert await publish_recall_joins(graph, SQL_ENGINE) == 1
    assert len(await outbox(before)) == 1
    # the same transformation written again joins nothing and publishes nothing
    await make(graph, recipe, "T9", "T1")
    assert await recalls.pending_joins(graph) == []
    assert await publish_recall_joins(graph, SQL_ENGINE) == 0
    assert len(await outbox(before)) == 1
    # told to the late lot's holder only, as a declaration is told: its own affected lots in full
    (event,) = notifications.events_after(SQL_ENGINE, after_id=before)
    assert await joined_lots_audience(graph, event.payload) == frozenset({"plant"})
    told = await render_recalls(graph, frozenset({"plant", "rival"}), event.payload)
    assert set(told) == {"plant"}  # the rival holds no affected lot: told nothing
    assert late in [lot["id"] for lot in told["plant"]["recall"]["yourLots"]]


async def test_record_transformation_through_graphql_publishes_the_join_after_its_commit(
    graph: Graph, recipe: Recipe
) -> None:
    recall_id = await declare(graph, recipe, "M1")
    before = notifications.last_event_id(SQL_ENGINE)
    late = lgtin_for(recipe.product["tofu"], "T6")
    made = {
        "id": late,
        "siteGln": recipe.site["plant"],
        "quantity": 10.0,
        "uom": "kg",
        "producedAt": (T0 + timedelta(days=5)).isoformat(),
    }
    data(await execute(graph, "mutation($l: [LotInput!]!) { recordLots(input: $l) { id } }", PLANT, {"l": [made]}))
    step = {
        "id": "T-T6",
        "siteGln": recipe.site["plant"],
        "occurredAt": (T0 + timedelta(days=5)).isoformat(),
        "inputs": [{"lotId": recipe.lot["T2"], "quantity": 5.0, "uom": "kg"}],
        "outputs": [{"lotId": late, "quantity": 10.0, "uom": "kg"}],
    }
    record = "mutation($t: TransformationInput!) { recordTransformation(input: $t) { id status } }"
    assert data(await execute(graph, record, PLANT, {"t": step})) == {
        "recordTransformation": [{"id": late, "status": "ON_HOLD"}]
    }
    assert await outbox(before) == [("RECALL_UPDATED", {"recallId": recall_id, "lotIds": [late]})]
    assert await recalls.pending_joins(graph) == []
    data(await execute(graph, record, PLANT, {"t": step}))  # the same write again: nothing new to tell
    assert len(await outbox(before)) == 1


async def test_the_sweep_finds_pending_joins_by_the_index_not_by_walking_every_recall(graph: Graph) -> None:
    used = operators(await explain(graph, recalls.PENDING_JOINS, {"limit": 100}))
    assert any("RelationshipIndexSeek" in op for op in used), ",".join(used)
    assert "NodeByLabelScan" not in used, used


async def test_lots_already_made_from_the_late_lot_join_with_it_and_their_holders_are_told(
    graph: Graph, recipe: Recipe
) -> None:
    recall_id = await declare(graph, recipe, "M1")
    before = notifications.last_event_id(SQL_ENGINE)
    # recorded out of order: the late lot L is made into N, and N shipped to the distributor, before the
    # transformation making L from the held T1 arrives
    late = lgtin_for(recipe.product["tofu"], "L1")
    made_from_late = lgtin_for(recipe.product["tofu"], "N1")
    produced = T0 + timedelta(days=5)
    await lots.record_lots(
        graph,
        [
            LotRecord(
                id=lot_id,
                owner_firm_id="plant",
                site_gln=recipe.site["plant"],
                quantity=10.0,
                uom="kg",
                produced_at=produced,
            )
            for lot_id in (late, made_from_late)
        ],
    )

    def step(step_id: str, source: str, output: str) -> TransformationRecord:
        return TransformationRecord(
            id=step_id,
            firm_id="plant",
            site_gln=recipe.site["plant"],
            occurred_at=produced,
            inputs=[LotQuantity(lot_id=source, quantity=5.0, uom="kg")],
            outputs=[LotQuantity(lot_id=output, quantity=10.0, uom="kg")],
        )

    await lots.record_transformations(graph, [step("T-N1", late, made_from_late)])
    await workflow._ship(
        graph, "SH-N1", recipe.site["plant"], recipe.site["dc"], [(made_from_late, 4.0)], doc="B-9", received=True
    )
    assert await status(graph, made_from_late) == "ACTIVE"  # nothing held upstream of it yet
    await lots.record_transformations(graph, [step("T-L1", recipe.lot["T1"], late)])
    assert await status(graph, late) == "ON_HOLD"
    assert await status(graph, made_from_late) == "ON_HOLD"
    joined = await affected(graph, recall_id)
    assert joined[late] == ("DOWNSTREAM", 2, True)  # T1 is at depth 1
    assert joined[made_from_late] == ("DOWNSTREAM", 3, True)
    # one event for the transformation that made them join, told to the holders of either lot
    assert await publish_recall_joins(graph, SQL_ENGINE) == 1
    (event,) = notifications.events_after(SQL_ENGINE, after_id=before)
    assert event.payload == {"recallId": recall_id, "lotIds": sorted([late, made_from_late])}
    assert await joined_lots_audience(graph, event.payload) == frozenset({"plant", "dist"})
    told = await render_recalls(graph, frozenset({"dist", "rival"}), event.payload)
    assert set(told) == {"dist"}
    assert made_from_late in [lot["id"] for lot in told["dist"]["recall"]["yourLots"]]
    assert late not in [lot["id"] for lot in told["dist"]["recall"]["yourLots"]]  # the plant's, not shipped
    # closing releases both
    await execute(graph, CLOSE, COORDINATOR, {"id": recall_id})
    assert await status(graph, late) == "ACTIVE"
    assert await status(graph, made_from_late) == "ACTIVE"
