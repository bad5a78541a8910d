"""Answering a recall against the real graph: acknowledgements, disposition reports, consignees, effectiveness.

The chain is the recall workflow's: a recall of M1 holds M1, T1 and T2. Its consignees are the plant (owns all
three), the distributor (received T1 and T2 at its DC, shipped 70 kg of T1 on to Mapo and 30 kg of T2 to
Busan) and the retailer (received both). The farm owns S1, upstream: it may read the recall, not answer it.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import Session, select

from auth.principal import Role
from graph_schema.db import Graph
from graph_schema.notifications import OutboxEvent, WebhookDelivery
from tests.graphql_client import SQL_ENGINE, codes, execute, principal
from tests.integration import test_recall_workflow as workflow
from tests.integration.test_recall_workflow import CLOSE, COORDINATOR, Recipe, data, declare

pytestmark = pytest.mark.neo4j
recipe = workflow.recipe  # the recall workflow's chain, as a fixture of this module

ACK = """mutation($id: ID!, $note: String) { acknowledgeRecall(id: $id, note: $note) {
  id acknowledgements { firm { id } note acknowledgedAt } } }"""
REPORT = """mutation($input: RecallDispositionInput!) { reportRecallDisposition(input: $input) {
  recallId lotId siteGln quantity uom disposition firmId } }"""
ANSWERS = """query($id: ID!) { recall(id: $id) {
  acknowledgements { firm { id } note }
  consignees { firmId acknowledged note lotCount sites { siteGln stockCounted reported stockLeft } }
  effectiveness { consignees acknowledged quantityAffected quantityAccountedFor acknowledgedShare quantityShare
                  timeline { acknowledged quantityAccountedFor } } } }"""


def report(recall_id: str, lot: str, site: str, quantity: float, disposition: str = "REMOVED") -> dict[str, Any]:
    item = {"recallId": recall_id, "lotId": lot, "siteGln": site, "quantity": quantity}
    return {"input": {**item, "disposition": disposition}}


async def test_only_consignees_acknowledge_and_each_sees_its_own(graph: Graph, recipe: Recipe) -> None:
    recall_id = await declare(graph, recipe, "M1")
    assert codes(await execute(graph, ACK, principal("rival"), {"id": recall_id})) == ["NOT_FOUND"]
    assert codes(await execute(graph, ACK, principal("farm"), {"id": recall_id})) == ["FORBIDDEN"]  # upstream only
    assert codes(await execute(graph, ACK, principal("dist", Role.VIEWER), {"id": recall_id})) == ["FORBIDDEN"]
    done = data(await execute(graph, ACK, principal("dist"), {"id": recall_id, "note": "pulled at the DC"}))
    assert [(a["firm"]["id"], a["note"]) for a in done["acknowledgeRecall"]["acknowledgements"]] == [
        ("dist", "pulled at the DC")
    ]
    # the first acknowledgement stands
    again = data(await execute(graph, ACK, principal("dist"), {"id": recall_id, "note": "again"}))
    assert [a["note"] for a in again["acknowledgeRecall"]["acknowledgements"]] == ["pulled at the DC"]
    await execute(graph, ACK, principal("retail", Role.RECALL_COORDINATOR), {"id": recall_id})
    # the retailer sees its own acknowledgement, not the distributor's; the coordinator sees both
    retail = data(await execute(graph, ANSWERS, principal("retail"), {"id": recall_id}))["recall"]
    assert [a["firm"]["id"] for a in retail["acknowledgements"]] == ["retail"]
    assert retail["consignees"] == []
    assert retail["effectiveness"] is None
    coordinator = data(await execute(graph, ANSWERS, COORDINATOR, {"id": recall_id}))["recall"]
    assert [a["firm"]["id"] for a in coordinator["acknowledgements"]] == ["dist", "retail"]
    await execute(graph, CLOSE, COORDINATOR, {"id": recall_id})
    assert codes(await execute(graph, ACK, principal("plant"), {"id": recall_id})) == ["CONFLICT"]


async def test_dispositions_are_checked_against_what_the_firm_holds(graph: Graph, recipe: Recipe) -> None:
    recall_id = await declare(graph, recipe, "M1")
    dist, t1, dc = principal("dist"), recipe.lot["T1"], recipe.site["dc"]
    made = data(await execute(graph, REPORT, dist, report(recall_id, t1, dc, 30.0)))["reportRecallDisposition"]
    assert made == {
        "recallId": recall_id,
        "lotId": t1,
        "siteGln": dc,
        "quantity": 30.0,
        "uom": "kg",
        "disposition": "REMOVED",
        "firmId": "dist",
    }
    # received 120, shipped 70 on to Mapo, reported 30: 20 left to report
    over = await execute(graph, REPORT, dist, report(recall_id, t1, dc, 25.0, "DESTROYED"))
    assert codes(over) == ["CONFLICT"]
    assert over.errors is not None
    assert "hold at most 20" in over.errors[0].message
    assert data(await execute(graph, REPORT, dist, report(recall_id, t1, dc, 20.0, "DESTROYED")))
    for variables, code in (
        (report(recall_id, t1, recipe.site["mapo"], 1.0), "FORBIDDEN"),  # the retailer's site
        (report(recall_id, recipe.lot["X1"], dc, 1.0), "NOT_FOUND"),  # not pulled by this recall
        (report(recall_id, t1, dc, 0.0), "BAD_USER_INPUT"),
        (report(recall_id, t1, dc, 1e13), "BAD_USER_INPUT"),
        (report(recall_id, t1, dc, -5.0), "BAD_USER_INPUT"),
        (report("recall-nope", t1, dc, 1.0), "NOT_FOUND"),
    ):
        assert codes(await execute(graph, REPORT, dist, variables)) == [code], variables
    assert codes(await execute(graph, REPORT, principal("rival"), report(recall_id, t1, dc, 1.0))) == ["NOT_FOUND"]
    count = await graph.read("MATCH (d:RecallDisposition) RETURN count(d) AS n, sum(d.quantity) AS q")
    assert count == [{"n": 2, "q": 50.0}]  # refused reports wrote nothing


async def test_the_coordinator_follows_consignees_and_effectiveness_over_time(graph: Graph, recipe: Recipe) -> None:
    recall_id = await declare(graph, recipe, "M1")
    await execute(graph, ACK, principal("dist"), {"id": recall_id})
    data(await execute(graph, REPORT, principal("dist"), report(recall_id, recipe.lot["T1"], recipe.site["dc"], 30.0)))
    await execute(graph, ACK, principal("retail"), {"id": recall_id, "note": "destroyed at Mapo"})
    mapo = report(recall_id, recipe.lot["T1"], recipe.site["mapo"], 70.0, "DESTROYED")
    data(await execute(graph, REPORT, principal("retail"), mapo))
    recall = data(await execute(graph, ANSWERS, COORDINATOR, {"id": recall_id}))["recall"]
    assert recall["consignees"] == [
        {
            "firmId": "dist",
            "acknowledged": True,
            "note": None,
            "lotCount": 2,
            # counted at the DC: 50 kg of T1 and 50 kg of T2; 30 kg of T1 reported since
            "sites": [{"siteGln": recipe.site["dc"], "stockCounted": 100.0, "reported": 30.0, "stockLeft": 70.0}],
        },
        {
            "firmId": "plant",
            "acknowledged": False,
            "note": None,
            "lotCount": 3,
            "sites": [],  # no stock of M1, T1 or T2 counted at the plant
        },
        {
            "firmId": "retail",
            "acknowledged": True,
            "note": "destroyed at Mapo",
            "lotCount": 2,
            "sites": [{"siteGln": recipe.site["mapo"], "stockCounted": 20.0, "reported": 70.0, "stockLeft": 0.0}],
        },
    ]
    effectiveness = recall["effectiveness"]
    timeline = effectiveness.pop("timeline")
    assert effectiveness == {
        "consignees": 3,
        "acknowledged": 2,
        "quantityAffected": 200.0,  # T1 120 + T2 80; M1 went wholly into them
        "quantityAccountedFor": 100.0,
        "acknowledgedShare": pytest.approx(2 / 3),
        "quantityShare": 0.5,
    }
    assert [(p["acknowledged"], p["quantityAccountedFor"]) for p in timeline] == [
        (0, 0.0),
        (1, 0.0),
        (1, 30.0),
        (2, 30.0),
        (2, 100.0),
    ]
    await execute(graph, CLOSE, COORDINATOR, {"id": recall_id})
    closed = data(await execute(graph, ANSWERS, principal("agency"), {"id": recall_id}))["recall"]
    assert [(p["acknowledged"], p["quantityAccountedFor"]) for p in closed["effectiveness"]["timeline"]][-1] == (
        2,
        100.0,
    )
    assert len(closed["effectiveness"]["timeline"]) == 6  # the close is the last point


BALANCE = """query($id: ID!) { recall(id: $id) { massBalance { balanced
  gaps { lotId siteGln firmId gap }
  lots { lotId produced used shipped inStock disposed gap flagged }
  products { productGtin uom lotCount produced used inStock disposed gap flagged } } } }"""


async def test_the_mass_balance_flags_each_gap_where_it_sits(graph: Graph, recipe: Recipe) -> None:
    recall_id = await declare(graph, recipe, "M1")
    lot, site, product = recipe.lot, recipe.site, recipe.product
    balance = data(await execute(graph, BALANCE, COORDINATOR, {"id": recall_id}))["recall"]["massBalance"]
    # Mapo received 70 kg of T1 and counted 20; Busan has 30 kg of T2 on the road and counted none
    assert not balance["balanced"]
    assert balance["gaps"] == [
        {"lotId": lot["T1"], "siteGln": site["mapo"], "firmId": "retail", "gap": 50.0},
        {"lotId": lot["T2"], "siteGln": site["busan"], "firmId": "retail", "gap": 30.0},
    ]
    by_lot = {recipe.names([row.pop("lotId")])[0]: row for row in balance["lots"]}
    assert by_lot == {
        "M1": {
            "produced": 400.0,
            "used": 400.0,
            "shipped": 0.0,
            "inStock": 0.0,
            "disposed": 0.0,
            "gap": 0.0,
            "flagged": False,
        },
        "T1": {
            "produced": 120.0,
            "used": 0.0,
            "shipped": 190.0,
            "inStock": 70.0,
            "disposed": 0.0,
            "gap": 50.0,
            "flagged": True,
        },
        "T2": {
            "produced": 80.0,
            "used": 0.0,
            "shipped": 110.0,
            "inStock": 50.0,
            "disposed": 0.0,
            "gap": 30.0,
            "flagged": True,
        },
    }
    assert balance["products"] == sorted(
        [
            {
                "productGtin": product["milk"],
                "uom": "L",
                "lotCount": 1,
                "produced": 400.0,
                "used": 400.0,
                "inStock": 0.0,
                "disposed": 0.0,
                "gap": 0.0,
                "flagged": False,
            },
            {
                "productGtin": product["tofu"],
                "uom": "kg",
                "lotCount": 2,
                "produced": 200.0,
                "used": 0.0,
                "inStock": 120.0,
                "disposed": 0.0,
                "gap": 80.0,
                "flagged": True,
            },
        ],
        key=lambda row: (str(row["productGtin"]), str(row["uom"])),
    )
    # the retailer accounts for both: destroyed at Mapo, returned from Busan; the balance closes
    retail = principal("retail")
    data(await execute(graph, REPORT, retail, report(recall_id, lot["T1"], site["mapo"], 50.0, "DESTROYED")))
    data(await execute(graph, REPORT, retail, report(recall_id, lot["T2"], site["busan"], 30.0, "RETURNED")))
    closed = data(await execute(graph, BALANCE, COORDINATOR, {"id": recall_id}))["recall"]["massBalance"]
    assert closed["balanced"]
    assert closed["gaps"] == []
    assert data(await execute(graph, BALANCE, retail, {"id": recall_id}))["recall"]["massBalance"] is None


async def test_consignees_show_when_their_webhooks_took_the_recall(graph: Graph, recipe: Recipe) -> None:
    recall_id = await declare(graph, recipe, "M1")  # publishes RECALL_DECLARED to the outbox
    with Session(SQL_ENGINE) as session:
        event = session.exec(select(OutboxEvent).where(OutboxEvent.key == f"RECALL_DECLARED:{recall_id}")).one()
        assert event.id is not None
        for firm, status, delivered in (("dist", "DELIVERED", 1_790_000_000_000), ("retail", "PENDING", None)):
            session.add(
                WebhookDelivery(
                    id=f"delivery-{firm}",
                    event_id=event.id,
                    webhook_id=f"hook-{firm}",
                    firm_id=firm,
                    kind="RECALL_DECLARED",
                    body="{}",
                    status=status,
                    created_at_ms=1_790_000_000_000,
                    next_attempt_at_ms=1_790_000_000_000,
                    delivered_at_ms=delivered,
                )
            )
        session.commit()
    query = "query($id: ID!) { recall(id: $id) { consignees { firmId notifiedAt } } }"
    consignees = data(await execute(graph, query, COORDINATOR, {"id": recall_id}))["recall"]["consignees"]
    assert consignees == [
        {"firmId": "dist", "notifiedAt": "2026-09-21T14:13:20+00:00"},
        {"firmId": "plant", "notifiedAt": None},
        {"firmId": "retail", "notifiedAt": None},  # its delivery is still pending
    ]
