"""Finding things against the real graph: lot filters and sorts, recalls, shipments, search by name, node(id).

The chain is the recall workflow's (tests/integration/test_recall_workflow.py): the farm's S1 goes to the
plant, which makes M1 and X1 from it, T1 and T2 from M1; T1 and T2 go to the distributor's DC, then on to the
retailer's stores. The rival has its own tofu lot R1. Every filter is tried by a firm that may not see
everything the filter would match, and must not get it.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, LiteralString

import pytest

from graph_schema import lots, parties
from graph_schema.db import Graph
from graph_schema.identifiers import lgtin_for
from graph_schema.lot_filters import LotSort, count_lots_query, list_lots_query, page_params
from graph_schema.records import LotRecord, ProductRecord
from graph_schema.shipment_filters import count_shipments_query, list_shipments_query
from tests.factories import T0, gtin
from tests.graphql_client import codes, execute, principal
from tests.integration import test_recall_workflow as workflow
from tests.integration.test_recall_workflow import CLOSE, COORDINATOR, Recipe, data, declare
from tests.plans import explain, operators, shown, steps

pytestmark = pytest.mark.neo4j
recipe = workflow.recipe  # the recall workflow's chain, as a fixture of this module

LOTS = """query($f: Int = 20, $after: String, $number: String, $prefix: String, $status: LotStatus, $owner: ID,
  $product: String, $site: String, $from: DateTime, $to: DateTime, $sort: LotSort = ID) {
  lots(first: $f, after: $after, lotNumber: $number, lotNumberPrefix: $prefix, status: $status, ownerFirmId: $owner,
       productGtin: $product, siteGln: $site, producedFrom: $from, producedTo: $to, sort: $sort) {
    totalCount pageInfo { hasNextPage endCursor } edges { cursor node { id lotNumber status } } } }"""


async def lot_numbers(graph: Graph, caller: Any, **variables: Any) -> list[str]:
    result = data(await execute(graph, LOTS, caller, variables))["lots"]
    numbers = [edge["node"]["lotNumber"] for edge in result["edges"]]
    assert result["totalCount"] == len(numbers), "totalCount counts what the list returns"
    return numbers


async def test_lot_number_exact_and_prefix_find_only_lots_the_caller_may_see(graph: Graph, recipe: Recipe) -> None:
    plant, dist, rival = principal("plant"), principal("dist"), principal("rival")
    assert await lot_numbers(graph, plant, number="T1") == ["T1"]
    assert await lot_numbers(graph, plant, number="T") == []  # exact: no partial match
    assert sorted(await lot_numbers(graph, plant, prefix="T")) == ["T1", "T2"]
    # the distributor received T1 and T2; the plant's X1 (never shipped) and the rival's R1 stay hidden
    assert sorted(await lot_numbers(graph, dist, prefix="T")) == ["T1", "T2"]
    assert await lot_numbers(graph, dist, number="X1") == []
    assert await lot_numbers(graph, dist, number="R1") == []
    assert await lot_numbers(graph, rival, prefix="T") == []
    assert await lot_numbers(graph, rival, prefix="R") == ["R1"]
    # the owner filter cannot widen: the plant's lots as the distributor sees them are the received ones
    assert sorted(await lot_numbers(graph, dist, owner="plant")) == ["T1", "T2"]
    assert await lot_numbers(graph, dist, owner="rival") == []


async def test_bad_filters_are_refused_with_the_argument_named(graph: Graph, recipe: Recipe) -> None:
    plant = principal("plant")
    for variables, field in (
        ({"prefix": "x" * 21}, "lotNumberPrefix"),
        ({"prefix": ""}, "lotNumberPrefix"),
        ({"number": "x" * 21}, "lotNumber"),
        ({"from": "2030-01-01T00:00:00"}, "producedFrom"),
        ({"from": "2030-01-02T00:00:00+00:00", "to": "2030-01-01T00:00:00+00:00"}, "producedTo"),
        ({"site": "123"}, "siteGln"),
        ({"sort": "PRODUCED_AT", "after": "bG90OjE="}, "after"),  # a cursor of the ID sort
    ):
        result = await execute(graph, LOTS, plant, variables)
        assert codes(result) == ["BAD_USER_INPUT"], (variables, result.errors)
        assert result.errors is not None
        assert field in str(result.errors[0].message) or field == (result.errors[0].extensions or {}).get("field")


async def test_status_filter_follows_the_recall_hold(graph: Graph, recipe: Recipe) -> None:
    plant, dist = principal("plant"), principal("dist")
    assert await lot_numbers(graph, plant, status="ON_HOLD") == []
    await declare(graph, recipe, "M1")
    assert sorted(await lot_numbers(graph, plant, status="ON_HOLD")) == ["M1", "T1", "T2"]
    assert sorted(await lot_numbers(graph, plant, status="ACTIVE")) == ["S1", "X1"]  # S1: upstream, not held
    assert sorted(await lot_numbers(graph, dist, status="ON_HOLD")) == ["T1", "T2"]
    assert await lot_numbers(graph, principal("rival"), status="ON_HOLD") == []


async def test_production_dates_and_sorts_page_with_stable_cursors(graph: Graph, recipe: Recipe) -> None:
    tofu = recipe.product["tofu"]
    extra = [
        LotRecord(
            id=lgtin_for(tofu, n),
            owner_firm_id="plant",
            site_gln=recipe.site["plant"],
            quantity=10.0,
            uom="kg",
            produced_at=T0 + timedelta(days=d),
        )
        for n, d in (("A7", 7), ("A5", 5), ("A9", 9), ("A6", 5))
    ]
    await lots.record_lots(graph, extra)
    plant = principal("plant")
    window = {"from": (T0 + timedelta(days=5)).isoformat(), "to": (T0 + timedelta(days=9)).isoformat()}
    assert sorted(await lot_numbers(graph, plant, **window)) == ["A5", "A6", "A7"]  # to is exclusive
    assert await lot_numbers(graph, plant, sort="PRODUCED_AT_DESC", prefix="A") == ["A9", "A7", "A6", "A5"]
    # one lot per page: the cursor carries the sort key and the id, so ties (A5 and A6) keep their order
    for sort, expected in (
        ("PRODUCED_AT", ["A5", "A6", "A7", "A9"]),
        ("PRODUCED_AT_DESC", ["A9", "A7", "A6", "A5"]),
        ("LOT_NUMBER", ["A5", "A6", "A7", "A9"]),
    ):
        seen: list[str] = []
        after = None
        while True:
            page = data(await execute(graph, LOTS, plant, {"f": 1, "after": after, "sort": sort, "prefix": "A"}))
            page = page["lots"]
            seen += [edge["node"]["lotNumber"] for edge in page["edges"]]
            if not page["pageInfo"]["hasNextPage"]:
                break
            after = page["pageInfo"]["endCursor"]
        assert seen == expected, sort
    all_by_number = await lot_numbers(graph, plant, sort="LOT_NUMBER")
    assert all_by_number == sorted(all_by_number)


def _index_plan(used: list[str]) -> None:
    assert not any(op.startswith(("NodeByLabelScan", "AllNodesScan")) for op in used), used
    assert any(op.startswith(("NodeIndexSeek", "NodeUniqueIndexSeek", "MultiNodeIndexSeek")) for op in used), used


async def _explain(graph: Graph, query: LiteralString, params: dict[str, Any]) -> list[str]:
    return operators(await explain(graph, query, params))


LOT_PARAMS: dict[str, Any] = {
    "viewerFirm": "x",
    "detailFirms": ["x"],
    "recalls": [],
    "productGtin": "1",
    "siteGln": "1",
    "ownerFirmId": "x",
    "lotNumber": "L",
    "lotNumberPrefix": "L",
    "status": "ACTIVE",
    "producedFrom": T0,
    "producedTo": T0,
    "afterKey": None,
    "afterId": None,
    "limit": 21,
}


@pytest.mark.parametrize("sort", list(LotSort))
@pytest.mark.parametrize(
    "given",
    [
        (),
        ("lot_number",),
        ("lot_number_prefix",),
        ("status",),
        ("product_gtin",),
        ("site_gln",),
        ("owner_firm_id",),
        ("produced_from", "produced_to"),
        ("lot_number_prefix", "status", "produced_from"),
    ],
)
async def test_every_lot_filter_reads_through_an_index(graph: Graph, given: tuple[str, ...], sort: LotSort) -> None:
    _index_plan(await _explain(graph, list_lots_query(given, sort), LOT_PARAMS))
    _index_plan(await _explain(graph, count_lots_query(given), LOT_PARAMS))


SHIPMENT_PARAMS: dict[str, Any] = {
    "viewerFirm": "x",
    "detailFirms": ["x"],
    "recalls": [],
    "fromGln": "1",
    "toGln": "1",
    "fromFirmId": "x",
    "toFirmId": "x",
    "lotId": "l",
    "shippedFrom": T0,
    "shippedTo": T0,
    "afterKey": None,
    "afterShipment": None,
    "afterLot": None,
    "limit": 21,
}


@pytest.mark.parametrize(
    "given",
    [(), ("from_gln",), ("to_gln",), ("from_firm_id",), ("to_firm_id",), ("lot_id",), ("shipped_from", "shipped_to")],
)
async def test_every_shipment_filter_reads_through_an_index(graph: Graph, given: tuple[str, ...]) -> None:
    _index_plan(await _explain(graph, list_shipments_query(given), SHIPMENT_PARAMS))
    _index_plan(await _explain(graph, count_shipments_query(given), SHIPMENT_PARAMS))


RECALLS = """query($open: Boolean, $f: Int = 20, $after: String) { recalls(open: $open, first: $f, after: $after) {
  totalCount pageInfo { hasNextPage endCursor } edges { node { id status lotIds } } } }"""


async def recall_ids(graph: Graph, caller: Any, **variables: Any) -> list[str]:
    result = data(await execute(graph, RECALLS, caller, variables))["recalls"]
    assert result["totalCount"] == len(result["edges"])
    return [edge["node"]["id"] for edge in result["edges"]]


async def test_recalls_list_what_each_firm_may_see_newest_first(graph: Graph, recipe: Recipe) -> None:
    first = await declare(graph, recipe, "T1")
    second = await declare(graph, recipe, "X1")
    assert await recall_ids(graph, COORDINATOR) == [second, first]
    assert await recall_ids(graph, principal("agency")) == [second, first]
    # the distributor received T1 (not X1); the retailer received T1 at Mapo; the rival is in neither
    assert await recall_ids(graph, principal("dist")) == [first]
    assert await recall_ids(graph, principal("retail")) == [first]
    assert await recall_ids(graph, principal("rival")) == []
    # the farm owns S1, upstream of both
    assert await recall_ids(graph, principal("farm")) == [second, first]
    await execute(graph, CLOSE, COORDINATOR, {"id": first})
    assert await recall_ids(graph, COORDINATOR, open=True) == [second]
    assert await recall_ids(graph, COORDINATOR, open=False) == [first]
    assert await recall_ids(graph, principal("dist"), open=True) == []
    page = data(await execute(graph, RECALLS, COORDINATOR, {"f": 1}))["recalls"]
    assert [edge["node"]["id"] for edge in page["edges"]] == [second]
    assert page["pageInfo"]["hasNextPage"]
    rest = await execute(graph, RECALLS, COORDINATOR, {"f": 1, "after": page["pageInfo"]["endCursor"]})
    assert [edge["node"]["id"] for edge in data(rest)["recalls"]["edges"]] == [first]


SHIPMENTS = """query($from: String, $to: String, $fromFirm: ID, $toFirm: ID, $lot: ID, $f: Int = 20, $after: String,
  $since: DateTime, $until: DateTime) {
  shipments(fromSiteGln: $from, toSiteGln: $to, fromFirmId: $fromFirm, toFirmId: $toFirm, lotId: $lot, first: $f,
            after: $after, shippedFrom: $since, shippedTo: $until) {
    totalCount pageInfo { hasNextPage endCursor } edges { node { id lotId quantity } } } }"""


async def movements(graph: Graph, caller: Any, recipe: Recipe, **variables: Any) -> list[tuple[str, str]]:
    result = data(await execute(graph, SHIPMENTS, caller, variables))["shipments"]
    assert result["totalCount"] == len(result["edges"])
    return sorted((edge["node"]["id"], recipe.names([edge["node"]["lotId"]])[0]) for edge in result["edges"])


async def test_shipments_filter_inside_what_each_party_may_see(graph: Graph, recipe: Recipe) -> None:
    dist, retail, rival = principal("dist"), principal("retail"), principal("rival")
    assert await movements(graph, dist, recipe) == [("SH2", "T1"), ("SH2", "T2"), ("SH3", "T1"), ("SH4", "T2")]
    assert await movements(graph, dist, recipe, to=recipe.site["mapo"]) == [("SH3", "T1")]
    assert await movements(graph, dist, recipe, lot=recipe.lot["T2"]) == [("SH2", "T2"), ("SH4", "T2")]
    assert await movements(graph, dist, recipe, fromFirm="plant") == [("SH2", "T1"), ("SH2", "T2")]
    # the retailer sees what reached it, not the plant's shipment to the distributor
    assert await movements(graph, retail, recipe) == [("SH3", "T1"), ("SH4", "T2")]
    assert await movements(graph, retail, recipe, fromFirm="plant") == []
    assert await movements(graph, retail, recipe, lot=recipe.lot["T1"]) == [("SH3", "T1")]
    assert await movements(graph, rival, recipe) == []
    assert await movements(graph, rival, recipe, lot=recipe.lot["T1"]) == []
    shipped = T0 + timedelta(days=2)
    window = {"since": shipped.isoformat(), "until": (shipped + timedelta(seconds=1)).isoformat()}
    assert len(await movements(graph, dist, recipe, **window)) == 4
    assert await movements(graph, dist, recipe, since=(shipped + timedelta(seconds=1)).isoformat()) == []
    # the coordinator of an open recall sees the shipments of its lots beyond its own
    recall = await declare(graph, recipe, "T1")
    plant_view = await movements(graph, COORDINATOR, recipe, to=recipe.site["mapo"])
    assert plant_view == [("SH3", "T1")], recall
    # pages of one movement each come back in full, each once
    seen: list[str] = []
    after = None
    while True:
        page = data(await execute(graph, SHIPMENTS, dist, {"f": 1, "after": after}))["shipments"]
        seen += [edge["node"]["id"] + "/" + edge["node"]["lotId"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert len(seen) == len(set(seen)) == 4


SEARCH = """query($text: String!, $kinds: [SearchKind!]) {
  search(text: $text, kinds: $kinds) { kind score node { __typename id
    ... on Product { gtin name nameKo } ... on Firm { name } ... on Site { gln name } } } }"""


async def found(graph: Graph, text: str, kinds: list[str] | None = None) -> list[tuple[str, str]]:
    result = data(await execute(graph, SEARCH, principal("rival"), {"text": text, "kinds": kinds}))["search"]
    return [(hit["kind"], hit["node"].get("nameKo") or hit["node"]["name"]) for hit in result]


async def test_search_finds_korean_and_english_names(graph: Graph, recipe: Recipe) -> None:
    pan_tofu = gtin()
    await parties.upsert_products(
        graph,
        [
            ProductRecord(
                gtin=pan_tofu, owner_firm_id="plant", name="Pan-fry tofu", name_ko="부침두부", category="tofu", uom="kg"
            ),
            ProductRecord(
                gtin=gtin(), owner_firm_id="plant", name="Kimchi", name_ko="배추김치", category="x", uom="kg"
            ),
        ],
    )
    assert await found(graph, "두부") == [("PRODUCT", "부침두부")]
    assert await found(graph, "두") == [("PRODUCT", "부침두부")]  # one syllable: a prefix of the bigrams
    assert ("PRODUCT", "Firm tofu") in await found(graph, "tofu")
    assert ("PRODUCT", "부침두부") in await found(graph, "TOFU")
    assert await found(graph, "soybean") == [("PRODUCT", "Soybean")]
    assert await found(graph, "mapo", ["SITE"]) == [("SITE", "Store Mapo")]
    assert await found(graph, "mapo", ["FIRM", "PRODUCT"]) == []
    assert await found(graph, "rival") == [("FIRM", "Firm rival"), ("SITE", "Rival plant")]
    # Lucene syntax in the text is searched as words, not run: no match-all, no error
    for hostile in ("*:*", "name:*", "tofu~", "(", "AND", "\\", '"'):
        result = await execute(graph, SEARCH, principal("rival"), {"text": hostile})
        assert result.errors is None, (hostile, result.errors)
        assert len(result.data["search"]) <= 3, hostile  # type: ignore[index]
    hit = data(await execute(graph, SEARCH, principal("rival"), {"text": "부침두부"}))["search"][0]
    assert hit["node"] == {
        "__typename": "Product",
        "id": f"product/{pan_tofu}",
        "gtin": pan_tofu,
        "name": "Pan-fry tofu",
        "nameKo": "부침두부",
    }
    assert codes(await execute(graph, SEARCH, principal("rival"), {"text": "x" * 101})) == ["BAD_USER_INPUT"]
    assert codes(await execute(graph, SEARCH, None, {"text": "tofu"})) == ["UNAUTHENTICATED"]


NODE = """query($id: ID!) { node(id: $id) { __typename id } }"""


async def test_node_finds_each_type_by_its_id_within_what_the_caller_sees(graph: Graph, recipe: Recipe) -> None:
    recall = await declare(graph, recipe, "T1")
    plant, rival = principal("plant"), principal("rival")
    for node_id, typename in (
        ("plant", "Firm"),
        (f"site/{recipe.site['dc']}", "Site"),
        (f"product/{recipe.product['tofu']}", "Product"),
        (recipe.lot["X1"], "Lot"),
        (recall, "Recall"),
    ):
        assert data(await execute(graph, NODE, plant, {"id": node_id}))["node"] == {
            "__typename": typename,
            "id": node_id,
        }
    # another firm's lot and a recall the rival has no part in are not disclosed
    assert data(await execute(graph, NODE, rival, {"id": recipe.lot["X1"]}))["node"] is None
    assert data(await execute(graph, NODE, rival, {"id": recall}))["node"] is None
    assert data(await execute(graph, NODE, rival, {"id": "nobody"}))["node"] is None
    assert codes(await execute(graph, NODE, rival, {"id": "site/123"})) == ["BAD_USER_INPUT"]


@pytest.mark.parametrize("after", [None, ("urn:epc:class:lgtin:0", "urn:epc:class:lgtin:0")])
async def test_a_sites_page_of_lots_is_read_in_the_order_of_its_index(graph: Graph, after: Any) -> None:
    # one branch under the visibility rule, the (siteGln, id) index read from the cursor on in the page's order:
    # no sort of the site's lots, so the page stops after its last lot, however many the site made
    params = {**LOT_PARAMS, **page_params(LotSort.ID, after, 21)}
    plan = await explain(graph, list_lots_query(("site_gln",), LotSort.ID), params)
    seeks = [details for op, details in steps(plan) if op == "NodeIndexSeek"]
    assert any("Lot(siteGln, id)" in details and "id >" in details for details in seeks), shown(plan)
    assert not any(op in ("Sort", "Top", "PartialSort", "PartialTop", "Union") for op, _ in steps(plan)), shown(plan)
