"""CCP definitions: a plant registers its control points; who else sees them follows the CCP scope."""

from __future__ import annotations

from typing import Any

import pytest

from auth.principal import Role
from graph_schema.db import Graph
from graph_schema.haccp import ccps
from tests.factories import gtin, register_firms
from tests.graphql_client import codes, execute, principal
from tests.integration.commerce import share
from tests.plans import explain, operators

pytestmark = pytest.mark.neo4j

REGISTER = """mutation($in: CcpInput!) { registerCcp(input: $in) {
  id code name hazard limitLow limitHigh unit devices monitoringIntervalSeconds productGtins level site { gln } } }"""
CCPS = """query($site: String) { ccps(siteGln: $site) { totalCount edges { node { id level devices } } } }"""
ONE = """query($id: ID!) { ccp(id: $id) { id code level } }"""


def heating(site: str, **extra: Any) -> dict[str, Any]:
    return {
        "siteGln": site,
        "code": "CCP-1B",
        "name": "Heating (soy milk boiling)",
        "hazard": "Biological: vegetative pathogens",
        "limitLow": 85.0,
        "limitHigh": 100.0,
        "unit": "°C",
        "monitoringIntervalSeconds": 10,
        "devices": ["tt-101"],
        **extra,
    }


@pytest.fixture
async def sites(graph: Graph) -> dict[str, str]:
    sites = await register_firms(graph, ["plant", "buyer", "rival", "auditor-firm"])
    await register_firms(graph, ["agency"], roles=["AGENCY"])
    result = await execute(graph, REGISTER, principal("plant", Role.EDITOR), {"in": heating(sites["plant"])})
    assert result.errors is None, result.errors
    return sites


async def test_a_plant_registers_a_ccp_and_registering_it_again_updates_it(graph: Graph, sites: dict[str, str]) -> None:
    plant = sites["plant"]
    again = await execute(
        graph,
        REGISTER,
        principal("plant", Role.ADMIN),
        {"in": heating(plant, limitLow=90.0, devices=["tt-101", "tt-102"], productGtins=[])},
    )
    assert again.errors is None, again.errors
    assert again.data == {
        "registerCcp": {
            "id": f"{plant}-CCP-1B",
            "code": "CCP-1B",
            "name": "Heating (soy milk boiling)",
            "hazard": "Biological: vegetative pathogens",
            "limitLow": 90.0,
            "limitHigh": 100.0,
            "unit": "°C",
            "devices": ["tt-101", "tt-102"],
            "monitoringIntervalSeconds": 10,
            "productGtins": [],
            "level": "DETAIL",
            "site": {"gln": plant},
        }
    }
    stored = await graph.read("MATCH (:Site {gln: $gln})-[:HAS_CCP]->(c:CCP) RETURN c", {"gln": plant})
    assert len(stored) == 1
    assert stored[0]["c"]["firmId"] == "plant"
    assert stored[0]["c"]["devices"] == ["tt-101", "tt-102"]


@pytest.mark.parametrize(
    ("caller", "change", "code", "field"),
    [
        (principal("plant", Role.VIEWER), {}, "FORBIDDEN", None),
        (principal("rival", Role.ADMIN), {}, "FORBIDDEN", None),  # another firm's plant
        (principal("plant"), {"limitLow": 101.0}, "BAD_USER_INPUT", "input"),
        (principal("plant"), {"limitLow": None, "limitHigh": None}, "BAD_USER_INPUT", "input"),
        (principal("plant"), {"code": "=HYPERLINK(1)"}, "BAD_USER_INPUT", "input.code"),
        (principal("plant"), {"siteGln": "8800000000000"}, "BAD_USER_INPUT", "siteGln"),
        (principal("plant"), {"devices": ["a", "a"]}, "BAD_USER_INPUT", "input"),
        (principal("plant"), {"monitoringIntervalSeconds": 0}, "BAD_USER_INPUT", "input.monitoringIntervalSeconds"),
        (principal("plant"), {"productGtins": [gtin()]}, "NOT_FOUND", "productGtins"),
    ],
)
async def test_a_bad_registration_is_refused_and_changes_nothing(
    graph: Graph, sites: dict[str, str], caller: Any, change: dict[str, Any], code: str, field: str | None
) -> None:
    registration = heating(sites["plant"], **{"code": "CCP-3B", "devices": ["tt-301"], **change})
    result = await execute(graph, REGISTER, caller, {"in": registration})
    assert codes(result) == [code], result.errors
    assert result.errors is not None
    if field is not None:
        assert (result.errors[0].extensions or {}).get("field") == field
    rows = await graph.read("MATCH (c:CCP) RETURN c.id AS id")
    assert [row["id"] for row in rows] == [f"{sites['plant']}-CCP-1B"]


