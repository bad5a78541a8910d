"""GraphQL reads against the real graph: exact answers, what another firm cannot see, errors, round trips."""

from __future__ import annotations

import pytest

from auth.principal import Role
from graph_schema import grants, lots, parties
from graph_schema.db import Graph
from graph_schema.identifiers import lgtin_for
from graph_schema.records import LotQuantity, LotRecord, ProductRecord, ShipmentRecord
from tests.factories import T0, gtin, register_firms
from tests.graphql_client import codes, execute, principal
from tests.integration.conftest import Chain

pytestmark = pytest.mark.neo4j


LOT = """query($id: ID!) { lot(id: $id) { id lotNumber quantity uom status
  product { gtin name nameKo } site { gln firm { id } } owner { id }
  inputs { transformationId quantity uom redacted lot { id } }
  shipments { id fromSite { gln } toSite { gln } quantity docType docNumber } } }"""


async def test_owner_sees_its_lot_in_full(graph: Graph, chain: Chain) -> None:
    result = await execute(graph, LOT, principal("plant"), {"id": chain.tofu})
    assert result.errors is None
    assert result.data == {
        "lot": {
            "id": chain.tofu,
            "lotNumber": "TOFU-0902",
            "quantity": 300.0,
            "uom": "kg",
            "status": "ACTIVE",
            "product": {"gtin": chain.tofu_gtin, "name": "Firm tofu", "nameKo": "부침두부"},
            "site": {"gln": chain.sites["plant"], "firm": {"id": "plant"}},
            "owner": {"id": "plant"},
            "inputs": [
                {"transformationId": "T-1", "quantity": 150.0, "uom": "kg", "redacted": False, "lot": {"id": chain.soy}}
            ],
            "shipments": [],
        }
    }


async def test_receiver_sees_the_suppliers_lot_one_step_back(graph: Graph, chain: Chain) -> None:
    result = await execute(graph, LOT, principal("plant"), {"id": chain.soy})
    assert result.errors is None
    assert result.data is not None
    assert result.data["lot"]["owner"] == {"id": "farm"}
    assert result.data["lot"]["shipments"] == [
        {
            "id": "DESADV-1",
            "fromSite": {"gln": chain.sites["farm"]},
            "toSite": {"gln": chain.sites["plant"]},
            "quantity": 500.0,
            "docType": "DESADV",
            "docNumber": "D-1",
        }
    ]


async def test_another_firm_sees_no_lot_of_the_chain(graph: Graph, chain: Chain) -> None:
    for lot_id in (chain.soy, chain.tofu):
        result = await execute(graph, LOT, principal("rival"), {"id": lot_id})
        assert result.errors is None
        assert result.data == {"lot": None}
    listed = await execute(graph, "{ lots { totalCount edges { node { id } } } }", principal("rival"))
    assert listed.data == {"lots": {"totalCount": 1, "edges": [{"node": {"id": chain.rival_tofu}}]}}


async def test_supplier_sees_the_plant_input_link_redacted(graph: Graph, chain: Chain) -> None:
    """The farm sees its soy went into something, not the plant's tofu lot itself."""
    result = await execute(
        graph,
        "query($id: ID!) { lot(id: $id) { outputs { redacted quantity lot { id } } } }",
        principal("farm"),
        {"id": chain.soy},
    )
    assert result.data == {"lot": {"outputs": [{"redacted": True, "quantity": 300.0, "lot": None}]}}


async def test_lots_lists_own_and_received_lots_with_filters(graph: Graph, chain: Chain) -> None:
    query = """query($gtin: String) { lots(productGtin: $gtin) { totalCount edges { node { id } } } }"""
    everything = await execute(graph, query, principal("plant"))
    assert everything.data == {
        "lots": {"totalCount": 2, "edges": [{"node": {"id": i}} for i in sorted([chain.soy, chain.tofu])]}
    }
    soy_only = await execute(graph, query, principal("plant"), {"gtin": chain.soy_gtin})
    assert soy_only.data == {"lots": {"totalCount": 1, "edges": [{"node": {"id": chain.soy}}]}}


TRACE = """query($id: ID!, $dir: TraceDirection!, $depth: Int) {
  trace(lotId: $id, direction: $dir, maxDepth: $depth) {
    origin { id } direction
    lots { id depth redacted ownerRole lot { id } }
    shipments { id lotId redacted quantity fromSite { gln } toSite { gln } }
    summary { lotCount redactedCount firmCount siteCount shipmentCount maxDepth
              quantities { productGtin uom quantity lotCount } } } }"""


