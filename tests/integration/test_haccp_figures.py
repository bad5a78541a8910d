"""Compliance figures of a CCP, who sees them, and a deviation's recall proposal (real SQLite, real Neo4j)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from auth.principal import Role
from graph_schema import lots
from graph_schema.db import Graph
from graph_schema.haccp import deviations
from graph_schema.records import LotQuantity, ShipmentRecord
from tests.graphql_client import SQL_ENGINE, codes, execute, principal
from tests.integration.haccp_fixtures import Plant, plant
from tests.integration.test_deviations import grant

COMPLIANCE = """
query($ccp: ID!, $from: DateTime!, $to: DateTime!) {
  ccpCompliance(ccpId: $ccp, from: $from, to: $to) {
    readingCount inLimitCount readingComplianceRate intervalCount coveredIntervalCount monitoringCoverageRate
    deviationCount outOfLimitsCount missedMonitoringCount openDeviationCount correctedCount
    meanSecondsToCorrectiveAction maxSecondsToCorrectiveAction
  }
  deviations { totalCount }
}
"""
ACT = """
mutation($input: CorrectiveActionInput!) { recordCorrectiveAction(input: $input) { id status } }
"""
PROPOSAL = """
query($id: ID!) {
  recallProposal(deviationId: $id) {
    deviation { id } lotIds reason recallClass
    drill { lotIds affectedLotCount downstreamLotCount impact { firms { id } } }
  }
}
"""
DECLARE = """
mutation($id: ID!) { declareRecallFromDeviation(deviationId: $id, recallClass: II) { id lotIds recallClass reason } }
"""


@pytest.fixture
async def p(graph: Graph) -> Plant:
    return await plant(graph, SQL_ENGINE)


async def test_compliance_figures_and_who_sees_them(p: Plant) -> None:
    # ten readings a minute apart, three out of limits (minutes 5-7); then silence from minute 9 to minute 15
    span = p.readings([(m, 75.0 if m in (5, 6, 7) else 90.0) for m in range(10)] + [(15, 90.0)])
    found = await deviations.evaluate(p.graph, SQL_ENGINE, [span], now=p.at(15.5), hold=False)
    assert sorted(e.deviation["kind"] for e in found) == ["MISSED_MONITORING", "OUT_OF_LIMITS"]
    excursion = next(e.deviation for e in found if e.deviation["kind"] == "OUT_OF_LIMITS")
    # the corrective action ten minutes after the hub opened the deviation (at minute 15.5)
    taken = p.at(25.5).isoformat()
    acted = await execute(
        p.graph,
        ACT,
        principal("plant", Role.EDITOR),
        {"input": {"deviationId": excursion["id"], "action": "Fixed", "takenAt": taken}},
    )
    assert acted.errors is None
    window = {"ccp": p.ccp, "from": p.at(0).isoformat(), "to": p.at(20).isoformat()}
    expected = {
        "readingCount": 11,
        "inLimitCount": 8,
        "readingComplianceRate": 8 / 11,
        "intervalCount": 20,
        "coveredIntervalCount": 11,
        "monitoringCoverageRate": 11 / 20,
        "deviationCount": 2,
        "outOfLimitsCount": 1,
        "missedMonitoringCount": 1,
        "openDeviationCount": 1,
        "correctedCount": 1,
        "meanSecondsToCorrectiveAction": 600.0,
        "maxSecondsToCorrectiveAction": 600.0,
    }
    own = await execute(p.graph, COMPLIANCE, principal("plant", Role.VIEWER), window)
    assert own.data == {"ccpCompliance": expected, "deviations": {"totalCount": 2}}

    # no grant: no figures, no deviation
    rival = await execute(p.graph, COMPLIANCE, principal("rival"), window)
    assert rival.data == {"ccpCompliance": None, "deviations": {"totalCount": 0}}
    # the agency sees the figures cluster-wide, not the deviations themselves
    agency = await execute(p.graph, COMPLIANCE, principal("agency", Role.AUDITOR), window)
    assert agency.data == {"ccpCompliance": expected, "deviations": {"totalCount": 0}}
    # SUMMARY: figures only
    await grant(p.graph, "CCP", "SUMMARY", to="rival")
    summary = await execute(p.graph, COMPLIANCE, principal("rival"), window)
    assert summary.data == {"ccpCompliance": expected, "deviations": {"totalCount": 0}}
    # DETAIL: the deviations as well
    await grant(p.graph, "CCP", "DETAIL", to="rival")
    detail = await execute(p.graph, COMPLIANCE, principal("rival"), window)
    assert detail.data == {"ccpCompliance": expected, "deviations": {"totalCount": 2}}

    backwards = await execute(p.graph, COMPLIANCE, principal("plant"), {**window, "to": p.at(-1).isoformat()})
    assert (codes(backwards), (backwards.errors or [])[0].extensions) == (
        ["BAD_USER_INPUT"],
        {"code": "BAD_USER_INPUT", "field": "to"},
    )


async def test_a_deviation_proposes_a_recall_and_declares_it(p: Plant) -> None:
    made = await p.lot(6)
    untouched = await p.lot(20)
    await lots.record_shipments(
        p.graph,
        [
            ShipmentRecord(
                id="SH-1",
                from_gln=p.site,
                to_gln=p.sites["rival"],
                shipped_at=p.at(30),
                items=[LotQuantity(lot_id=made, quantity=5.0, uom="kg")],
            )
        ],
        shipper_firm_id="plant",
    )
    [found] = await deviations.evaluate(
        p.graph, SQL_ENGINE, [p.readings([(5, 90.0), (6, 70.0), (7, 90.0)])], now=p.at(7.5), hold=False
    )
    deviation_id = found.deviation["id"]
    coordinator = principal("plant", Role.RECALL_COORDINATOR)

    proposal = await execute(p.graph, PROPOSAL, coordinator, {"id": deviation_id})
    assert proposal.errors is None
    assert proposal.data is not None
    proposed = proposal.data["recallProposal"]
    assert (proposed["lotIds"], proposed["recallClass"]) == ([made], "I")
    assert p.ccp in proposed["reason"]
    assert proposed["drill"]["lotIds"] == [made]
    assert proposed["drill"]["affectedLotCount"] == 1
    assert {f["id"] for f in proposed["drill"]["impact"]["firms"]} == {"plant", "rival"}

    # the role rules of declareRecall: a viewer or an editor may not; another firm does not see the deviation
    for caller, code in (
        (principal("plant", Role.EDITOR), "FORBIDDEN"),
        (principal("rival", Role.RECALL_COORDINATOR), "NOT_FOUND"),
    ):
        assert codes(await execute(p.graph, PROPOSAL, caller, {"id": deviation_id})) == [code]
        assert codes(await execute(p.graph, DECLARE, caller, {"id": deviation_id})) == [code]
    assert await p.graph.read("MATCH (r:Recall) RETURN r") == []

    declared = await execute(p.graph, DECLARE, coordinator, {"id": deviation_id})
    assert declared.errors is None
    assert declared.data is not None
    recall = declared.data["declareRecallFromDeviation"]
    assert (recall["lotIds"], recall["recallClass"], recall["reason"]) == ([made], "II", proposed["reason"])
    statuses = await p.graph.read(
        "MATCH (l:Lot) WHERE l.id IN $ids RETURN l.id AS id, l.status AS status", {"ids": [made, untouched]}
    )
    assert {r["id"]: r["status"] for r in statuses} == {made: "ON_HOLD", untouched: "ACTIVE"}
    assert timedelta(minutes=1) == p.at(1) - p.at(0)
