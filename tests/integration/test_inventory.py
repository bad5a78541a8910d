"""Inventory through GraphQL against the real graph: each sharing level, counts, available to promise, movements."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest

from auth.principal import Role
from graph_schema import inventory, lots
from graph_schema.db import Graph
from graph_schema.errors import NotFound
from graph_schema.inventory import StockMove
from graph_schema.records import LotQuantity, ShipmentRecord
from tests.factories import T0, gln
from tests.graphql_client import COMPILED_CHECKS, codes, execute, principal
from tests.integration.commerce import firm, product, share, stocked_lot

pytestmark = pytest.mark.neo4j

INVENTORY = """query($gtin: String, $region: String, $first: Int = 20, $after: String) {
  inventory(productGtin: $gtin, region: $region, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { node { level productGtin region quantity uom lotCount lotId firm { id } site { gln } } } } }"""


@dataclass
class Stock:
    """viewer (own stock); holder-a shares INVENTORY at DETAIL with it, holder-b at SUMMARY, holder-c TRACE only."""

    tofu: str
    sites: dict[str, dict[str, str]]
    lots: dict[str, str]
    grant_a: str


@pytest.fixture
async def stock(graph: Graph) -> Stock:
    sites = {
        "viewer": await firm(graph, "viewer", "RETAILER", sites={"Seoul": "STORE"}),
        "holder-a": await firm(graph, "holder-a", "DISTRIBUTOR", sites={"Seoul": "DC"}),
        "holder-b": await firm(graph, "holder-b", "DISTRIBUTOR", sites={"Seoul": "DC", "Busan": "WAREHOUSE"}),
        "holder-c": await firm(graph, "holder-c", "DISTRIBUTOR", sites={"Seoul": "DC"}),
    }
    tofu = await product(graph, "holder-a")
    made = {
        ("viewer", "Seoul", 10.0),
        ("holder-a", "Seoul", 100.0),
        ("holder-b", "Seoul", 50.0),
        ("holder-b", "Seoul", 30.0),
        ("holder-b", "Busan", 20.0),
        ("holder-c", "Seoul", 70.0),
    }
    lot_ids = {}
    for owner, region, quantity in sorted(made):
        lot_ids[f"{owner}/{region}/{quantity:g}"] = await stocked_lot(
            graph, owner=owner, site=sites[owner][region], product_gtin=tofu, quantity=quantity
        )
    grant_a = await share(graph, "holder-a", "INVENTORY", "DETAIL", toFirmId="viewer")
    await share(graph, "holder-b", "INVENTORY", "SUMMARY", toFirmId="viewer")
    await share(graph, "holder-c", "TRACE", "DETAIL", toFirmId="viewer")  # another scope opens no stock
    return Stock(tofu=tofu, sites=sites, lots=lot_ids, grant_a=grant_a)


def detail(s: Stock, owner: str, region: str, quantity: float) -> dict[str, Any]:
    return {
        "level": "DETAIL",
        "productGtin": s.tofu,
        "region": region,
        "quantity": quantity,
        "uom": "EA",
        "lotCount": 1,
        "lotId": s.lots[f"{owner}/{region}/{quantity:g}"],
        "firm": {"id": owner},
        "site": {"gln": s.sites[owner][region]},
    }


def summary(s: Stock, region: str, quantity: float, lot_count: int) -> dict[str, Any]:
    return {
        "level": "SUMMARY",
        "productGtin": s.tofu,
        "region": region,
        "quantity": quantity,
        "uom": "EA",
        "lotCount": lot_count,
        "lotId": None,
        "firm": None,
        "site": None,
    }


async def nodes(graph: Graph, caller: str, **variables: Any) -> list[dict[str, Any]]:
    result = await execute(graph, INVENTORY, principal(caller, Role.VIEWER), variables)
    assert result.errors is None, result.errors
    assert result.data is not None
    return [edge["node"] for edge in result.data["inventory"]["edges"]]


async def test_detail_sharers_show_lots_summary_sharers_only_regional_totals_others_nothing(
    graph: Graph, stock: Stock
) -> None:
    assert await nodes(graph, "viewer", gtin=stock.tofu) == [
        summary(stock, "Busan", 20.0, 1),
        detail(stock, "holder-a", "Seoul", 100.0),
        detail(stock, "viewer", "Seoul", 10.0),
        summary(stock, "Seoul", 80.0, 2),
    ]
    assert await nodes(graph, "viewer", gtin=stock.tofu, region="Busan") == [summary(stock, "Busan", 20.0, 1)]
    # grants open one way only: the holders see their own stock and nothing of the viewer's
    assert await nodes(graph, "holder-c") == [detail(stock, "holder-c", "Seoul", 70.0)]
    assert await nodes(graph, "holder-a") == [detail(stock, "holder-a", "Seoul", 100.0)]
    assert await nodes(graph, "outsider") == []


async def test_pages_follow_the_cursor_and_count_every_row(graph: Graph, stock: Stock) -> None:
    # compiled into one query (resolvers/compiled.py) and answered as the resolvers answer
    before = COMPILED_CHECKS["equal"]
    full = """query($gtin: String) { inventory(productGtin: $gtin, first: 50) { __typename totalCount
      edges { __typename cursor node { __typename level productGtin region quantity uom asOf lotCount lotId
        product { gtin name } firm { id name } site { gln region } lot { id status owner { id } } } }
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }"""
    for caller in ("viewer", "holder-a", "holder-b", "holder-c"):
        assert (await execute(graph, full, principal(caller, Role.VIEWER), {"gtin": stock.tofu})).errors is None
    assert COMPILED_CHECKS["equal"] == before + 4
    first = await execute(graph, INVENTORY, principal("viewer"), {"gtin": stock.tofu, "first": 3})
    assert first.data is not None
    page = first.data["inventory"]
    assert page["totalCount"] == 4
    assert page["pageInfo"]["hasNextPage"] is True
    rest = await execute(
        graph, INVENTORY, principal("viewer"), {"gtin": stock.tofu, "after": page["pageInfo"]["endCursor"]}
    )
    assert rest.data is not None
    assert [edge["node"] for edge in rest.data["inventory"]["edges"]] == [summary(stock, "Seoul", 80.0, 2)]
    assert rest.data["inventory"]["pageInfo"]["hasNextPage"] is False


async def test_a_revoked_detail_grant_takes_the_holders_rows_away(graph: Graph, stock: Stock) -> None:
    revoked = await execute(
        graph, "mutation($id: ID!) { revokeSharing(id: $id) }", principal("holder-a"), {"id": stock.grant_a}
    )
    assert revoked.data == {"revokeSharing": True}
    assert [n["firm"] for n in await nodes(graph, "viewer", gtin=stock.tofu)] == [None, {"id": "viewer"}, None]


async def test_reading_a_detail_sharers_stock_is_in_its_access_log(graph: Graph, stock: Stock) -> None:
    await nodes(graph, "viewer", gtin=stock.tofu)
    log = await execute(
        graph, "{ accessLog { edges { node { accessorFirmId operation recordCount } } } }", principal("holder-a")
    )
    assert log.data == {
        "accessLog": {"edges": [{"node": {"accessorFirmId": "viewer", "operation": "inventory", "recordCount": 1}}]}
    }
    summarised = await execute(graph, "{ accessLog { totalCount } }", principal("holder-b"))
    assert summarised.data == {"accessLog": {"totalCount": 0}}  # totals show no record of the holder


RECORD = """mutation($in: [InventoryInput!]!) { recordInventory(input: $in) {
  level quantity region lotId firm { id } site { gln } } }"""


def count(lot: str, site: str, quantity: float, *, hours: int = 1, uom: str = "EA") -> dict[str, Any]:
    return {
        "lotId": lot,
        "siteGln": site,
        "quantity": quantity,
        "uom": uom,
        "asOf": (T0 + timedelta(hours=hours)).isoformat(),
    }


async def test_a_firm_counts_stock_of_lots_it_holds_at_its_own_sites(graph: Graph, stock: Stock) -> None:
    own = stock.lots["viewer/Seoul/10"]
    store = stock.sites["viewer"]["Seoul"]
    recorded = await execute(graph, RECORD, principal("viewer", Role.EDITOR), {"in": [count(own, store, 4.0)]})
    assert recorded.errors is None
    assert recorded.data == {
        "recordInventory": [
            {
                "level": "DETAIL",
                "quantity": 4.0,
                "region": "Seoul",
                "lotId": own,
                "firm": {"id": "viewer"},
                "site": {"gln": store},
            }
        ]
    }
    # a lot shipped to the viewer may be counted at its store too
    delivered = stock.lots["holder-c/Seoul/70"]
    await lots.record_shipments(
        graph,
        [
            ShipmentRecord(
                id="S-1",
                from_gln=stock.sites["holder-c"]["Seoul"],
                to_gln=store,
                shipped_at=T0,
                items=[LotQuantity(lot_id=delivered, quantity=25.0, uom="EA")],
            )
        ],
        shipper_firm_id="holder-c",
    )
    assert (await execute(graph, RECORD, principal("viewer"), {"in": [count(delivered, store, 25.0)]})).errors is None
    quantities = {
        n["lotId"]: n["quantity"]
        for n in await nodes(graph, "viewer", gtin=stock.tofu, region="Seoul")
        if n["level"] == "DETAIL" and n["firm"] == {"id": "viewer"}
    }
    assert quantities == {own: 4.0, delivered: 25.0}


@pytest.mark.parametrize(
    ("case", "code", "field"),
    [
        ("foreign site", "FORBIDDEN", "input[1].siteGln"),
        ("lot not held", "FORBIDDEN", "input[1].lotId"),
        ("wrong unit", "BAD_USER_INPUT", "input[1].uom"),
        ("older count", "CONFLICT", "input[1].asOf"),
        ("unknown lot", "NOT_FOUND", "input[1].lotId"),
        ("negative", "BAD_USER_INPUT", "input[1].quantity"),
    ],
)
async def test_a_batch_with_one_bad_count_writes_nothing(
    graph: Graph, stock: Stock, case: str, code: str, field: str
) -> None:
    own = stock.lots["viewer/Seoul/10"]
    store = stock.sites["viewer"]["Seoul"]
    bad = {
        "foreign site": count(own, stock.sites["holder-a"]["Seoul"], 1.0),
        "lot not held": count(stock.lots["holder-c/Seoul/70"], store, 1.0),
        "wrong unit": count(own, store, 1.0, uom="kg"),
        "older count": count(own, store, 1.0, hours=-1),
        "unknown lot": count(own.replace(".L", ".X"), store, 1.0),
        "negative": count(own, store, -1.0),
    }[case]
    other = await stocked_lot(graph, owner="viewer", site=store, product_gtin=stock.tofu, quantity=5.0)
    result = await execute(graph, RECORD, principal("viewer"), {"in": [count(other, store, 3.0), bad]})
    assert codes(result) == [code]
    assert (result.errors or [])[0].extensions == {"code": code, "field": field}
    mine = [n for n in await nodes(graph, "viewer", gtin=stock.tofu) if n["firm"] == {"id": "viewer"}]
    assert sorted(n["quantity"] for n in mine) == [5.0, 10.0]  # the good count was not written either


async def test_viewers_and_other_firms_may_not_count(graph: Graph, stock: Stock) -> None:
    own = stock.lots["viewer/Seoul/10"]
    store = stock.sites["viewer"]["Seoul"]
    assert codes(await execute(graph, RECORD, principal("viewer", Role.VIEWER), {"in": [count(own, store, 1.0)]})) == [
        "FORBIDDEN"
    ]
    assert codes(await execute(graph, RECORD, principal("holder-a"), {"in": [count(own, store, 1.0)]})) == ["FORBIDDEN"]


ATP = """query($gtin: String!) { availableToPromise(productGtin: $gtin) {
  productGtin uom onHand committed available holders { firm { id } onHand committed available } } }"""


async def test_available_to_promise_adds_up_what_the_caller_sees_of_active_unexpired_stock(
    graph: Graph, stock: Stock
) -> None:
    await stocked_lot(
        graph,
        owner="holder-a",
        site=stock.sites["holder-a"]["Seoul"],
        product_gtin=stock.tofu,
        quantity=40.0,
        status="ON_HOLD",
    )
    await stocked_lot(
        graph,
        owner="viewer",
        site=stock.sites["viewer"]["Seoul"],
        product_gtin=stock.tofu,
        quantity=5.0,
        expires_at=T0 + timedelta(days=1),
    )
    result = await execute(graph, ATP, principal("viewer", Role.VIEWER), {"gtin": stock.tofu})
    assert result.errors is None
    assert result.data == {
        "availableToPromise": [
            {
                "productGtin": stock.tofu,
                "uom": "EA",
                "onHand": 10.0 + 100.0 + 50.0 + 30.0 + 20.0,  # own, holder-a (DETAIL), holder-b (SUMMARY)
                "committed": 0.0,
                "available": 210.0,
                "holders": [
                    {"firm": {"id": "holder-a"}, "onHand": 100.0, "committed": 0.0, "available": 100.0},
                    {"firm": {"id": "viewer"}, "onHand": 10.0, "committed": 0.0, "available": 10.0},
                ],
            }
        ]
    }
    rival = await execute(graph, ATP, principal("holder-c"), {"gtin": stock.tofu})
    assert rival.data is not None
    assert [(e["onHand"], [h["firm"] for h in e["holders"]]) for e in rival.data["availableToPromise"]] == [
        (70.0, [{"id": "holder-c"}])
    ]


async def moves(graph: Graph, *items: StockMove) -> list[dict[str, Any]]:
    return await graph.transaction(lambda tx: inventory.move_stock(tx, items))


async def held(graph: Graph, lot: str) -> dict[str, float]:
    rows = await graph.read(
        "MATCH (:Lot {id: $lot})-[h:HELD_AT]->(s:Site) RETURN s.gln AS gln, h.quantity AS quantity", {"lot": lot}
    )
    return {row["gln"]: row["quantity"] for row in rows}


async def test_movements_decrement_the_origin_and_increment_the_destination_after_each_count(
    graph: Graph, stock: Stock
) -> None:
    lot = stock.lots["holder-a/Seoul/100"]
    dc, store = stock.sites["holder-a"]["Seoul"], stock.sites["viewer"]["Seoul"]

    def move(quantity: float, hours: int, **ends: str) -> StockMove:
        return StockMove(lot_id=lot, quantity=quantity, uom="EA", at=T0 + timedelta(hours=hours), **ends)

    applied = await moves(graph, move(30.0, 1, from_gln=dc, to_gln=store), move(80.0, 2, from_gln=dc))
    assert applied == [
        {"i": 0, "fromQuantity": 70.0, "fromTracked": True, "short": 0.0, "toQuantity": 30.0},
        {"i": 1, "fromQuantity": 0.0, "fromTracked": True, "short": 10.0, "toQuantity": None},
    ]
    assert await held(graph, lot) == {dc: 0.0, store: 30.0}
    # a movement older than the origin's latest count is already in that count; the store's count (as of the
    # same hour) does not have it yet
    late = await moves(graph, move(5.0, 1, from_gln=dc, to_gln=store))
    assert late == [{"i": 0, "fromQuantity": 0.0, "fromTracked": True, "short": 0.0, "toQuantity": 35.0}]
    assert (await moves(graph, move(5.0, 3, to_gln=store)))[0]["toQuantity"] == 40.0
    # the moved stock belongs to the store's firm: it shows in the viewer's inventory in detail
    mine = [n for n in await nodes(graph, "viewer", gtin=stock.tofu) if n["lotId"] == lot]
    assert [(n["firm"], n["quantity"]) for n in mine] == [({"id": "viewer"}, 40.0)]


async def test_a_movement_naming_an_unknown_site_applies_nothing(graph: Graph, stock: Stock) -> None:
    lot = stock.lots["holder-a/Seoul/100"]
    dc = stock.sites["holder-a"]["Seoul"]
    with pytest.raises(NotFound) as raised:
        await moves(
            graph,
            StockMove(lot_id=lot, quantity=1.0, uom="EA", at=T0 + timedelta(hours=1), from_gln=dc),
            StockMove(lot_id=lot, quantity=1.0, uom="EA", at=T0 + timedelta(hours=1), to_gln=gln()),
        )
    assert raised.value.field == "moves[1].toGln"
    assert await held(graph, lot) == {dc: 100.0}