async def test_downstream_trace_redacts_what_the_farm_may_not_see(graph: Graph, chain: Chain) -> None:
    result = await execute(graph, TRACE, principal("farm"), {"id": chain.soy, "dir": "DOWNSTREAM"})
    assert result.errors is None
    assert result.data is not None
    trace = result.data["trace"]
    assert trace["origin"] == {"id": chain.soy}
    assert trace["lots"][0] == {
        "id": chain.soy,
        "depth": 0,
        "redacted": False,
        "ownerRole": "PLANT",
        "lot": {"id": chain.soy},
    }
    hidden = trace["lots"][1]
    assert hidden["depth"] == 1
    assert hidden["redacted"] is True
    assert hidden["lot"] is None
    assert hidden["ownerRole"] == "PLANT"
    assert hidden["id"].startswith("redacted:lot:")
    assert chain.tofu not in hidden["id"]
    assert trace["shipments"] == [
        {
            "id": "DESADV-1",
            "lotId": chain.soy,
            "redacted": False,
            "quantity": 500.0,
            "fromSite": {"gln": chain.sites["farm"]},
            "toSite": {"gln": chain.sites["plant"]},
        }
    ]
    assert trace["summary"] == {
        "lotCount": 2,
        "redactedCount": 1,
        "firmCount": 2,
        "siteCount": 2,
        "shipmentCount": 1,
        "maxDepth": 1,
        "quantities": [{"productGtin": chain.soy_gtin, "uom": "kg", "quantity": 500.0, "lotCount": 1}],
    }
    again = await execute(graph, TRACE, principal("farm"), {"id": chain.soy, "dir": "DOWNSTREAM"})
    assert again.data is not None
    assert again.data["trace"]["lots"][1]["id"] == hidden["id"]


async def test_upstream_trace_of_the_plant_shows_its_received_input(graph: Graph, chain: Chain) -> None:
    result = await execute(graph, TRACE, principal("plant"), {"id": chain.tofu, "dir": "UPSTREAM", "depth": 1})
    assert result.errors is None
    assert result.data is not None
    assert [(lot["id"], lot["depth"], lot["redacted"]) for lot in result.data["trace"]["lots"]] == [
        (chain.tofu, 0, False),
        (chain.soy, 1, False),
    ]
    assert result.data["trace"]["summary"]["redactedCount"] == 0


async def test_trace_of_a_lot_the_caller_may_not_see_is_not_found(graph: Graph, chain: Chain) -> None:
    result = await execute(graph, TRACE, principal("rival"), {"id": chain.tofu, "dir": "UPSTREAM"})
    assert result.data is None
    assert codes(result) == ["NOT_FOUND"]


@pytest.mark.parametrize(
    ("query", "variables", "code", "field"),
    [
        ("query($g: String!) { site(gln: $g) { name } }", {"g": "8800000000010"}, "BAD_USER_INPUT", "gln"),
        ("query($g: String!) { product(gtin: $g) { name } }", {"g": "123"}, "BAD_USER_INPUT", "gtin"),
        ("query($id: ID!) { lot(id: $id) { id } }", {"id": "LOT-1"}, "BAD_USER_INPUT", "id"),
        (
            "query($id: ID!) { trace(lotId: $id, direction: UPSTREAM) { summary { lotCount } } }",
            {"id": "urn:epc:class:lgtin:8801234.012345.NOPE"},
            "NOT_FOUND",
            "lotId",
        ),
        (
            "query($id: ID!) { trace(lotId: $id, direction: UPSTREAM, maxDepth: 0) { summary { lotCount } } }",
            {"id": "urn:epc:class:lgtin:8801234.012345.NOPE"},
            "BAD_USER_INPUT",
            "maxDepth",
        ),
        ("{ lots(first: 1000) { totalCount } }", {}, "BAD_USER_INPUT", "first"),
        ('{ lots(after: "bm90LWEtY3Vyc29y") { totalCount } }', {}, "BAD_USER_INPUT", "after"),
    ],
)
async def test_bad_input_gets_a_code_and_the_field(
    graph: Graph, query: str, variables: dict[str, str], code: str, field: str
) -> None:
    result = await execute(graph, query, principal("plant"), variables)
    assert result.data is None or set(result.data.values()) == {None}  # nullable roots answer null
    assert result.errors is not None
    assert len(result.errors) == 1
    assert (result.errors[0].extensions or {}).get("code") == code
    assert (result.errors[0].extensions or {}).get("field") == field
    assert "Traceback" not in result.errors[0].message


async def test_syntax_errors_and_deep_queries_have_codes(graph: Graph) -> None:
    assert codes(await execute(graph, "{ lots { ", principal("plant"))) == ["BAD_USER_INPUT"]
    nested = "name"
    for _ in range(8):  # firms > edges > node, then sites > firm eight times: well past the limit of 12
        nested = f"sites {{ firm {{ {nested} }} }}"
    deep = f"{{ firms {{ edges {{ node {{ {nested} }} }} }} }}"
    assert codes(await execute(graph, deep, principal("plant"))) == ["QUERY_TOO_COMPLEX"]


