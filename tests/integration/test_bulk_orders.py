"""Bulk orders through GraphQL against the real graph: who gets a share and why, answers, lots, visibility, demand."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from auth.principal import Role
from graph_schema import lots
from graph_schema.db import Graph
from graph_schema.identifiers import lgtin_for
from graph_schema.records import LotQuantity, LotRecord, ShipmentRecord
from tests.factories import T0
from tests.graphql_client import codes, execute, principal
from tests.integration.commerce import certify, firm, product, share, stocked_lot

pytestmark = pytest.mark.neo4j

YEAR = timedelta(days=365)
ORDER_FIELDS = """id quantity uom status smartHaccpRequired allocatedQuantity acceptedQuantity unallocatedQuantity
  producedQuantity shippedQuantity buyer { id } deliverySite { gln }
  allocations { id firm { id } status round quantity fromStock fromCapacity
    reason { freeStock freeCapacity capacityPerDay days certificationKind } }
  lots { lotId allocationId quantity shippedQuantity firm { id } lot { id } }"""
PLACE = "mutation($in: BulkOrderInput!) { placeBulkOrder(input: $in) { " + ORDER_FIELDS + " } }"
ANSWER = (
    """mutation($id: ID!, $accept: Boolean!) { answerAllocation(id: $id, accept: $accept, reason: "line busy") {
  """
    + ORDER_FIELDS
    + " } }"
)
LINK = (
    """mutation($allocation: ID!, $lots: [ID!]!) { recordOrderLots(allocationId: $allocation, lotIds: $lots) {
  """
    + ORDER_FIELDS
    + " } }"
)
ORDER = "query($id: ID!) { bulkOrder(id: $id) { " + ORDER_FIELDS + " } }"
CAPACITY = (
    """mutation($in: CapacityInput!) { declareCapacity(input: $in) { category quantityPerDay uom site { gln } } }"""
)


@dataclass
class Cluster:
    now: datetime
    tofu: str
    kimchi: str
    sites: dict[str, str]  # firm -> its one site
    stock_lot: str  # 200 EA of tofu held at p-haccp's plant


@pytest.fixture
async def cluster(graph: Graph) -> Cluster:
    now = datetime.now(UTC)
    sites = {"anchor": (await firm(graph, "anchor", "ANCHOR", "PLANT", sites={"Seoul": "DC"}))["Seoul"]}
    tofu = await product(graph, "anchor", name="Firm tofu", category="Tofu")
    kimchi = await product(graph, "anchor", name="Napa kimchi", category="Kimchi")
    plants = {
        "p-smart": ("Gangwon", "Tofu", 100.0),
        "p-haccp": ("Jeonbuk", "Tofu", 300.0),
        "p-expiring": ("Chungnam", "Tofu", 500.0),
        "p-lapsed": ("Chungbuk", "Tofu", 500.0),
        "p-uncertified": ("Gyeonggi", "Tofu", 500.0),
        "p-kimchi": ("Gwangju", "Kimchi", 500.0),
    }
    for name, (region, category, per_day) in plants.items():
        sites[name] = (await firm(graph, name, "OEM", "PLANT", sites={region: "PLANT"}))[region]
        declared = await execute(
            graph,
            CAPACITY,
            principal(name, Role.EDITOR),
            {"in": {"siteGln": sites[name], "category": category, "quantityPerDay": per_day, "uom": "EA"}},
        )
        assert declared.errors is None, declared.errors
    for name in ("p-smart", "p-haccp", "p-kimchi"):
        await certify(graph, name, sites[name], "HACCP", valid_from=now - YEAR, valid_until=now + YEAR)
    await certify(graph, "p-smart", sites["p-smart"], "SMART_HACCP", valid_from=now - YEAR, valid_until=now + YEAR)
    await certify(
        graph, "p-expiring", sites["p-expiring"], "HACCP", valid_from=now - YEAR, valid_until=now + timedelta(days=5)
    )
    await certify(
        graph, "p-lapsed", sites["p-lapsed"], "SMART_HACCP", valid_from=now - 2 * YEAR, valid_until=now - timedelta(1)
    )
    sites["rival"] = (await firm(graph, "rival", "RETAILER", sites={"Busan": "DC"}))["Busan"]
    stock_lot = await stocked_lot(graph, owner="p-haccp", site=sites["p-haccp"], product_gtin=tofu, quantity=200.0)
    return Cluster(now=now, tofu=tofu, kimchi=kimchi, sites=sites, stock_lot=stock_lot)


async def place(graph: Graph, c: Cluster, quantity: float, *, days: float = 10.25, smart: bool = False) -> Any:
    due = c.now + timedelta(days=days)
    result = await execute(
        graph,
        PLACE,
        principal("anchor", Role.EDITOR),
        {
            "in": {
                "productGtin": c.tofu,
                "quantity": quantity,
                "dueAt": due.isoformat(),
                "deliveryGln": c.sites["anchor"],
                "smartHaccpRequired": smart,
            }
        },
    )
    assert result.errors is None, result.errors
    assert result.data is not None
    return result.data["placeBulkOrder"]


def shares(order: dict[str, Any]) -> dict[tuple[str, int], tuple[str, float, float, float]]:
    """(firm, round) -> (status, quantity, fromStock, fromCapacity)."""
    return {
        (a["firm"]["id"], a["round"]): (a["status"], a["quantity"], a["fromStock"], a["fromCapacity"])
        for a in order["allocations"]
    }


def allocation_of(order: dict[str, Any], firm_id: str, round_number: int = 1) -> str:
    [allocation] = [a for a in order["allocations"] if a["firm"]["id"] == firm_id and a["round"] == round_number]
    return str(allocation["id"])


async def test_shares_go_to_certified_plants_of_the_category_stock_first_then_by_free_capacity(
    graph: Graph, cluster: Cluster
) -> None:
    order = await place(graph, cluster, 1000)
    # p-expiring's certificate ends before the due date, p-lapsed's has ended, p-uncertified has none, p-kimchi
    # makes another category: only p-smart (100/day) and p-haccp (300/day and 200 in stock) are capable
    assert shares(order) == {
        ("p-haccp", 1): ("PROPOSED", 800.0, 200.0, 600.0),
        ("p-smart", 1): ("PROPOSED", 200.0, 0.0, 200.0),
    }
    reasons = {a["firm"]["id"]: a["reason"] for a in order["allocations"]}
    assert reasons == {
        "p-haccp": {
            "freeStock": 200.0,
            "freeCapacity": 3000.0,
            "capacityPerDay": 300.0,
            "days": 10,
            "certificationKind": "HACCP",
        },
        "p-smart": {
            "freeStock": 0.0,
            "freeCapacity": 1000.0,
            "capacityPerDay": 100.0,
            "days": 10,
            "certificationKind": "SMART_HACCP",
        },
    }
    assert (order["allocatedQuantity"], order["unallocatedQuantity"], order["status"]) == (1000.0, 0.0, "OPEN")
    summary = await execute(
        graph,
        "query($id: ID!) { bulkOrder(id: $id) { allocations { reason { summary } } } }",
        principal("p-smart"),
        {"id": order["id"]},
    )
    assert summary.data is not None
    [text] = [a["reason"]["summary"] for a in summary.data["bulkOrder"]["allocations"]]
    assert text.startswith("200 EA to produce, sized from 1,000 EA of free capacity (100 EA/day x 10 days")
    assert "certified SMART_HACCP SMART_HACCP-p-smart valid until" in text


async def test_an_order_demanding_smart_haccp_goes_only_to_smart_haccp_plants(graph: Graph, cluster: Cluster) -> None:
    order = await place(graph, cluster, 1500, smart=True)
    assert shares(order) == {("p-smart", 1): ("PROPOSED", 1000.0, 0.0, 1000.0)}
    assert (order["smartHaccpRequired"], order["unallocatedQuantity"]) == (True, 500.0)


async def test_an_early_due_date_limits_capacity_and_no_capacity_is_promised_twice(
    graph: Graph, cluster: Cluster
) -> None:
    first = await place(graph, cluster, 5000, days=2.25)
    # due in two days, p-expiring's certificate covers the order: it takes part
    assert shares(first) == {
        ("p-haccp", 1): ("PROPOSED", 800.0, 200.0, 600.0),
        ("p-smart", 1): ("PROPOSED", 200.0, 0.0, 200.0),
        ("p-expiring", 1): ("PROPOSED", 1000.0, 0.0, 1000.0),
    }
    assert first["unallocatedQuantity"] == 3000.0
    second = await place(graph, cluster, 100, days=2.25)
    assert (second["allocations"], second["unallocatedQuantity"]) == ([], 100.0)
    # a later due date frees more days of capacity: only the days beyond what is promised are offered
    # (free: p-smart 300 - 200, p-haccp 900 - 600, p-expiring 1500 - 1000; 600 shared out 100:300:500)
    third = await place(graph, cluster, 600, days=3.25)
    assert shares(third) == {
        ("p-haccp", 1): ("PROPOSED", 200.0, 0.0, 200.0),
        ("p-smart", 1): ("PROPOSED", 67.0, 0.0, 67.0),
        ("p-expiring", 1): ("PROPOSED", 333.0, 0.0, 333.0),
    }


async def test_a_decline_excludes_the_member_and_proposes_the_rest_again(graph: Graph, cluster: Cluster) -> None:
    order = await place(graph, cluster, 1000)
    haccp_share = allocation_of(order, "p-haccp")
    refused = await execute(graph, ANSWER, principal("p-smart"), {"id": haccp_share, "accept": False})
    assert codes(refused) == ["NOT_FOUND"]  # another member's share is not even disclosed
    declined = await execute(graph, ANSWER, principal("p-haccp", Role.EDITOR), {"id": haccp_share, "accept": False})
    assert declined.errors is None
    assert declined.data is not None
    # p-haccp now sees only its own (declined) share; the buyer sees the new proposal
    assert shares(declined.data["answerAllocation"]) == {("p-haccp", 1): ("DECLINED", 800.0, 200.0, 600.0)}
    buyer = await execute(graph, ORDER, principal("anchor"), {"id": order["id"]})
    assert buyer.data is not None
    assert shares(buyer.data["bulkOrder"]) == {
        ("p-haccp", 1): ("DECLINED", 800.0, 200.0, 600.0),
        ("p-smart", 1): ("PROPOSED", 200.0, 0.0, 200.0),
        ("p-smart", 2): ("PROPOSED", 800.0, 0.0, 800.0),
    }
    assert buyer.data["bulkOrder"]["unallocatedQuantity"] == 0.0
    again = await execute(graph, ANSWER, principal("p-haccp"), {"id": haccp_share, "accept": True})
    assert codes(again) == ["CONFLICT"]


async def make_lot(graph: Graph, c: Cluster, owner: str, name: str, quantity: float, *, gtin: str | None = None) -> str:
    lot_id = lgtin_for(gtin or c.tofu, name)
    await lots.record_lots(
        graph,
        [
            LotRecord(
                id=lot_id, owner_firm_id=owner, site_gln=c.sites[owner], quantity=quantity, uom="EA", produced_at=T0
            )
        ],
    )
    return lot_id


async def ship(graph: Graph, c: Cluster, shipper: str, shipment_id: str, items: dict[str, float]) -> None:
    await lots.record_shipments(
        graph,
        [
            ShipmentRecord(
                id=shipment_id,
                from_gln=c.sites[shipper],
                to_gln=c.sites["anchor"],
                shipped_at=T0 + timedelta(days=1),
                items=[LotQuantity(lot_id=lot, quantity=q, uom="EA") for lot, q in items.items()],
            )
        ],
        shipper_firm_id=shipper,
    )


async def test_an_order_is_followed_from_its_shares_to_the_lots_shipped_to_the_buyer(
    graph: Graph, cluster: Cluster
) -> None:
    c = cluster
    order = await place(graph, c, 1000)
    smart_share, haccp_share = allocation_of(order, "p-smart"), allocation_of(order, "p-haccp")
    made = await make_lot(graph, c, "p-smart", "S1", 400.0)
    early = await execute(graph, LINK, principal("p-smart"), {"allocation": smart_share, "lots": [made]})
    assert codes(early) == ["CONFLICT"]  # a share is accepted before lots are made for it
    for member, allocation in (("p-smart", smart_share), ("p-haccp", haccp_share)):
        accepted = await execute(graph, ANSWER, principal(member), {"id": allocation, "accept": True})
        assert accepted.errors is None

    kimchi_lot = await make_lot(graph, c, "p-smart", "K1", 10.0, gtin=c.kimchi)
    for bad_lot, who in ((kimchi_lot, "p-smart"), (c.stock_lot, "p-smart")):
        wrong = await execute(graph, LINK, principal(who), {"allocation": smart_share, "lots": [made, bad_lot]})
        assert codes(wrong) == ["FORBIDDEN"]  # another product; another firm's lot
    assert codes(await execute(graph, LINK, principal("rival"), {"allocation": smart_share, "lots": [made]})) == [
        "NOT_FOUND"
    ]
    linked = await execute(graph, LINK, principal("p-smart"), {"allocation": smart_share, "lots": [made]})
    assert linked.errors is None
    made_h = await make_lot(graph, c, "p-haccp", "H1", 600.0)
    assert (
        await execute(graph, LINK, principal("p-haccp"), {"allocation": haccp_share, "lots": [c.stock_lot, made_h]})
    ).errors is None
    taken = await execute(graph, LINK, principal("p-haccp"), {"allocation": haccp_share, "lots": [made]})
    assert codes(taken) == ["FORBIDDEN"]  # p-smart's lot: not held by p-haccp

    await ship(graph, c, "p-haccp", "BOL-H", {c.stock_lot: 200.0, made_h: 600.0})
    midway = await execute(graph, ORDER, principal("anchor", Role.VIEWER), {"id": order["id"]})
    assert midway.data is not None
    assert {k: midway.data["bulkOrder"][k] for k in ("producedQuantity", "shippedQuantity", "status")} == {
        "producedQuantity": 1200.0,
        "shippedQuantity": 800.0,
        "status": "OPEN",
    }
    await ship(graph, c, "p-smart", "BOL-S", {made: 200.0})
    done = await execute(graph, ORDER, principal("anchor", Role.VIEWER), {"id": order["id"]})
    assert done.data is not None
    final = done.data["bulkOrder"]
    assert (final["shippedQuantity"], final["status"], final["acceptedQuantity"]) == (1000.0, "FULFILLED", 1000.0)
    # the order's lots as one set, each shipped to the buyer and so visible to it (one step back)
    assert sorted(
        (lot["lotId"], lot["firm"]["id"], lot["quantity"], lot["shippedQuantity"], lot["lot"]) for lot in final["lots"]
    ) == sorted(
        [
            (c.stock_lot, "p-haccp", 200.0, 200.0, {"id": c.stock_lot}),
            (made_h, "p-haccp", 600.0, 600.0, {"id": made_h}),
            (made, "p-smart", 400.0, 200.0, {"id": made}),
        ]
    )

    # a member sees the order's totals but only its own share and lots; another firm sees nothing
    seen = await execute(graph, ORDER, principal("p-smart"), {"id": order["id"]})
    assert seen.data is not None
    assert [a["firm"]["id"] for a in seen.data["bulkOrder"]["allocations"]] == ["p-smart"]
    assert [lot["lotId"] for lot in seen.data["bulkOrder"]["lots"]] == [made]
    assert seen.data["bulkOrder"]["shippedQuantity"] == 1000.0
    assert (await execute(graph, ORDER, principal("rival"), {"id": order["id"]})).data == {"bulkOrder": None}
    listed = await execute(graph, "{ bulkOrders { totalCount } }", principal("rival"))
    assert listed.data == {"bulkOrders": {"totalCount": 0}}


async def test_orders_grants_open_the_buyers_orders_at_their_level(graph: Graph, cluster: Cluster) -> None:
    order = await place(graph, cluster, 1000)
    await firm(graph, "marketer", "MARKETER")
    await firm(graph, "retailer", "RETAILER")
    await share(graph, "anchor", "ORDERS", "DETAIL", toFirmId="marketer")
    await share(graph, "anchor", "ORDERS", "SUMMARY", toFirmId="retailer")
    detail = await execute(
        graph,
        "{ bulkOrders(openOnly: true) { edges { node { id allocations { firm { id } } } } } }",
        principal("marketer"),
    )
    assert detail.data is not None
    [node] = [e["node"] for e in detail.data["bulkOrders"]["edges"]]
    assert (node["id"], sorted(a["firm"]["id"] for a in node["allocations"])) == (order["id"], ["p-haccp", "p-smart"])
    assert (await execute(graph, ORDER, principal("retailer"), {"id": order["id"]})).data == {"bulkOrder": None}


DEMAND = """query($gtin: String) { demand(productGtin: $gtin) {
  productGtin region openOrders openQuantity allocatedQuantity acceptedQuantity stockQuantity soldQuantity } }"""


def demand_row(c: Cluster, region: str, **figures: float) -> dict[str, Any]:
    row: dict[str, Any] = {
        "productGtin": c.tofu,
        "region": region,
        "openOrders": 0,
        "openQuantity": 0.0,
        "allocatedQuantity": 0.0,
        "acceptedQuantity": 0.0,
        "stockQuantity": 0.0,
        "soldQuantity": 0.0,
    }
    return {**row, **figures}


async def test_the_demand_view_adds_up_only_what_owners_share(graph: Graph, cluster: Cluster) -> None:
    c = cluster
    order = await place(graph, c, 1000)
    assert (
        await execute(graph, ANSWER, principal("p-smart"), {"id": allocation_of(order, "p-smart"), "accept": True})
    ).errors is None
    # the rival's own order and stock count for nobody else
    rival_order = await execute(
        graph,
        PLACE,
        principal("rival"),
        {
            "in": {
                "productGtin": c.tofu,
                "quantity": 50,
                "dueAt": (c.now + timedelta(days=20)).isoformat(),
                "deliveryGln": c.sites["rival"],
            }
        },
    )
    assert rival_order.errors is None
    await stocked_lot(graph, owner="p-smart", site=c.sites["p-smart"], product_gtin=c.tofu, quantity=70.0)

    before = await execute(graph, DEMAND, principal("anchor"), {"gtin": c.tofu})
    assert before.data == {
        "demand": [
            demand_row(c, "Seoul", openOrders=1, openQuantity=1000.0, allocatedQuantity=1000.0, acceptedQuantity=200.0)
        ]
    }
    await share(graph, "p-haccp", "INVENTORY", "SUMMARY", toRole="ANCHOR")
    await share(graph, "rival", "ORDERS", "SUMMARY", toFirmId="anchor")
    after = await execute(graph, DEMAND, principal("anchor"), {"gtin": c.tofu})
    assert after.data == {
        "demand": [
            demand_row(c, "Busan", openOrders=1, openQuantity=50.0, allocatedQuantity=50.0),
            demand_row(c, "Jeonbuk", stockQuantity=200.0),
            demand_row(c, "Seoul", openOrders=1, openQuantity=1000.0, allocatedQuantity=1000.0, acceptedQuantity=200.0),
        ]
    }
    assert codes(await execute(graph, DEMAND, principal("p-smart"), {"gtin": c.tofu})) == ["FORBIDDEN"]


ATP = """query($gtin: String!) { availableToPromise(productGtin: $gtin) { onHand committed available } }"""


async def test_stock_promised_to_an_accepted_share_is_no_longer_available(graph: Graph, cluster: Cluster) -> None:
    order = await place(graph, cluster, 1000)
    before = await execute(graph, ATP, principal("p-haccp"), {"gtin": cluster.tofu})
    assert before.data == {"availableToPromise": [{"onHand": 200.0, "committed": 0.0, "available": 200.0}]}
    await execute(graph, ANSWER, principal("p-haccp"), {"id": allocation_of(order, "p-haccp"), "accept": True})
    after = await execute(graph, ATP, principal("p-haccp"), {"gtin": cluster.tofu})
    assert after.data == {"availableToPromise": [{"onHand": 200.0, "committed": 200.0, "available": 0.0}]}


@pytest.mark.parametrize(
    ("change", "code", "field"),
    [
        ({"dueAt": "2020-01-01T00:00:00+00:00"}, "BAD_USER_INPUT", "input.dueAt"),
        ({"quantity": 10.5}, "BAD_USER_INPUT", "input.quantity"),
        ({"deliveryGln": "rival"}, "FORBIDDEN", "input.deliveryGln"),
        ({"productGtin": "00000000000000"}, "NOT_FOUND", "input.productGtin"),
    ],
)
async def test_bad_orders_are_refused_and_write_nothing(
    graph: Graph, cluster: Cluster, change: dict[str, Any], code: str, field: str
) -> None:
    good = {
        "productGtin": cluster.tofu,
        "quantity": 10,
        "dueAt": (cluster.now + timedelta(days=3)).isoformat(),
        "deliveryGln": cluster.sites["anchor"],
    }
    if change.get("deliveryGln") == "rival":
        change = {"deliveryGln": cluster.sites["rival"]}
    result = await execute(graph, PLACE, principal("anchor"), {"in": {**good, **change}})
    assert codes(result) == [code]
    assert (result.errors or [])[0].extensions == {"code": code, "field": field}
    assert (await execute(graph, "{ bulkOrders { totalCount } }", principal("anchor"))).data == {
        "bulkOrders": {"totalCount": 0}
    }


async def test_capacity_is_declared_for_own_plants_and_known_categories(graph: Graph, cluster: Cluster) -> None:
    c = cluster
    cases = [
        ({"siteGln": c.sites["p-haccp"], "category": "Tofu", "uom": "EA"}, "FORBIDDEN", "input.siteGln"),
        ({"siteGln": c.sites["p-smart"], "category": "Bread", "uom": "EA"}, "NOT_FOUND", "input.category"),
        ({"siteGln": c.sites["p-smart"], "category": "Tofu", "uom": "kg"}, "BAD_USER_INPUT", "input.uom"),
    ]
    for declared, code, field in cases:
        result = await execute(graph, CAPACITY, principal("p-smart"), {"in": {**declared, "quantityPerDay": 1.0}})
        assert codes(result) == [code]
        assert (result.errors or [])[0].extensions == {"code": code, "field": field}
    own = await execute(
        graph, "{ productionCapacities { category quantityPerDay site { gln } } }", principal("p-smart")
    )
    assert own.data == {
        "productionCapacities": [{"category": "Tofu", "quantityPerDay": 100.0, "site": {"gln": c.sites["p-smart"]}}]
    }
