"""sharingPreview: a grant's effect shown before it is given, by the same decision and reads as the grantee's."""

from __future__ import annotations

from typing import Any

import pytest

from auth.principal import Role
from graph_schema import grants
from graph_schema.db import Graph
from tests.graphql_client import codes, execute, principal
from tests.integration.conftest import Chain

pytestmark = pytest.mark.neo4j

PREVIEW = """query($in: SharingGrantInput!) { sharingPreview(input: $in) {
  scope level firmCount
  grantees { firmId firm { name } newRecordsInDetail lotsInDetailNow lotsInDetailAfter lotsInSummaryAfter
    sampleLotNumbers } } }"""
GRANT = "mutation($in: SharingGrantInput!) { grantSharing(input: $in) { id } }"
PLANT_LOTS = '{ lots(ownerFirmId: "plant") { totalCount edges { node { lotNumber } } } }'


async def preview(graph: Graph, grant: dict[str, Any], *roles: Role) -> dict[str, Any]:
    result = await execute(graph, PREVIEW, principal("plant", *roles), {"in": grant})
    assert result.errors is None, result.errors
    assert result.data is not None
    answer: dict[str, Any] = result.data["sharingPreview"]
    return answer


async def test_the_preview_shows_what_the_grant_then_opens(graph: Graph, chain: Chain) -> None:
    grant = {"scope": "TRACE", "level": "DETAIL", "toFirmId": "farm"}
    shown = await preview(graph, grant)
    assert shown == {
        "scope": "TRACE",
        "level": "DETAIL",
        "firmCount": 1,
        "grantees": [
            {
                "firmId": "farm",
                "firm": {"name": "Firm farm"},
                "newRecordsInDetail": 1,
                "lotsInDetailNow": 0,
                "lotsInDetailAfter": 1,
                "lotsInSummaryAfter": 0,
                "sampleLotNumbers": ["TOFU-0902"],
            }
        ],
    }
    assert await grants.grants_given(graph, firm_id="plant") == []  # a preview gives nothing
    before = await execute(graph, PLANT_LOTS, principal("farm", Role.VIEWER))
    assert before.data == {"lots": {"totalCount": 0, "edges": []}}

    assert (await execute(graph, GRANT, principal("plant"), {"in": grant})).errors is None
    after = await execute(graph, PLANT_LOTS, principal("farm", Role.VIEWER))
    assert after.data == {"lots": {"totalCount": 1, "edges": [{"node": {"lotNumber": "TOFU-0902"}}]}}
    # once given, the same preview has nothing new to show
    again = await preview(graph, grant)
    assert again["grantees"][0]["lotsInDetailNow"] == 1
    assert again["grantees"][0]["newRecordsInDetail"] == 0


async def test_a_summary_grant_to_a_role_is_previewed_for_each_firm_it_reaches(graph: Graph, chain: Chain) -> None:
    shown = await preview(graph, {"scope": "TRACE", "level": "SUMMARY", "toRole": "PLANT"})
    assert shown["firmCount"] == 2  # farm and rival are PLANT firms in this chain; the owner itself is left out
    assert [g["firmId"] for g in shown["grantees"]] == ["farm", "rival"]
    for grantee in shown["grantees"]:
        assert (grantee["lotsInDetailAfter"], grantee["lotsInSummaryAfter"], grantee["sampleLotNumbers"]) == (0, 1, [])


async def test_other_scopes_are_counted_by_their_own_reads(graph: Graph, chain: Chain) -> None:
    shown = await preview(graph, {"scope": "CCP", "level": "DETAIL", "toCluster": True})
    assert shown["firmCount"] == 2
    assert {g["firmId"]: g["newRecordsInDetail"] for g in shown["grantees"]} == {"farm": 0, "rival": 0}  # no CCPs
    sales = await preview(graph, {"scope": "SALES", "level": "SUMMARY", "toFirmId": "rival"})
    assert sales["grantees"][0]["newRecordsInDetail"] is None


async def test_only_the_admin_previews_and_the_grant_is_checked_as_a_real_grant_is(graph: Graph, chain: Chain) -> None:
    grant = {"scope": "TRACE", "level": "DETAIL", "toFirmId": "farm"}
    editor = await execute(graph, PREVIEW, principal("plant", Role.EDITOR), {"in": grant})
    assert codes(editor) == ["FORBIDDEN"]
    unknown = await execute(graph, PREVIEW, principal("plant"), {"in": {**grant, "toFirmId": "nobody"}})
    assert codes(unknown) == ["NOT_FOUND"]
    two = await execute(graph, PREVIEW, principal("plant"), {"in": {**grant, "toCluster": True}})
    assert codes(two) == ["BAD_USER_INPUT"]
    itself = await execute(graph, PREVIEW, principal("plant"), {"in": {**grant, "toFirmId": "plant"}})
    assert codes(itself) == ["BAD_USER_INPUT"]