async def test_every_query_refuses_an_unauthenticated_caller(graph: Graph, chain: Chain) -> None:
    for query in (
        "{ me { firmId } }",
        "{ firms { totalCount } }",
        "{ lots { totalCount } }",
        f'{{ lot(id: "{chain.soy}") {{ id }} }}',
        f'{{ site(gln: "{chain.sites["farm"]}") {{ name }} }}',
        f'{{ trace(lotId: "{chain.soy}", direction: DOWNSTREAM) {{ summary {{ lotCount }} }} }}',
    ):
        result = await execute(graph, query, None)
        assert result.data is None or set(result.data.values()) == {None}, query
        assert codes(result) == ["UNAUTHENTICATED"], query


async def test_firms_page_by_cursor(graph: Graph, chain: Chain) -> None:
    query = """query($after: String) { firms(first: 2, after: $after) {
        totalCount pageInfo { hasNextPage endCursor } edges { node { id roles } } } }"""
    first = await execute(graph, query, principal("rival", Role.VIEWER))
    assert first.data is not None
    page = first.data["firms"]
    assert [e["node"]["id"] for e in page["edges"]] == ["farm", "plant"]
    assert page["totalCount"] == 3
    assert page["pageInfo"]["hasNextPage"] is True
    second = await execute(graph, query, principal("rival", Role.VIEWER), {"after": page["pageInfo"]["endCursor"]})
    assert second.data is not None
    assert [e["node"]["id"] for e in second.data["firms"]["edges"]] == ["rival"]
    assert second.data["firms"]["pageInfo"]["hasNextPage"] is False


async def test_lists_cost_the_same_round_trips_whatever_their_length(graph: Graph) -> None:
    """DataLoaders batch every nested field: 3 lots or 12 lots, the same number of database queries."""
    sites = await register_firms(graph, ["maker", "dc"])
    product = gtin()
    await parties.upsert_products(
        graph, [ProductRecord(gtin=product, owner_firm_id="maker", name="Kimchi", category="kimchi", uom="kg")]
    )
    ids = [lgtin_for(product, f"K{i:02d}") for i in range(12)]
    await lots.record_lots(
        graph,
        [
            LotRecord(id=i, owner_firm_id="maker", site_gln=sites["maker"], quantity=10.0, uom="kg", produced_at=T0)
            for i in ids
        ],
    )
    await lots.record_shipments(
        graph,
        [
            ShipmentRecord(
                id=f"S{n}",
                from_gln=sites["maker"],
                to_gln=sites["dc"],
                shipped_at=T0,
                items=[LotQuantity(lot_id=i, quantity=1.0, uom="kg")],
            )
            for n, i in enumerate(ids)
        ],
        shipper_firm_id="maker",
    )
    query = """query($n: Int!) { lots(first: $n) { edges { node { id product { name brandOwner { name } }
        site { name firm { name certifications { kind } } } owner { name sites { gln } }
        inputs { quantity } outputs { quantity }
        shipments { toSite { name firm { name } } shipper { name } } } } } }"""
    small = await execute(graph, query, principal("maker"), {"n": 3})
    large = await execute(graph, query, principal("maker"), {"n": 12})
    assert small.errors is None
    assert large.errors is None
    assert large.data is not None
    assert len(large.data["lots"]["edges"]) == 12
    assert small.extensions == large.extensions
    # one query for the page, then one per loader and nesting level (firms are asked for at three levels)
    assert large.extensions is not None
    assert large.extensions["roundTrips"] == 12


async def test_inputs_bring_their_visible_lots_along_and_nothing_of_the_hidden_ones(graph: Graph, chain: Chain) -> None:
    query = """query($id: ID!) { lot(id: $id) { id inputs { quantity redacted lot { id quantity owner { id } } } } }"""
    plant = await execute(graph, query, principal("plant", Role.VIEWER), {"id": chain.tofu})
    assert plant.errors is None
    assert plant.data == {
        "lot": {
            "id": chain.tofu,
            "inputs": [
                {
                    "quantity": 150.0,
                    "redacted": False,
                    "lot": {"id": chain.soy, "quantity": 500.0, "owner": {"id": "farm"}},
                }
            ],
        }
    }
    # the decision, the lot, its inputs with their lots, the owners: the input lot costs no query of its own
    assert plant.extensions == {"roundTrips": 4}

    await grants.create_grant(
        graph,
        {
            "id": "g-rival",
            "ownerFirmId": "plant",
            "scope": "TRACE",
            "level": "DETAIL",
            "toFirmId": "rival",
            "toRole": None,
            "toCluster": False,
            "until": None,
            "createdAt": None,
        },
    )
    rival = await execute(graph, query, principal("rival", Role.VIEWER), {"id": chain.tofu})
    assert rival.errors is None
    assert rival.data == {
        "lot": {"id": chain.tofu, "inputs": [{"quantity": 150.0, "redacted": True, "lot": None}]}
    }  # the plant shares its own lots; the farm's soybean lot stays hidden
