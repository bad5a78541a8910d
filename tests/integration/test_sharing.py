"""Sharing grants, recalls and the access log, through GraphQL against the real graph."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import create_engine

from auth.principal import Role
from graph_schema import grants
from graph_schema.db import Graph
from tests.factories import register_firms
from tests.graphql_client import codes, execute, principal
from tests.integration.conftest import Chain

pytestmark = pytest.mark.neo4j

GRANT = """mutation($in: SharingGrantInput!) { grantSharing(input: $in) {
  id scope level toFirmId toRole toCluster owner { id } } }"""
REVOKE = "mutation($id: ID!) { revokeSharing(id: $id) }"
DOWN = """query($id: ID!) { trace(lotId: $id, direction: DOWNSTREAM) {
  lots { depth redacted lot { id } } summary { redactedCount quantities { productGtin quantity lotCount } } } }"""


async def farm_view(graph: Graph, chain: Chain) -> dict[str, Any]:
    result = await execute(graph, DOWN, principal("farm", Role.VIEWER), {"id": chain.soy})
    assert result.errors is None
    assert result.data is not None
    trace: dict[str, Any] = result.data["trace"]
    return trace


async def test_a_detail_grant_opens_the_trace_and_a_revoke_closes_it_on_the_next_request(
    graph: Graph, chain: Chain
) -> None:
    before = await farm_view(graph, chain)
    assert before["lots"] == [
        {"depth": 0, "redacted": False, "lot": {"id": chain.soy}},
        {"depth": 1, "redacted": True, "lot": None},
    ]
    granted = await execute(
        graph, GRANT, principal("plant"), {"in": {"scope": "TRACE", "level": "DETAIL", "toFirmId": "farm"}}
    )
    assert granted.errors is None
    assert granted.data is not None
    grant = granted.data["grantSharing"]
    assert {k: grant[k] for k in ("scope", "level", "toFirmId", "toRole", "toCluster", "owner")} == {
        "scope": "TRACE",
        "level": "DETAIL",
        "toFirmId": "farm",
        "toRole": None,
        "toCluster": False,
        "owner": {"id": "plant"},
    }
    opened = await farm_view(graph, chain)
    assert opened["lots"] == [
        {"depth": 0, "redacted": False, "lot": {"id": chain.soy}},
        {"depth": 1, "redacted": False, "lot": {"id": chain.tofu}},
    ]
    rival = await execute(graph, DOWN, principal("rival"), {"id": chain.soy})
    assert codes(rival) == ["NOT_FOUND"]  # the grant names the farm only

    revoked = await execute(graph, REVOKE, principal("plant"), {"id": grant["id"]})
    assert revoked.data == {"revokeSharing": True}
    assert await farm_view(graph, chain) == before
    again = await execute(graph, REVOKE, principal("plant"), {"id": grant["id"]})
    assert codes(again) == ["NOT_FOUND"]


async def test_a_summary_grant_counts_quantities_without_showing_lots(graph: Graph, chain: Chain) -> None:
    await execute(graph, GRANT, principal("plant"), {"in": {"scope": "TRACE", "level": "SUMMARY", "toRole": "PLANT"}})
    view = await farm_view(graph, chain)
    assert view["summary"] == {
        "redactedCount": 0 + 1,
        "quantities": sorted(
            [
                {"productGtin": chain.soy_gtin, "quantity": 500.0, "lotCount": 1},
                {"productGtin": chain.tofu_gtin, "quantity": 300.0, "lotCount": 1},
            ],
            key=lambda q: str(q["productGtin"]),
        ),
    }
    assert view["lots"][1] == {"depth": 1, "redacted": True, "lot": None}


async def test_cluster_grants_reach_everyone_and_expired_grants_nobody(graph: Graph, chain: Chain) -> None:
    await grants.create_grant(
        graph,
        {
            "id": "g-expired",
            "ownerFirmId": "plant",
            "scope": "TRACE",
            "level": "DETAIL",
            "toFirmId": None,
            "toRole": None,
            "toCluster": True,
            "until": datetime.now(UTC) - timedelta(minutes=1),
            "createdAt": datetime.now(UTC) - timedelta(days=1),
        },
    )
    assert (await farm_view(graph, chain))["summary"] == {
        "redactedCount": 1,
        "quantities": [{"productGtin": chain.soy_gtin, "quantity": 500.0, "lotCount": 1}],
    }
    in_force = await execute(
        graph,
        GRANT,
        principal("plant"),
        {
            "in": {
                "scope": "TRACE",
                "level": "DETAIL",
                "toCluster": True,
                "until": (datetime.now(UTC) + timedelta(days=1)).isoformat(),
            }
        },
    )
    assert in_force.errors is None
    assert (await farm_view(graph, chain))["summary"]["redactedCount"] == 0
    received = await execute(graph, "{ sharingGrantsReceived { owner { id } toCluster } }", principal("rival"))
    assert received.data == {"sharingGrantsReceived": [{"owner": {"id": "plant"}, "toCluster": True}]}
    given = await execute(graph, "{ sharingGrantsGiven { id } }", principal("plant"))
    assert given.data is not None
    assert len(given.data["sharingGrantsGiven"]) == 2  # the expired one is still listed for its owner


@pytest.mark.parametrize(
    ("caller", "grant_input", "code"),
    [
        (principal("plant", Role.EDITOR), {"scope": "TRACE", "level": "DETAIL", "toFirmId": "farm"}, "FORBIDDEN"),
        (principal("plant"), {"scope": "TRACE", "level": "DETAIL"}, "BAD_USER_INPUT"),
        (
            principal("plant"),
            {"scope": "TRACE", "level": "DETAIL", "toFirmId": "farm", "toCluster": True},
            "BAD_USER_INPUT",
        ),
        (principal("plant"), {"scope": "TRACE", "level": "DETAIL", "toFirmId": "plant"}, "BAD_USER_INPUT"),
        (principal("plant"), {"scope": "TRACE", "level": "DETAIL", "toFirmId": "nobody"}, "NOT_FOUND"),
        (
            principal("plant"),
            {"scope": "TRACE", "level": "DETAIL", "toFirmId": "farm", "until": "2020-01-01T00:00:00+00:00"},
            "BAD_USER_INPUT",
        ),
    ],
)
async def test_bad_grants_are_refused(
    graph: Graph, chain: Chain, caller: object, grant_input: dict[str, object], code: str
) -> None:
    result = await execute(graph, GRANT, caller, {"in": grant_input})  # type: ignore[arg-type]
    assert codes(result) == [code]
    assert await grants.grants_given(graph, firm_id="plant") == []


DECLARE = """mutation($lots: [ID!]!) { declareRecall(input: {lotIds: $lots, reason: "Listeria in soybean lot",
  recallClass: I}) { id status recallClass lotIds affectedLotCount coordinator { id } } }"""


async def test_an_open_recall_opens_its_trace_to_the_coordinator_and_the_agency(graph: Graph, chain: Chain) -> None:
    await register_firms(graph, ["agency"], roles=["AGENCY"])
    refused = await execute(graph, DECLARE, principal("farm", Role.ADMIN), {"lots": [chain.soy]})
    assert codes(refused) == ["FORBIDDEN"]
    not_visible = await execute(graph, DECLARE, principal("rival", Role.RECALL_COORDINATOR), {"lots": [chain.soy]})
    assert codes(not_visible) == ["NOT_FOUND"]

    declared = await execute(graph, DECLARE, principal("farm", Role.RECALL_COORDINATOR), {"lots": [chain.soy]})
    assert declared.errors is None
    assert declared.data is not None
    recall = declared.data["declareRecall"]
    assert {k: recall[k] for k in ("status", "recallClass", "lotIds", "affectedLotCount", "coordinator")} == {
        "status": "OPEN",
        "recallClass": "I",
        "lotIds": [chain.soy],
        "affectedLotCount": 2,
        "coordinator": {"id": "farm"},
    }
    assert (await farm_view(graph, chain))["summary"]["redactedCount"] == 0
    agency = await execute(graph, DOWN, principal("agency", Role.AUDITOR), {"id": chain.soy})
    assert agency.data is not None
    assert [lot["redacted"] for lot in agency.data["trace"]["lots"]] == [False, False]
    assert codes(await execute(graph, DOWN, principal("rival"), {"id": chain.soy})) == ["NOT_FOUND"]

    show = "query($id: ID!) { recall(id: $id) { id status lots { id } } }"
    for firm in ("farm", "agency", "plant"):  # coordinator, overseer, owner of an affected lot
        seen = await execute(graph, show, principal(firm, Role.VIEWER), {"id": recall["id"]})
        assert seen.data is not None
        assert seen.data["recall"]["status"] == "OPEN", firm
    assert (await execute(graph, show, principal("rival"), {"id": recall["id"]})).data == {"recall": None}

    close = "mutation($id: ID!) { closeRecall(id: $id) { status closedAt } }"
    assert codes(await execute(graph, close, principal("plant", Role.RECALL_COORDINATOR), {"id": recall["id"]})) == [
        "NOT_FOUND"
    ]
    closed = await execute(graph, close, principal("farm", Role.RECALL_COORDINATOR), {"id": recall["id"]})
    assert closed.data is not None
    assert closed.data["closeRecall"]["status"] == "CLOSED"
    assert (await farm_view(graph, chain))["summary"]["redactedCount"] == 1  # detail ends with the recall


LOG = "{ accessLog { totalCount edges { node { accessorFirmId accessorSubject operation recordCount } } } }"


async def test_the_owner_reads_who_accessed_its_records(graph: Graph, chain: Chain) -> None:
    own = await execute(graph, "query($id: ID!) { lot(id: $id) { id } }", principal("farm"), {"id": chain.soy})
    assert own.errors is None
    assert (await execute(graph, LOG, principal("farm"))).data == {"accessLog": {"totalCount": 0, "edges": []}}

    read = await execute(
        graph, "query($id: ID!) { lot(id: $id) { id shipments { id } } }", principal("plant"), {"id": chain.soy}
    )
    assert read.errors is None
    log = await execute(graph, LOG, principal("farm", Role.AUDITOR))
    assert log.data == {
        "accessLog": {
            "totalCount": 1,
            "edges": [
                {
                    "node": {
                        "accessorFirmId": "plant",
                        "accessorSubject": "test:plant",
                        "operation": "lot",
                        "recordCount": 2,
                    }
                }
            ],
        }
    }
    assert codes(await execute(graph, LOG, principal("farm", Role.VIEWER))) == ["FORBIDDEN"]
    assert (await execute(graph, LOG, principal("rival"))).data == {"accessLog": {"totalCount": 0, "edges": []}}


async def test_another_firms_records_are_withheld_when_the_access_log_cannot_be_written(
    graph: Graph, chain: Chain
) -> None:
    broken_store = create_engine("sqlite://")  # no tables: every write to the access log fails
    read = await execute(
        graph, "query($id: ID!) { lot(id: $id) { id } }", principal("plant"), {"id": chain.soy}, sql_engine=broken_store
    )
    assert read.data is None
    assert codes(read) == ["UNAVAILABLE"]
    own = await execute(
        graph,
        "query($id: ID!) { lot(id: $id) { id } }",
        principal("plant"),
        {"id": chain.tofu},
        sql_engine=broken_store,
    )
    assert own.data == {"lot": {"id": chain.tofu}}  # the firm's own records need no log entry
