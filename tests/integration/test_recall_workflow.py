"""The recall workflow through GraphQL against the real graph: holds, impact, mock recalls and closing.

The chain: a farm's soybean lot S1 is shipped to the plant, which makes soy milk base M1 from it and, from M1,
two tofu lots T1 and T2; it also makes tofu X1 straight from S1 (a sibling of M1, not made from it). T1 and T2
go to the distributor's DC, then on to the retailer's stores (T2's delivery to Busan is still on the road).
A rival plant has its own tofu lot R1. Stock is counted at the plant, the DC and the Mapo store; the retailer
runs two channels that list tofu and the distributor an export channel that lists only soybeans.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest

from auth.principal import Role
from graph_schema import lots, parties
from graph_schema.db import Graph
from graph_schema.identifiers import lgtin_for
from graph_schema.records import (
    FirmRecord,
    InventoryRecord,
    LotQuantity,
    LotRecord,
    ProductRecord,
    SalesChannelRecord,
    ShipmentRecord,
    SiteRecord,
    TransformationRecord,
)
from tests.factories import T0, gln, gtin
from tests.graphql_client import codes, execute, principal

pytestmark = pytest.mark.neo4j

COORDINATOR = principal("plant", Role.RECALL_COORDINATOR)


@dataclass
class Recipe:
    """What the fixture wrote: sites, products and lots by short name."""

    site: dict[str, str]
    product: dict[str, str]
    lot: dict[str, str]

    def names(self, ids: list[str]) -> list[str]:
        by_id = {v: k for k, v in self.lot.items()}
        return [by_id[i] for i in ids]


async def _lot(graph: Graph, owner: str, site: str, product: str, lot_id: str, quantity: float, uom: str) -> None:
    record = LotRecord(
        id=lot_id, owner_firm_id=owner, site_gln=site, quantity=quantity, uom=uom, produced_at=T0 + timedelta(days=1)
    )
    await lots.record_lots(graph, [record])


async def _make(graph: Graph, firm: str, site: str, name: str, inputs: list[tuple[str, float]], output: str) -> None:
    await lots.record_transformations(
        graph,
        [
            TransformationRecord(
                id=f"T-{name}",
                firm_id=firm,
                site_gln=site,
                occurred_at=T0 + timedelta(days=1),
                inputs=[LotQuantity(lot_id=lot, quantity=q, uom="kg") for lot, q in inputs],
                outputs=[LotQuantity(lot_id=output, quantity=1.0, uom="kg")],
            )
        ],
    )


async def _ship(
    graph: Graph,
    shipment_id: str,
    src: str,
    dst: str,
    items: list[tuple[str, float]],
    *,
    doc: str | None,
    received: bool,
) -> None:
    await lots.record_shipments(
        graph,
        [
            ShipmentRecord(
                id=shipment_id,
                from_gln=src,
                to_gln=dst,
                shipped_at=T0 + timedelta(days=2),
                received_at=T0 + timedelta(days=2, hours=5) if received else None,
                doc_type="DESADV" if doc else None,
                doc_number=doc,
                items=[LotQuantity(lot_id=lot, quantity=q, uom="kg") for lot, q in items],
            )
        ],
        shipper_firm_id=None,
    )


@pytest.fixture
async def recipe(graph: Graph) -> Recipe:
    roles = {"farm": "FARM", "plant": "PLANT", "dist": "DISTRIBUTOR", "retail": "RETAILER", "rival": "PLANT"}
    roles["agency"] = "AGENCY"
    await parties.upsert_firms(graph, [FirmRecord(id=f, name=f"Firm {f}", roles=[r]) for f, r in roles.items()])
    site = {name: gln() for name in ("field", "plant", "dc", "mapo", "busan", "rival")}
    await parties.upsert_sites(
        graph,
        [
            SiteRecord(gln=site["field"], firm_id="farm", name="Soy field", kind="FARM", region="Gangwon"),
            SiteRecord(gln=site["plant"], firm_id="plant", name="Tofu plant", kind="PLANT", region="Chungbuk"),
            SiteRecord(gln=site["dc"], firm_id="dist", name="Central DC", kind="DC", region="Gyeonggi"),
            SiteRecord(gln=site["mapo"], firm_id="retail", name="Store Mapo", kind="STORE", region="Seoul"),
            SiteRecord(gln=site["busan"], firm_id="retail", name="Store Busan", kind="STORE", region="Busan"),
            SiteRecord(gln=site["rival"], firm_id="rival", name="Rival plant", kind="PLANT"),
        ],
    )
    product = {"soy": gtin(), "milk": gtin(), "tofu": gtin()}
    await parties.upsert_products(
        graph,
        [
            ProductRecord(gtin=product["soy"], owner_firm_id="farm", name="Soybean", category="raw", uom="kg"),
            ProductRecord(gtin=product["milk"], owner_firm_id="plant", name="Soy milk base", category="mid", uom="L"),
            ProductRecord(gtin=product["tofu"], owner_firm_id="plant", name="Firm tofu", category="tofu", uom="kg"),
        ],
    )
    lot = {
        "S1": lgtin_for(product["soy"], "S1"),
        "M1": lgtin_for(product["milk"], "M1"),
        "T1": lgtin_for(product["tofu"], "T1"),
        "T2": lgtin_for(product["tofu"], "T2"),
        "X1": lgtin_for(product["tofu"], "X1"),
        "R1": lgtin_for(product["tofu"], "R1"),
    }
    await _lot(graph, "farm", site["field"], product["soy"], lot["S1"], 500.0, "kg")
    await _lot(graph, "plant", site["plant"], product["milk"], lot["M1"], 400.0, "L")
    await _lot(graph, "plant", site["plant"], product["tofu"], lot["T1"], 120.0, "kg")
    await _lot(graph, "plant", site["plant"], product["tofu"], lot["T2"], 80.0, "kg")
    await _lot(graph, "plant", site["plant"], product["tofu"], lot["X1"], 100.0, "kg")
    await _lot(graph, "rival", site["rival"], product["tofu"], lot["R1"], 90.0, "kg")
    # the farm sent no reference document with S1: an FSMA 204 gap the drill should find
    await _ship(graph, "SH1", site["field"], site["plant"], [(lot["S1"], 500.0)], doc=None, received=True)
    await _make(graph, "plant", site["plant"], "M1", [(lot["S1"], 150.0)], lot["M1"])
    await _make(graph, "plant", site["plant"], "X1", [(lot["S1"], 150.0)], lot["X1"])
    await _make(graph, "plant", site["plant"], "T1", [(lot["M1"], 240.0)], lot["T1"])
    await _make(graph, "plant", site["plant"], "T2", [(lot["M1"], 160.0)], lot["T2"])
    await _ship(
        graph, "SH2", site["plant"], site["dc"], [(lot["T1"], 120.0), (lot["T2"], 80.0)], doc="B-2", received=True
    )
    await _ship(graph, "SH3", site["dc"], site["mapo"], [(lot["T1"], 70.0)], doc="B-3", received=True)
    await _ship(graph, "SH4", site["dc"], site["busan"], [(lot["T2"], 30.0)], doc="B-4", received=False)
    counted = T0 + timedelta(days=3)
    await lots.record_inventory(
        graph,
        [
            InventoryRecord(lot_id=lot["S1"], site_gln=site["plant"], quantity=200.0, uom="kg", as_of=counted),
            InventoryRecord(lot_id=lot["T1"], site_gln=site["dc"], quantity=50.0, uom="kg", as_of=counted),
            InventoryRecord(lot_id=lot["T1"], site_gln=site["mapo"], quantity=20.0, uom="kg", as_of=counted),
            InventoryRecord(lot_id=lot["T2"], site_gln=site["dc"], quantity=50.0, uom="kg", as_of=counted),
        ],
    )
    await parties.upsert_sales_channels(
        graph,
        [
            SalesChannelRecord(
                id="retail-online",
                operator_firm_id="retail",
                name="Retail online mall",
                kind="ONLINE_MARKETPLACE",
                store_glns=[site["mapo"]],
                listed_gtins=[product["tofu"]],
            ),
            SalesChannelRecord(
                id="retail-chain",
                operator_firm_id="retail",
                name="Retail chain",
                kind="RETAIL_CHAIN",
                store_glns=[site["mapo"], site["busan"]],
                listed_gtins=[product["tofu"], product["soy"]],
            ),
            SalesChannelRecord(
                id="dist-export",
                operator_firm_id="dist",
                name="Export desk",
                kind="EXPORT",
                store_glns=[site["busan"]],
                listed_gtins=[product["soy"]],
            ),
        ],
    )
    return Recipe(site=site, product=product, lot=lot)


async def statuses(graph: Graph, recipe: Recipe) -> dict[str, str]:
    rows = await graph.read("MATCH (l:Lot) RETURN l.id AS id, l.status AS status")
    by_id = {v: k for k, v in recipe.lot.items()}
    return {by_id[row["id"]]: row["status"] for row in rows}


def data(result: Any) -> dict[str, Any]:
    assert result.errors is None, result.errors
    assert result.data is not None
    out: dict[str, Any] = result.data
    return out


DECLARE = """mutation($lots: [ID!]!, $hold: LotHold! = ON_HOLD) {
  declareRecall(input: {lotIds: $lots, reason: "Listeria in soy milk base", recallClass: I, hold: $hold}) {
    id status hold lotIds affectedLotCount heldLotCount } }"""
CLOSE = "mutation($id: ID!) { closeRecall(id: $id) { status } }"

IMPACT_FIELDS = """
  affectedLotCount lotCount hiddenLotCount heldLotCount firmCount siteCount channelCount
  quantities { productGtin productName uom quantity lotCount }
  inStock { productGtin productName uom quantity lotCount }
  firms { id name roles lotCount siteCount }
  sites { gln name kind region firmId lotCount stock { productGtin quantity uom lotCount } }
  channels { id name kind operatorFirmId productGtins siteGlns lotCount operator { id } }"""
IMPACT = "query($id: ID!, $dir: TraceDirection) { recall(id: $id) { impact(direction: $dir) {" + IMPACT_FIELDS + "} } }"
AFFECTED = """query($id: ID!, $first: Int = 20, $after: String, $dir: TraceDirection) { recall(id: $id) {
  affectedLots(first: $first, after: $after, direction: $dir) { totalCount pageInfo { hasNextPage endCursor }
    edges { node { id direction depth held recalled redacted ownerRole lot { id status } } } } } }"""


async def declare(graph: Graph, recipe: Recipe, *names: str, hold: str = "ON_HOLD", by: Any = COORDINATOR) -> str:
    result = await execute(graph, DECLARE, by, {"lots": [recipe.lot[n] for n in names], "hold": hold})
    recall_id: str = data(result)["declareRecall"]["id"]
    return recall_id


async def test_declaring_holds_the_recalled_lots_and_everything_downstream_only(graph: Graph, recipe: Recipe) -> None:
    before = await statuses(graph, recipe)
    assert set(before.values()) == {"ACTIVE"}
    declared = data(await execute(graph, DECLARE, COORDINATOR, {"lots": [recipe.lot["M1"]]}))["declareRecall"]
    assert {k: declared[k] for k in ("status", "hold", "lotIds", "affectedLotCount", "heldLotCount")} == {
        "status": "OPEN",
        "hold": "ON_HOLD",
        "lotIds": [recipe.lot["M1"]],
        "affectedLotCount": 4,  # M1, T1, T2 downstream; S1 upstream
        "heldLotCount": 3,
    }
    assert await statuses(graph, recipe) == {
        "S1": "ACTIVE",  # upstream: traced, not held
        "M1": "ON_HOLD",
        "T1": "ON_HOLD",
        "T2": "ON_HOLD",
        "X1": "ACTIVE",  # made from S1 but not from M1
        "R1": "ACTIVE",
    }
    listed = data(await execute(graph, AFFECTED, COORDINATOR, {"id": declared["id"]}))["recall"]["affectedLots"]
    nodes = [edge["node"] for edge in listed["edges"]]
    assert listed["totalCount"] == 4
    assert [
        (recipe.names([n["id"]])[0], n["direction"], n["depth"], n["held"], n["recalled"], n["lot"]["status"])
        for n in nodes
    ] == [
        ("M1", "DOWNSTREAM", 0, True, True, "ON_HOLD"),
        ("T1", "DOWNSTREAM", 1, True, False, "ON_HOLD"),
        ("T2", "DOWNSTREAM", 1, True, False, "ON_HOLD"),
        ("S1", "UPSTREAM", 1, False, False, "ACTIVE"),
    ]
    assert {n["redacted"] for n in nodes} == {False}
    seen = data(
        await execute(
            graph, "query($id: ID!) { lot(id: $id) { status } }", principal("plant"), {"id": recipe.lot["T2"]}
        )
    )
    assert seen == {"lot": {"status": "ON_HOLD"}}


async def test_a_recall_may_recall_its_lots_outright(graph: Graph, recipe: Recipe) -> None:
    recall_id = await declare(graph, recipe, "T1", hold="RECALLED")
    assert await statuses(graph, recipe) == {
        "S1": "ACTIVE",
        "M1": "ACTIVE",
        "T1": "RECALLED",
        "T2": "ACTIVE",
        "X1": "ACTIVE",
        "R1": "ACTIVE",
    }
    shown = data(
        await execute(
            graph, "query($id: ID!) { recall(id: $id) { hold heldLotCount } }", COORDINATOR, {"id": recall_id}
        )
    )
    assert shown == {"recall": {"hold": "RECALLED", "heldLotCount": 1}}


def expected_full_impact(recipe: Recipe) -> dict[str, Any]:
    """The impact of recalling M1, worked out by hand from the chain."""
    p, s = recipe.product, recipe.site
    tofu_stock = {"productGtin": p["tofu"], "quantity": 100.0, "uom": "kg", "lotCount": 2}
    sites = [
        {"gln": s["field"], "name": "Soy field", "kind": "FARM", "region": "Gangwon", "firmId": "farm", "lotCount": 1,
         "stock": []},
        {"gln": s["plant"], "name": "Tofu plant", "kind": "PLANT", "region": "Chungbuk", "firmId": "plant",
         "lotCount": 4, "stock": [{"productGtin": p["soy"], "quantity": 200.0, "uom": "kg", "lotCount": 1}]},
        {"gln": s["dc"], "name": "Central DC", "kind": "DC", "region": "Gyeonggi", "firmId": "dist", "lotCount": 2,
         "stock": [tofu_stock]},
        {"gln": s["mapo"], "name": "Store Mapo", "kind": "STORE", "region": "Seoul", "firmId": "retail",
         "lotCount": 1, "stock": [{"productGtin": p["tofu"], "quantity": 20.0, "uom": "kg", "lotCount": 1}]},
        {"gln": s["busan"], "name": "Store Busan", "kind": "STORE", "region": "Busan", "firmId": "retail",
         "lotCount": 1, "stock": []},
    ]  # fmt: skip
    return {
        "affectedLotCount": 4,
        "lotCount": 4,
        "hiddenLotCount": 0,
        "heldLotCount": 3,
        "firmCount": 4,
        "siteCount": 5,
        "channelCount": 2,
        "quantities": sorted(
            [
                {"productGtin": p["soy"], "productName": "Soybean", "uom": "kg", "quantity": 500.0, "lotCount": 1},
                {
                    "productGtin": p["milk"],
                    "productName": "Soy milk base",
                    "uom": "L",
                    "quantity": 400.0,
                    "lotCount": 1,
                },
                {"productGtin": p["tofu"], "productName": "Firm tofu", "uom": "kg", "quantity": 200.0, "lotCount": 2},
            ],
            key=lambda q: str(q["productGtin"]),
        ),
        "inStock": sorted(
            [
                {"productGtin": p["soy"], "productName": "Soybean", "uom": "kg", "quantity": 200.0, "lotCount": 1},
                {"productGtin": p["tofu"], "productName": "Firm tofu", "uom": "kg", "quantity": 120.0, "lotCount": 2},
            ],
            key=lambda q: str(q["productGtin"]),
        ),
        "firms": [
            {"id": "dist", "name": "Firm dist", "roles": ["DISTRIBUTOR"], "lotCount": 0, "siteCount": 1},
            {"id": "farm", "name": "Firm farm", "roles": ["FARM"], "lotCount": 1, "siteCount": 1},
            {"id": "plant", "name": "Firm plant", "roles": ["PLANT"], "lotCount": 3, "siteCount": 1},
            {"id": "retail", "name": "Firm retail", "roles": ["RETAILER"], "lotCount": 0, "siteCount": 2},
        ],
        "sites": sorted(sites, key=lambda site: str(site["gln"])),
        # the export desk lists soybeans only and no soybean lot reached Busan: it is not in the impact
        "channels": [
            {
                "id": "retail-chain",
                "name": "Retail chain",
                "kind": "RETAIL_CHAIN",
                "operatorFirmId": "retail",
                "productGtins": [p["tofu"]],
                "siteGlns": sorted([s["mapo"], s["busan"]]),
                "lotCount": 2,
                "operator": {"id": "retail"},
            },
            {
                "id": "retail-online",
                "name": "Retail online mall",
                "kind": "ONLINE_MARKETPLACE",
                "operatorFirmId": "retail",
                "productGtins": [p["tofu"]],
                "siteGlns": [s["mapo"]],
                "lotCount": 1,
                "operator": {"id": "retail"},
            },
        ],
    }


async def test_the_impact_is_exact_for_the_coordinator_and_the_agency(graph: Graph, recipe: Recipe) -> None:
    answer = data(
        await execute(
            graph,
            'mutation($lots: [ID!]!) { declareRecall(input: {lotIds: $lots, reason: "Listeria", recallClass: I})'
            " { id impact {" + IMPACT_FIELDS + "} } }",
            COORDINATOR,
            {"lots": [recipe.lot["M1"]]},
        )
    )["declareRecall"]
    expected = expected_full_impact(recipe)
    assert answer["impact"] == expected  # the recall just declared opens its trace within the same request
    for caller in (COORDINATOR, principal("plant", Role.VIEWER), principal("agency", Role.AUDITOR)):
        impact = data(await execute(graph, IMPACT, caller, {"id": answer["id"]}))["recall"]["impact"]
        assert impact == expected, caller.firm_id

    upstream = data(await execute(graph, IMPACT, COORDINATOR, {"id": answer["id"], "dir": "UPSTREAM"}))
    impact = upstream["recall"]["impact"]
    assert (impact["lotCount"], impact["heldLotCount"], impact["channelCount"]) == (1, 0, 0)
    assert impact["quantities"] == [
        {"productGtin": recipe.product["soy"], "productName": "Soybean", "uom": "kg", "quantity": 500.0, "lotCount": 1}
    ]
    downstream = data(await execute(graph, IMPACT, COORDINATOR, {"id": answer["id"], "dir": "DOWNSTREAM"}))
    assert downstream["recall"]["impact"]["inStock"] == [
        {
            "productGtin": recipe.product["tofu"],
            "productName": "Firm tofu",
            "uom": "kg",
            "quantity": 120.0,
            "lotCount": 2,
        }
    ]

    # reading other firms' lots through the recall is logged for each owner
    log = "{ accessLog { edges { node { accessorFirmId operation } } } }"
    farm_log = data(await execute(graph, log, principal("farm", Role.AUDITOR)))["accessLog"]["edges"]
    assert {"accessorFirmId": "agency", "operation": "recall"} in [edge["node"] for edge in farm_log]


async def test_an_owner_of_one_affected_lot_sees_only_what_it_may_see(graph: Graph, recipe: Recipe) -> None:
    recall_id = await declare(graph, recipe, "M1")
    # the farm owns S1, upstream of M1: it may read the recall, but the plant's lots stay hidden from it
    farm = data(await execute(graph, IMPACT, principal("farm", Role.VIEWER), {"id": recall_id}))["recall"]["impact"]
    p, s = recipe.product, recipe.site
    assert farm == {
        "affectedLotCount": 4,
        "lotCount": 1,
        "hiddenLotCount": 3,
        "heldLotCount": 0,
        "firmCount": 2,
        "siteCount": 2,
        "channelCount": 0,
        "quantities": [
            {"productGtin": p["soy"], "productName": "Soybean", "uom": "kg", "quantity": 500.0, "lotCount": 1}
        ],
        "inStock": [],  # the soybeans left at the plant are the plant's stock
        "firms": [
            {"id": "farm", "name": "Firm farm", "roles": ["FARM"], "lotCount": 1, "siteCount": 1},
            {"id": "plant", "name": "Firm plant", "roles": ["PLANT"], "lotCount": 0, "siteCount": 1},
        ],
        "sites": sorted(
            [
                {
                    "gln": s["field"],
                    "name": "Soy field",
                    "kind": "FARM",
                    "region": "Gangwon",
                    "firmId": "farm",
                    "lotCount": 1,
                    "stock": [],
                },
                {
                    "gln": s["plant"],
                    "name": "Tofu plant",
                    "kind": "PLANT",
                    "region": "Chungbuk",
                    "firmId": "plant",
                    "lotCount": 1,
                    "stock": [],
                },
            ],
            key=lambda site: str(site["gln"]),
        ),
        "channels": [],
    }
    listed = data(await execute(graph, AFFECTED, principal("farm", Role.VIEWER), {"id": recall_id}))
    nodes = [edge["node"] for edge in listed["recall"]["affectedLots"]["edges"]]
    assert [(n["redacted"], n["direction"], n["depth"], n["held"], n["ownerRole"]) for n in nodes] == [
        (True, "DOWNSTREAM", 0, True, "PLANT"),
        (True, "DOWNSTREAM", 1, True, "PLANT"),
        (True, "DOWNSTREAM", 1, True, "PLANT"),
        (False, "UPSTREAM", 1, False, "FARM"),
    ]
    hidden = [n["id"] for n in nodes if n["redacted"]]
    assert all(i.startswith("redacted:lot:") for i in hidden)
    assert len(set(hidden)) == 3
    assert not set(hidden) & set(recipe.lot.values())
    assert [n["lot"] for n in nodes if n["lot"]] == [{"id": recipe.lot["S1"], "status": "ACTIVE"}]

    # the firms T1 and T2 were shipped to hold affected lots: they are told, and read the recall with those two
    # lots in full and the rest hidden; a firm holding no affected lot cannot read the recall at all
    for receiver in ("dist", "retail"):
        impact = data(await execute(graph, IMPACT, principal(receiver), {"id": recall_id}))["recall"]["impact"]
        assert (impact["lotCount"], impact["hiddenLotCount"]) == (2, 2), receiver
    for query in (IMPACT, AFFECTED):
        assert data(await execute(graph, query, principal("rival"), {"id": recall_id})) == {"recall": None}
    # what they see in detail is the lots that reached them
    for consignee, received in (("dist", {"T1", "T2"}), ("retail", {"T1", "T2"})):
        listed = data(await execute(graph, AFFECTED, principal(consignee), {"id": recall_id}))
        nodes = [edge["node"] for edge in listed["recall"]["affectedLots"]["edges"]]
        assert {recipe.names([n["lot"]["id"]])[0] for n in nodes if n["lot"]} == received, consignee
        assert len(nodes) == 4


async def test_affected_lots_come_in_pages(graph: Graph, recipe: Recipe) -> None:
    recall_id = await declare(graph, recipe, "M1")
    first = data(await execute(graph, AFFECTED, COORDINATOR, {"id": recall_id, "first": 3}))["recall"]["affectedLots"]
    assert first["totalCount"] == 4
    assert first["pageInfo"]["hasNextPage"] is True
    after = first["pageInfo"]["endCursor"]
    rest = data(await execute(graph, AFFECTED, COORDINATOR, {"id": recall_id, "first": 3, "after": after}))
    page = rest["recall"]["affectedLots"]
    assert recipe.names([e["node"]["id"] for e in first["edges"]]) == ["M1", "T1", "T2"]
    assert recipe.names([e["node"]["id"] for e in page["edges"]]) == ["S1"]
    assert page["pageInfo"]["hasNextPage"] is False
    up = data(await execute(graph, AFFECTED, COORDINATOR, {"id": recall_id, "dir": "UPSTREAM"}))
    assert up["recall"]["affectedLots"]["totalCount"] == 1
    bad = await execute(graph, AFFECTED, COORDINATOR, {"id": recall_id, "after": "bm90LWEtY3Vyc29y"})
    assert codes(bad) == ["BAD_USER_INPUT"]


MOCK = (
    """mutation($lots: [ID!]!) { mockRecall(input: {lotIds: $lots, reason: "Annual drill", recallClass: II}) {
  mock reason recallClass hold lotIds affectedLotCount upstreamLotCount downstreamLotCount hiddenLotCount firmCount
  totalMillis steps { name millis rowCount }
  affectedLots { id direction depth held recalled redacted }
  impact {"""
    + IMPACT_FIELDS
    + """}
  exportReadiness { ready eventCount incompleteEventCount problems { event missing } } } }"""
)


async def test_a_mock_recall_changes_nothing_and_reports_its_steps(graph: Graph, recipe: Recipe) -> None:
    before = await statuses(graph, recipe)
    answer = await execute(graph, MOCK, COORDINATOR, {"lots": [recipe.lot["M1"]]})
    report = data(answer)["mockRecall"]
    assert await statuses(graph, recipe) == before
    assert (await graph.read("MATCH (r:Recall) RETURN count(r) AS n"))[0]["n"] == 0
    assert (await graph.read("MATCH ()-[a:AFFECTS]->() RETURN count(a) AS n"))[0]["n"] == 0

    assert [(s["name"], s["rowCount"]) for s in report["steps"]] == [
        ("traceUpstream", 2),  # M1 itself and S1
        ("traceDownstream", 3),
        ("impactAggregation", 1),
        ("exportReadiness", 1),
    ]
    assert all(s["millis"] > 0 for s in report["steps"])
    assert report["totalMillis"] >= sum(s["millis"] for s in report["steps"])
    assert {k: report[k] for k in ("mock", "reason", "recallClass", "hold", "lotIds")} == {
        "mock": True,
        "reason": "Annual drill",
        "recallClass": "II",
        "hold": "ON_HOLD",
        "lotIds": [recipe.lot["M1"]],
    }
    assert (report["affectedLotCount"], report["upstreamLotCount"], report["downstreamLotCount"]) == (4, 1, 3)
    assert [
        (recipe.names([n["id"]])[0], n["direction"], n["depth"], n["held"], n["recalled"])
        for n in report["affectedLots"]
    ] == [
        ("M1", "DOWNSTREAM", 0, True, True),
        ("T1", "DOWNSTREAM", 1, True, False),
        ("T2", "DOWNSTREAM", 1, True, False),
        ("S1", "UPSTREAM", 1, False, False),
    ]
    # nothing is opened: the plant sees its own lots and S1 (shipped to it), the DC's onward deliveries and
    # stock stay the distributor's and the retailer's, so the drill shows less than a declared recall would
    impact = report["impact"]
    full = expected_full_impact(recipe)
    assert impact["quantities"] == full["quantities"]
    assert impact["inStock"] == [
        {"productGtin": recipe.product["soy"], "productName": "Soybean", "uom": "kg", "quantity": 200.0, "lotCount": 1}
    ]
    assert [site["gln"] for site in impact["sites"]] == sorted(
        [recipe.site["field"], recipe.site["plant"], recipe.site["dc"]]
    )
    assert (impact["channelCount"], report["firmCount"], report["hiddenLotCount"]) == (0, 3, 0)
    assert report["exportReadiness"] == {
        "ready": False,
        # 4 creations, 3 transformations, SH1 (S1) and SH2 (T1, T2) each shipped and received
        "eventCount": 13,
        "incompleteEventCount": 2,
        "problems": [
            {"event": f"receiving of {recipe.lot['S1']} in SH1", "missing": ["reference document"]},
            {"event": f"shipping of {recipe.lot['S1']} in SH1", "missing": ["reference document"]},
        ],
    }
    # the drill read the farm's lot: the farm can see that it did
    log = "{ accessLog { edges { node { accessorFirmId operation recordCount } } } }"
    farm_log = data(await execute(graph, log, principal("farm", Role.AUDITOR)))["accessLog"]["edges"]
    assert [edge["node"] for edge in farm_log] == [
        {"accessorFirmId": "plant", "operation": "mockRecall", "recordCount": 2}
    ]


async def test_a_mock_recall_while_a_recall_is_open_reports_what_the_recall_opened(
    graph: Graph, recipe: Recipe
) -> None:
    await declare(graph, recipe, "M1")
    before = await statuses(graph, recipe)
    report = data(await execute(graph, MOCK, COORDINATOR, {"lots": [recipe.lot["M1"]]}))["mockRecall"]
    assert await statuses(graph, recipe) == before
    assert report["impact"] == expected_full_impact(recipe)
    assert report["exportReadiness"]["incompleteEventCount"] == 3  # SH1 twice, and SH4 is not received yet
    assert (await graph.read("MATCH (r:Recall) RETURN count(r) AS n"))[0]["n"] == 1


async def test_stock_shared_at_inventory_detail_counts_in_the_impact(graph: Graph, recipe: Recipe) -> None:
    grant = """mutation { grantSharing(input: {scope: INVENTORY, level: DETAIL, toFirmId: "plant"}) { id } }"""
    data(await execute(graph, grant, principal("dist")))
    report = data(await execute(graph, MOCK, COORDINATOR, {"lots": [recipe.lot["M1"]]}))["mockRecall"]
    tofu = {"productGtin": recipe.product["tofu"], "productName": "Firm tofu", "uom": "kg"}
    soy = {"productGtin": recipe.product["soy"], "productName": "Soybean", "uom": "kg"}
    # the DC's stock of T1 and T2 is now the plant's to see; the Mapo store's stays the retailer's
    assert report["impact"]["inStock"] == sorted(
        [{**soy, "quantity": 200.0, "lotCount": 1}, {**tofu, "quantity": 100.0, "lotCount": 2}],
        key=lambda q: str(q["productGtin"]),
    )
    dc = [site for site in report["impact"]["sites"] if site["gln"] == recipe.site["dc"]]
    assert dc[0]["stock"] == [{"productGtin": recipe.product["tofu"], "quantity": 100.0, "uom": "kg", "lotCount": 2}]


async def test_mock_recalls_follow_the_rules_of_declare_recall(graph: Graph, recipe: Recipe) -> None:
    lots_in = {"lots": [recipe.lot["M1"]]}
    assert codes(await execute(graph, MOCK, principal("plant", Role.ADMIN), lots_in)) == ["FORBIDDEN"]
    assert codes(await execute(graph, MOCK, principal("rival", Role.RECALL_COORDINATOR), lots_in)) == ["NOT_FOUND"]
    assert codes(await execute(graph, MOCK, None, lots_in)) == ["UNAUTHENTICATED"]
    assert codes(await execute(graph, MOCK, COORDINATOR, {"lots": ["not-a-lot"]})) == ["BAD_USER_INPUT"]
    agency = data(await execute(graph, MOCK, principal("agency", Role.RECALL_COORDINATOR), lots_in))["mockRecall"]
    # the agency may drill any lot, but a drill opens nothing: every lot stays hidden from it
    assert (agency["affectedLotCount"], agency["hiddenLotCount"], agency["impact"]["lotCount"]) == (4, 4, 0)
    assert {n["redacted"] for n in agency["affectedLots"]} == {True}
    assert agency["exportReadiness"] == {"ready": True, "eventCount": 0, "incompleteEventCount": 0, "problems": []}


async def test_closing_releases_the_holds_no_other_open_recall_keeps(graph: Graph, recipe: Recipe) -> None:
    # a quality hold placed before any recall, on a lot made from S1
    x2 = lgtin_for(recipe.product["tofu"], "X2")
    await lots.record_lots(
        graph,
        [
            LotRecord(
                id=x2,
                owner_firm_id="plant",
                site_gln=recipe.site["plant"],
                quantity=10.0,
                uom="kg",
                produced_at=T0 + timedelta(days=1),
                status="ON_HOLD",
            )
        ],
    )
    await _make(graph, "plant", recipe.site["plant"], "X2", [(recipe.lot["S1"], 5.0)], x2)
    recipe.lot["X2"] = x2
    farm_coordinator = principal("farm", Role.RECALL_COORDINATOR)

    a = await declare(graph, recipe, "M1")
    b = await declare(graph, recipe, "T2")
    c = await declare(graph, recipe, "S1", by=farm_coordinator)
    held = {"S1": "ON_HOLD", "M1": "ON_HOLD", "T1": "ON_HOLD", "T2": "ON_HOLD", "X1": "ON_HOLD", "X2": "ON_HOLD"}
    assert await statuses(graph, recipe) == {**held, "R1": "ACTIVE"}

    assert data(await execute(graph, CLOSE, COORDINATOR, {"id": a}))["closeRecall"]["status"] == "CLOSED"
    assert await statuses(graph, recipe) == {**held, "R1": "ACTIVE"}  # C still holds them all

    data(await execute(graph, CLOSE, farm_coordinator, {"id": c}))
    assert await statuses(graph, recipe) == {
        "S1": "ACTIVE",
        "M1": "ACTIVE",
        "T1": "ACTIVE",
        "T2": "ON_HOLD",  # B is still open
        "X1": "ACTIVE",
        "X2": "ON_HOLD",  # held before any recall: closing one does not release it
        "R1": "ACTIVE",
    }
    data(await execute(graph, CLOSE, COORDINATOR, {"id": b}))
    after = await statuses(graph, recipe)
    assert (after["T2"], after["X2"]) == ("ACTIVE", "ON_HOLD")

    # RECALLED is final; an ON_HOLD recall does not downgrade it, and closing either leaves it RECALLED
    d = await declare(graph, recipe, "T1", hold="RECALLED")
    e = await declare(graph, recipe, "M1")
    assert await statuses(graph, recipe) == {**after, "M1": "ON_HOLD", "T1": "RECALLED", "T2": "ON_HOLD"}
    data(await execute(graph, CLOSE, COORDINATOR, {"id": d}))
    data(await execute(graph, CLOSE, COORDINATOR, {"id": e}))
    assert await statuses(graph, recipe) == {**after, "T1": "RECALLED"}
    again = await execute(graph, CLOSE, COORDINATOR, {"id": e})
    assert codes(again) == ["CONFLICT"]
    assert await statuses(graph, recipe) == {**after, "T1": "RECALLED"}