async def test_a_device_reports_for_one_ccp_only(graph: Graph, sites: dict[str, str]) -> None:
    taken = await execute(graph, REGISTER, principal("plant"), {"in": heating(sites["plant"], code="CCP-3B")})
    assert codes(taken) == ["CONFLICT"]
    assert taken.errors is not None
    assert "tt-101" in taken.errors[0].message
    rival = await execute(graph, REGISTER, principal("rival"), {"in": heating(sites["rival"])})
    assert codes(rival) == ["CONFLICT"]


async def visible(graph: Graph, firm: str, *roles: Role) -> dict[str, Any]:
    result = await execute(graph, CCPS, principal(firm, *roles), {"site": None})
    assert result.errors is None, result.errors
    assert result.data is not None
    return {
        "total": result.data["ccps"]["totalCount"],
        "levels": [e["node"]["level"] for e in result.data["ccps"]["edges"]],
    }


async def test_another_firm_without_a_grant_sees_no_ccp_of_the_plant(graph: Graph, sites: dict[str, str]) -> None:
    ccp_id = f"{sites['plant']}-CCP-1B"
    assert await visible(graph, "plant", Role.VIEWER) == {"total": 1, "levels": ["DETAIL"]}
    assert await visible(graph, "rival") == {"total": 0, "levels": []}
    one = await execute(graph, ONE, principal("rival"), {"id": ccp_id})
    assert one.errors is None
    assert one.data == {"ccp": None}
    by_site = await execute(graph, CCPS, principal("rival"), {"site": sites["plant"]})
    assert by_site.data is not None
    assert by_site.data["ccps"]["totalCount"] == 0
    # a TRACE grant is not a CCP grant
    await share(graph, "plant", "TRACE", "DETAIL", toFirmId="rival")
    assert await visible(graph, "rival") == {"total": 0, "levels": []}


async def test_ccp_grants_show_definitions_at_their_level_and_the_agency_sees_every_definition(
    graph: Graph, sites: dict[str, str]
) -> None:
    await share(graph, "plant", "CCP", "DETAIL", toFirmId="buyer")
    await share(graph, "plant", "CCP", "SUMMARY", toFirmId="auditor-firm")
    assert await visible(graph, "buyer") == {"total": 1, "levels": ["DETAIL"]}
    assert await visible(graph, "auditor-firm") == {"total": 1, "levels": ["SUMMARY"]}
    assert await visible(graph, "agency") == {"total": 1, "levels": ["SUMMARY"]}
    assert await visible(graph, "rival") == {"total": 0, "levels": []}
    one = await execute(graph, ONE, principal("auditor-firm"), {"id": f"{sites['plant']}-CCP-1B"})
    assert one.data == {"ccp": {"id": f"{sites['plant']}-CCP-1B", "code": "CCP-1B", "level": "SUMMARY"}}


async def test_a_sites_ccps_are_found_by_the_site_index(graph: Graph, sites: dict[str, str]) -> None:
    params = {"siteGln": sites["plant"], "after": None, "limit": 21, "ccpDetail": ["x"], "ccpSummary": []}
    used = operators(await explain(graph, ccps.LIST_SITE_CCPS, {**params, "ccpOverseer": False}))
    assert "NodeIndexSeek" in used, used
    assert "NodeByLabelScan" not in used, used
