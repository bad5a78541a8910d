"""Sales channels through GraphQL against the real graph: running, opening, listing, and sales per SALES level."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from auth.principal import Role
from graph_schema.db import Graph
from tests.graphql_client import codes, execute, principal
from tests.integration.commerce import firm, product, share

pytestmark = pytest.mark.neo4j

CREATE = """mutation($in: SalesChannelInput!) { createSalesChannel(input: $in) {
  id name kind runByYou openToFirmIds openToRoles stores { gln } } }"""
OPEN = """mutation($in: ChannelOpeningInput!) { openSalesChannel(input: $in) { id openToFirmIds openToRoles } }"""
CLOSE = """mutation($in: ChannelOpeningInput!) { closeSalesChannel(input: $in) {
  id openToFirmIds openToRoles listings { productGtin sellerFirmId } } }"""
LIST = """mutation($channel: ID!, $gtins: [String!]!) { listProducts(channelId: $channel, productGtins: $gtins) {
  listings { productGtin seller { id } } } }"""
CHANNELS = """{ salesChannels { totalCount edges { node {
  id kind runByYou openToFirmIds openToRoles operator { id } listings { productGtin sellerFirmId } } } } }"""
RECORD = "mutation($in: [SaleInput!]!) { recordSales(input: $in) }"
FIGURES = """query($channel: ID) { salesFigures(channelId: $channel) {
  level channelId productGtin sellerFirmId day region quantity uom amount currency recordCount firstDay lastDay } }"""


@dataclass
class Market:
    stores: dict[str, str]
    goods: dict[str, str]  # seller -> its product


@pytest.fixture
async def market(graph: Graph) -> Market:
    stores = await firm(graph, "mart", "RETAILER", sites={"Seoul": "STORE", "Busan": "STORE"})
    await firm(graph, "mart-2", "RETAILER")
    await firm(graph, "anchor", "ANCHOR", "PLANT")
    await firm(graph, "outsider", "PLANT")
    goods = {}
    for seller, roles, name in (
        ("oem-a", "OEM", "Soft tofu"),
        ("oem-b", "OEM", "Firm tofu"),
        ("farm-c", "FARM", "Beans"),
    ):
        await firm(graph, seller, roles)
        goods[seller] = await product(graph, seller, name=name)
    return Market(stores=stores, goods=goods)


async def data(graph: Graph, query: str, caller: str, variables: dict[str, Any] | None = None, **kw: Any) -> Any:
    result = await execute(graph, query, principal(caller, *kw.get("roles", ())), variables)
    assert result.errors is None, result.errors
    assert result.data is not None
    return result.data


async def open_market(graph: Graph, market: Market) -> None:
    """mart runs 'mart-stores', open to oem-a and oem-b by name and to every FARM; each seller lists its product."""
    await data(
        graph,
        CREATE,
        "mart",
        {
            "in": {
                "id": "mart-stores",
                "name": "Mart stores",
                "kind": "RETAIL_CHAIN",
                "storeGlns": sorted(market.stores.values()),
            }
        },
    )
    await data(
        graph, OPEN, "mart", {"in": {"channelId": "mart-stores", "firmIds": ["oem-a", "oem-b"], "roles": ["FARM"]}}
    )
    for seller, gtin in market.goods.items():
        await data(graph, LIST, seller, {"channel": "mart-stores", "gtins": [gtin]})


async def test_an_operator_runs_a_channel_and_opens_it_to_chosen_members_and_roles(
    graph: Graph, market: Market
) -> None:
    refused = await execute(graph, CREATE, principal("outsider"), {"in": {"name": "x", "kind": "EXPORT"}})
    assert codes(refused) == ["FORBIDDEN"]
    export = await execute(
        graph, CREATE, principal("mart"), {"in": {"name": "x", "kind": "EXPORT", "storeGlns": [market.stores["Seoul"]]}}
    )
    assert export.errors is None
    stolen_store = await execute(
        graph,
        CREATE,
        principal("mart-2"),
        {"in": {"name": "y", "kind": "EXPORT", "storeGlns": [market.stores["Seoul"]]}},
    )
    assert codes(stolen_store) == ["FORBIDDEN"]

    created = await data(
        graph,
        CREATE,
        "mart",
        {
            "in": {
                "id": "mart-stores",
                "name": "Mart stores",
                "kind": "RETAIL_CHAIN",
                "storeGlns": [market.stores["Busan"]],
            }
        },
    )
    assert created == {
        "createSalesChannel": {
            "id": "mart-stores",
            "name": "Mart stores",
            "kind": "RETAIL_CHAIN",
            "runByYou": True,
            "openToFirmIds": [],
            "openToRoles": [],
            "stores": [{"gln": market.stores["Busan"]}],
        }
    }
    opened = await data(
        graph, OPEN, "mart", {"in": {"channelId": "mart-stores", "firmIds": ["oem-a"], "roles": ["FARM"]}}
    )
    assert opened == {"openSalesChannel": {"id": "mart-stores", "openToFirmIds": ["oem-a"], "openToRoles": ["FARM"]}}
    # only the operator opens its channel; another retailer is told the channel is not its own
    assert codes(
        await execute(graph, OPEN, principal("oem-a"), {"in": {"channelId": "mart-stores", "firmIds": ["oem-b"]}})
    ) == ["FORBIDDEN"]
    assert codes(
        await execute(graph, OPEN, principal("mart-2"), {"in": {"channelId": "mart-stores", "firmIds": ["oem-b"]}})
    ) == ["NOT_FOUND"]
    assert codes(
        await execute(graph, OPEN, principal("mart"), {"in": {"channelId": "mart-stores", "firmIds": ["nobody"]}})
    ) == ["NOT_FOUND"]

    seen_by_oem = await data(graph, CHANNELS, "oem-a", roles=[Role.VIEWER])
    assert seen_by_oem == {
        "salesChannels": {
            "totalCount": 1,
            "edges": [
                {
                    "node": {
                        "id": "mart-stores",
                        "kind": "RETAIL_CHAIN",
                        "runByYou": False,
                        "openToFirmIds": None,
                        "openToRoles": None,
                        "operator": {"id": "mart"},
                        "listings": [],
                    }
                }
            ],
        }
    }
    assert [e["node"]["id"] for e in (await data(graph, CHANNELS, "farm-c"))["salesChannels"]["edges"]] == [
        "mart-stores"
    ]
    assert (await data(graph, CHANNELS, "oem-b"))["salesChannels"] == {"totalCount": 0, "edges": []}
    own = [e["node"] for e in (await data(graph, CHANNELS, "mart"))["salesChannels"]["edges"]]
    assert [(c["id"], c["runByYou"], c["openToFirmIds"]) for c in own if c["id"] == "mart-stores"] == [
        ("mart-stores", True, ["oem-a"])
    ]
    assert len(own) == 2  # and the export channel created above


async def test_members_list_their_own_products_on_channels_open_to_them(graph: Graph, market: Market) -> None:
    await data(graph, CREATE, "mart", {"in": {"id": "mart-stores", "name": "Mart stores", "kind": "RETAIL_CHAIN"}})
    await data(graph, OPEN, "mart", {"in": {"channelId": "mart-stores", "firmIds": ["oem-a"]}})
    listed = await data(graph, LIST, "oem-a", {"channel": "mart-stores", "gtins": [market.goods["oem-a"]]})
    assert listed == {"listProducts": {"listings": [{"productGtin": market.goods["oem-a"], "seller": {"id": "oem-a"}}]}}
    not_its_own = await execute(
        graph, LIST, principal("oem-a"), {"channel": "mart-stores", "gtins": [market.goods["oem-b"]]}
    )
    assert codes(not_its_own) == ["FORBIDDEN"]
    not_open = await execute(
        graph, LIST, principal("oem-b"), {"channel": "mart-stores", "gtins": [market.goods["oem-b"]]}
    )
    assert codes(not_open) == ["NOT_FOUND"]
    viewer = await execute(
        graph, LIST, principal("oem-a", Role.VIEWER), {"channel": "mart-stores", "gtins": [market.goods["oem-a"]]}
    )
    assert codes(viewer) == ["FORBIDDEN"]


def sale(channel: str, gtin: str, day: str, quantity: float, **extra: Any) -> dict[str, Any]:
    return {"channelId": channel, "productGtin": gtin, "day": day, "quantity": quantity, "uom": "EA", **extra}


async def record_market_sales(graph: Graph, market: Market) -> None:
    await open_market(graph, market)
    await data(
        graph,
        RECORD,
        "oem-a",
        {
            "in": [
                sale(
                    "mart-stores",
                    market.goods["oem-a"],
                    "2026-09-01",
                    100.0,
                    storeGln=market.stores["Seoul"],
                    amount=250000.0,
                    currency="KRW",
                ),
                sale("mart-stores", market.goods["oem-a"], "2026-09-02", 40.0, storeGln=market.stores["Busan"]),
            ]
        },
    )
    await data(graph, RECORD, "oem-b", {"in": [sale("mart-stores", market.goods["oem-b"], "2026-09-01", 60.0)]})
    # the operator reports sell-through for a seller
    await data(
        graph,
        RECORD,
        "mart",
        {
            "in": [
                sale("mart-stores", market.goods["farm-c"], "2026-09-01", 30.0, sellerFirmId="farm-c"),
                sale("mart-stores", market.goods["farm-c"], "2026-09-02", 20.0, sellerFirmId="farm-c"),
            ]
        },
    )


def row(level: str, gtin: str, seller: str | None, day: str | None, quantity: float, **extra: Any) -> dict[str, Any]:
    figure = {
        "level": level,
        "channelId": "mart-stores",
        "productGtin": gtin,
        "sellerFirmId": seller,
        "day": day,
        "region": None,
        "quantity": quantity,
        "uom": "EA",
        "amount": None,
        "currency": None,
        "recordCount": 1,
        "firstDay": day,
        "lastDay": day,
    }
    return {**figure, **extra}


async def test_sales_figures_per_sales_level_detail_summary_none_and_the_operators_own(
    graph: Graph, market: Market
) -> None:
    await record_market_sales(graph, market)
    await share(graph, "oem-a", "SALES", "DETAIL", toFirmId="anchor")
    await share(graph, "farm-c", "SALES", "SUMMARY", toRole="ANCHOR")
    await share(graph, "oem-b", "INVENTORY", "DETAIL", toFirmId="anchor")  # another scope opens no sales

    oem_a = [
        row(
            "DETAIL",
            market.goods["oem-a"],
            "oem-a",
            "2026-09-01",
            100.0,
            region="Seoul",
            amount=250000.0,
            currency="KRW",
        ),
        row("DETAIL", market.goods["oem-a"], "oem-a", "2026-09-02", 40.0, region="Busan"),
    ]
    oem_b = [row("DETAIL", market.goods["oem-b"], "oem-b", "2026-09-01", 60.0)]
    farm_c = [
        row("DETAIL", market.goods["farm-c"], "farm-c", "2026-09-01", 30.0),
        row("DETAIL", market.goods["farm-c"], "farm-c", "2026-09-02", 20.0),
    ]
    farm_c_total = row(
        "SUMMARY", market.goods["farm-c"], None, None, 50.0, recordCount=2, firstDay="2026-09-01", lastDay="2026-09-02"
    )

    def ordered(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return sorted(rows, key=lambda r: (r["productGtin"], r["level"], r["day"] or "", r["sellerFirmId"] or ""))

    anchor = await data(graph, FIGURES, "anchor", {"channel": None}, roles=[Role.VIEWER])
    assert anchor == {"salesFigures": ordered([*oem_a, farm_c_total])}
    operator = await data(graph, FIGURES, "mart", {"channel": "mart-stores"})
    assert operator == {"salesFigures": ordered([*oem_a, *oem_b, *farm_c])}
    assert await data(graph, FIGURES, "oem-b", {"channel": None}) == {"salesFigures": oem_b}
    assert await data(graph, FIGURES, "outsider", {"channel": None}) == {"salesFigures": []}
    per_channel = await data(graph, "{ salesChannels { edges { node { sales { sellerFirmId quantity } } } } }", "oem-a")
    assert per_channel == {
        "salesChannels": {
            "edges": [
                {
                    "node": {
                        "sales": [
                            {"sellerFirmId": "oem-a", "quantity": 100.0},
                            {"sellerFirmId": "oem-a", "quantity": 40.0},
                        ]
                    }
                }
            ]
        }
    }


async def test_a_figure_recorded_again_replaces_the_earlier_one(graph: Graph, market: Market) -> None:
    await record_market_sales(graph, market)
    again = sale("mart-stores", market.goods["oem-b"], "2026-09-01", 75.0)
    assert await data(graph, RECORD, "oem-b", {"in": [again]}) == {"recordSales": 1}
    figures = (await data(graph, FIGURES, "oem-b", {"channel": "mart-stores"}))["salesFigures"]
    assert [(f["day"], f["quantity"]) for f in figures] == [("2026-09-01", 75.0)]


@pytest.mark.parametrize(
    ("case", "code", "field"),
    [
        ("channel not open to the seller", "NOT_FOUND", "input[1].channelId"),
        ("another seller's figure", "FORBIDDEN", "input[1].sellerFirmId"),
        ("product not listed by the seller", "CONFLICT", "input[1].productGtin"),
        ("store of another channel", "NOT_FOUND", "input[1].storeGln"),
        ("unit other than the product's", "BAD_USER_INPUT", "input[1].uom"),
        ("amount without currency", "BAD_USER_INPUT", "input[1]"),
        ("negative quantity", "BAD_USER_INPUT", "input[1].quantity"),
    ],
)
async def test_a_batch_with_one_bad_figure_writes_nothing(
    graph: Graph, market: Market, case: str, code: str, field: str
) -> None:
    await open_market(graph, market)
    await data(graph, CREATE, "mart", {"in": {"id": "mart-export", "name": "Export", "kind": "EXPORT"}})
    elsewhere = await firm(graph, "mart-3", "RETAILER", sites={"Daegu": "STORE"})
    good = sale("mart-stores", market.goods["oem-a"], "2026-09-03", 5.0)
    overrides: dict[str, dict[str, Any]] = {
        "channel not open to the seller": {"channelId": "mart-export"},
        "another seller's figure": {"sellerFirmId": "oem-b"},
        "product not listed by the seller": {"productGtin": market.goods["farm-c"]},
        "store of another channel": {"storeGln": elsewhere["Daegu"]},
        "unit other than the product's": {"uom": "kg"},
        "amount without currency": {"amount": 1000.0},
        "negative quantity": {"quantity": -1.0},
    }
    override = overrides[case]
    result = await execute(graph, RECORD, principal("oem-a"), {"in": [good, {**good, "day": "2026-09-04", **override}]})
    assert codes(result) == [code]
    assert (result.errors or [])[0].extensions == {"code": code, "field": field}
    assert (await data(graph, FIGURES, "mart", {"channel": None}))["salesFigures"] == []


async def test_closing_a_channel_to_a_role_takes_its_firms_listings_down(graph: Graph, market: Market) -> None:
    await open_market(graph, market)
    closed = await data(graph, CLOSE, "mart", {"in": {"channelId": "mart-stores", "roles": ["FARM"]}})
    assert closed == {
        "closeSalesChannel": {
            "id": "mart-stores",
            "openToFirmIds": ["oem-a", "oem-b"],
            "openToRoles": [],
            "listings": sorted(
                [
                    {"productGtin": market.goods["oem-a"], "sellerFirmId": "oem-a"},
                    {"productGtin": market.goods["oem-b"], "sellerFirmId": "oem-b"},
                ],
                key=lambda li: li["productGtin"],
            ),
        }
    }
    assert (await data(graph, CHANNELS, "farm-c"))["salesChannels"]["totalCount"] == 0
    late = await execute(
        graph,
        RECORD,
        principal("mart"),
        {"in": [sale("mart-stores", market.goods["farm-c"], "2026-09-03", 1.0, sellerFirmId="farm-c")]},
    )
    assert codes(late) == ["FORBIDDEN"]
