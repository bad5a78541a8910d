"""Firm.lots and LotConnection.quantities: per firm, the count and quantities of its lots the viewer may see.

A count is an answer too: another firm's lots the list would hide must not be counted or summed, or the figures
would tell what the list does not. Every query here goes through tests.graphql_client.execute, which also answers
it with its compiled plan (resolvers/compiled.py) and requires the same JSON and access-log counts.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from auth.principal import Role
from graph_schema import grants, lots, parties
from graph_schema.db import Graph
from graph_schema.identifiers import lgtin_for
from graph_schema.records import CertificationRecord, LotRecord, ProductRecord
from tests.factories import T0, gtin
from tests.graphql_client import COMPILED_CHECKS, execute, principal
from tests.integration.conftest import Chain

pytestmark = pytest.mark.neo4j

FIRM_LOTS = """query Counts($status: LotStatus, $gtin: String) {
  firms(first: 50) { __typename totalCount
    edges { cursor node { id name
      lots(status: $status, productGtin: $gtin) { __typename totalCount
        quantities { __typename productGtin uom quantity lotCount } } } }
    pageInfo { hasNextPage endCursor } } }"""


async def _rival_lots(graph: Graph, chain: Chain) -> str:
    """Two more lots of the rival's, in litres and kilograms, one of them on hold: the rival's are three."""
    juice = gtin()
    await parties.upsert_products(
        graph, [ProductRecord(gtin=juice, owner_firm_id="rival", name="Soy milk", category="drink", uom="L")]
    )
    await lots.record_lots(
        graph,
        [
            LotRecord(id=lgtin_for(juice, "MILK-1"), owner_firm_id="rival", site_gln=chain.sites["rival"],
                      quantity=40.0, uom="L", produced_at=T0),
            LotRecord(id=lgtin_for(chain.tofu_gtin, "RIVAL-0903"), owner_firm_id="rival",
                      site_gln=chain.sites["rival"], quantity=10.5, uom="kg", produced_at=T0 + timedelta(days=2)),
        ],
    )  # fmt: skip
    return juice


async def _counts(graph: Graph, firm: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    before = COMPILED_CHECKS["equal"]
    result = await execute(graph, FIRM_LOTS, principal(firm, Role.VIEWER), variables or {})
    assert result.errors is None
    assert COMPILED_CHECKS["equal"] == before + 1, "the compiled plan fell back instead of answering"
    data = result.data or {}
    return {edge["node"]["id"]: edge["node"]["lots"] for edge in data["firms"]["edges"]}


def _figures(counted: dict[str, Any]) -> tuple[int, list[tuple[str, float, int]]]:
    return counted["totalCount"], sorted((q["uom"], q["quantity"], q["lotCount"]) for q in counted["quantities"])


async def test_another_firms_hidden_lots_are_neither_counted_nor_summed(graph: Graph, chain: Chain) -> None:
    juice = await _rival_lots(graph, chain)
    rival = await _counts(graph, "rival")
    assert _figures(rival["rival"]) == (3, [("L", 40.0, 1), ("kg", 100.5, 2)])
    plant = await _counts(graph, "plant")
    assert _figures(plant["rival"]) == (0, [])  # the rival shares nothing with the plant
    assert _figures(plant["plant"]) == (1, [("kg", 300.0, 1)])
    assert _figures(plant["farm"]) == (1, [("kg", 500.0, 1)])  # the soy shipped to the plant, and only it
    farm = await _counts(graph, "farm")
    assert _figures(farm["plant"]) == (0, [])  # the farm's soy went into the plant's tofu: not the farm's to see
    assert _figures(farm["rival"]) == (0, [])
    # the list and its count agree: what lots(ownerFirmId) lists is what Firm.lots counts
    listed = await execute(
        graph, '{ lots(ownerFirmId: "rival") { totalCount edges { node { id } } } }', principal("plant", Role.VIEWER)
    )
    assert listed.data == {"lots": {"totalCount": 0, "edges": []}}

    # once the rival shares its trace data with the plant, the plant counts all three, filters included
    now = datetime.now(UTC)
    await grants.create_grant(
        graph,
        {"id": "grant-rival-plant", "ownerFirmId": "rival", "scope": "TRACE", "level": "DETAIL", "toFirmId": "plant",
         "toRole": None, "toCluster": False, "until": None, "createdAt": now},
    )  # fmt: skip
    plant = await _counts(graph, "plant")
    assert plant["rival"]["totalCount"] == 3
    assert sum(q["quantity"] for q in plant["rival"]["quantities"]) == 140.5
    milk = await _counts(graph, "plant", {"gtin": juice})
    assert _figures(milk["rival"]) == (1, [("L", 40.0, 1)])
    assert _figures(milk["plant"]) == (0, [])
    active = await _counts(graph, "plant", {"status": "ACTIVE"})
    assert active["rival"]["totalCount"] == 3


async def test_one_firms_lots_counted_as_the_list_shows_them(graph: Graph, chain: Chain) -> None:
    await _rival_lots(graph, chain)
    result = await execute(
        graph, '{ firm(id: "farm") { lots { totalCount quantities { quantity } } } }', principal("plant", Role.VIEWER)
    )
    assert result.data == {"firm": {"lots": {"totalCount": 1, "quantities": [{"quantity": 500.0}]}}}
    alone = await execute(graph, '{ firm(id: "rival") { lots { totalCount } } }', principal("rival", Role.VIEWER))
    assert alone.data == {"firm": {"lots": {"totalCount": 3}}}
    hidden = await execute(graph, '{ firm(id: "rival") { lots { totalCount } } }', principal("farm", Role.VIEWER))
    assert hidden.data == {"firm": {"lots": {"totalCount": 0}}}
    paged = await execute(
        graph,
        '{ firm(id: "rival") { lots(first: 2, sort: PRODUCED_AT_DESC) { totalCount edges { node { quantity } } '
        "pageInfo { hasNextPage } } } }",
        principal("rival", Role.VIEWER),
    )  # a page of a firm's lots: the resolvers' (not compiled), with the same count
    assert paged.data == {
        "firm": {"lots": {"totalCount": 3, "edges": [{"node": {"quantity": 10.5}}, {"node": {"quantity": 90.0}}],
                          "pageInfo": {"hasNextPage": True}}}
    }  # fmt: skip


async def test_firms_sites_and_certifications_compile_with_the_resolvers_answer(graph: Graph, chain: Chain) -> None:
    await parties.upsert_certifications(
        graph,
        [
            CertificationRecord(id="HACCP-plant-1", firm_id="plant", site_gln=chain.sites["plant"], kind="HACCP",
                                number="H-1", valid_from=T0, valid_until=T0 + timedelta(days=365)),
            CertificationRecord(id="GAP-plant-2", firm_id="plant", kind="GAP", number="G-2", valid_from=T0,
                                valid_until=T0 + timedelta(days=30)),
        ],
    )  # fmt: skip
    query = """query F($role: FirmRole, $first: Int!, $after: String) {
      firms(role: $role, first: $first, after: $after) { totalCount
        edges { cursor node { __typename id name nameKo roles
          sites { gln name kind region firm { id } }
          certifications { id kind number validFrom validUntil site { gln name } } } }
        pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }"""
    after = None
    seen: list[str] = []
    for _ in range(10):  # page by page, two firms a page
        before = COMPILED_CHECKS["equal"]
        result = await execute(graph, query, principal("farm"), {"role": "PLANT", "first": 2, "after": after})
        assert result.errors is None
        assert COMPILED_CHECKS["equal"] == before + 1
        page = (result.data or {})["firms"]
        seen += [edge["node"]["id"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert {"farm", "plant", "rival"} <= set(seen)
    one = await execute(graph, '{ firm(id: "plant") { certifications { id kind site { gln } } sites { gln } } }',
                        principal("rival"))  # fmt: skip
    assert one.data == {
        "firm": {
            "certifications": [
                {"id": "GAP-plant-2", "kind": "GAP", "site": None},
                {"id": "HACCP-plant-1", "kind": "HACCP", "site": {"gln": chain.sites["plant"]}},
            ],
            "sites": [{"gln": chain.sites["plant"]}],
        }
    }
