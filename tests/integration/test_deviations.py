"""Deviations found in CCP readings (real SQLite store, real Neo4j): windows, lot links, late readings, holds."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from auth.principal import Role
from graph_schema import grants
from graph_schema.access import Viewer
from graph_schema.db import Graph, Row
from graph_schema.haccp import deviations
from graph_schema.haccp.readings import ReadingSpan, from_ms, to_ms
from graph_schema.model import LotHold
from graph_schema.recalls import close_recall, declare_recall
from resolvers.types.values import native_datetime
from tests.graphql_client import COMPILED_CHECKS, SQL_ENGINE, codes, execute, principal
from tests.integration.haccp_fixtures import Plant, plant


@pytest.fixture
async def p(graph: Graph) -> Plant:
    return await plant(graph, SQL_ENGINE)


async def evaluate(p: Plant, span: ReadingSpan, *, now_minutes: float | None = None, hold: bool = False) -> list[Row]:
    """Evaluate a batch; by default right after its last reading (no silence since)."""
    now = p.at(now_minutes) if now_minutes is not None else from_ms(span.last_at_ms) + timedelta(seconds=30)
    found = await deviations.evaluate(p.graph, SQL_ENGINE, [span], now=now, hold=hold)
    return [e.deviation for e in found]


async def recorded(p: Plant) -> list[Row]:
    """Every deviation of the plant's CCP, as its own firm sees them, by window start."""
    viewer = Viewer(firm_id="plant", detail_firm_ids=frozenset({"plant"}))
    rows = await deviations.list_deviations(
        p.graph, viewer, site_gln=None, ccp_id=p.ccp, status=None, after=None, limit=100
    )
    return sorted(rows, key=lambda d: d["windowStart"])


def window(p: Plant, d: Row) -> tuple[float, float | None]:
    """A deviation's window in minutes after T0."""
    start = (to_ms(_parse(d["windowStart"])) - to_ms(p.at(0))) / 60_000
    end = None if d["windowEnd"] is None else (to_ms(_parse(d["windowEnd"])) - to_ms(p.at(0))) / 60_000
    return start, end


def _parse(text: str) -> datetime:
    parsed = native_datetime(text)
    assert parsed is not None
    return parsed


async def status_of(graph: Graph, lot: str) -> str:
    rows = await graph.read("MATCH (l:Lot {id: $id}) RETURN l.status AS status", {"id": lot})
    return str(rows[0]["status"])


async def test_an_excursion_opens_a_deviation_linked_to_exactly_the_lots_made_in_its_window(p: Plant) -> None:
    before = await p.lot(3)
    inside = await p.lot(4.5)
    during = await p.lot(6)
    at_end = await p.lot(8)  # the first in-limit reading after the excursion: still not known to be safe
    after = await p.lot(9)
    milk = await p.lot(6, product=p.milk)  # the CCP guards the tofu only
    rival = await p.lot(6, firm="rival")  # another plant at the same time
    span = p.readings([(m, 90.0) for m in range(5)] + [(5, 80.0), (6, 75.0), (7, 82.0), (8, 90.0), (9, 91.0)])

    [opened] = await evaluate(p, span)

    assert (opened["kind"], opened["status"], opened["worstValue"]) == ("OUT_OF_LIMITS", "OPEN", 75.0)
    assert window(p, opened) == (4, 8)
    assert set(opened["lotIds"]) == {inside, during, at_end}
    assert not {before, after, milk, rival} & set(opened["lotIds"])
    # evaluated again with nothing new: nothing changes, no second deviation
    await evaluate(p, span)
    assert [d["id"] for d in await recorded(p)] == [opened["id"]]

    # a lot recorded afterwards but produced during the window is linked by the lot write itself
    late_lot = await p.lot(7)
    [again] = await recorded(p)
    assert set(again["lotIds"]) == {inside, during, at_end, late_lot}


async def test_late_readings_are_placed_by_measurement_time(p: Plant) -> None:
    lots = {m: await p.lot(m) for m in (1.5, 4.5, 6, 7, 8, 12, 14)}
    await evaluate(p, p.readings([(m, 90.0) for m in range(5)] + [(5, 80.0), (6, 75.0), (7, 82.0), (8, 90.0)]))
    [first] = await recorded(p)

    # a second device's reading, delivered late, shows the heating back in limits at minute 6.5: split in two
    split = await evaluate(p, p.readings([(6.5, 88.0)], device="gw-1.probe-2"))
    assert len(split) == 2
    kept, new = sorted(await recorded(p), key=lambda d: d["id"] != first["id"])
    assert kept["id"] == first["id"]
    assert (window(p, kept), kept["worstValue"], set(kept["lotIds"])) == ((4, 6.5), 75.0, {lots[4.5], lots[6]})
    assert (window(p, new), new["worstValue"], set(new["lotIds"])) == ((6.5, 8), 82.0, {lots[7], lots[8]})

    # a gateway back from an outage reports an excursion an hour in the past: a deviation opens in the past
    await evaluate(p, p.readings([(1.5, 120.0), (2, 90.0)], device="gw-1.probe-2"))
    earliest = (await recorded(p))[0]
    assert (window(p, earliest), earliest["worstValue"], earliest["lotIds"]) == ((1, 2), 120.0, [lots[1.5]])

    # still out of limits: the window stays open and takes every lot made since
    await evaluate(p, p.readings([(9, 90.0), (10, 70.0), (11, 72.0)]), now_minutes=11)
    ongoing = (await recorded(p))[-1]
    assert window(p, ongoing) == (9, None)
    assert set(ongoing["lotIds"]) == {lots[12], lots[14]}
    # the first in-limit reading closes the window and shrinks the links to it
    await evaluate(p, p.readings([(13, 90.0)]), now_minutes=13)
    closed = (await recorded(p))[-1]
    assert (closed["id"], window(p, closed), closed["lotIds"]) == (ongoing["id"], (9, 13), [lots[12]])


async def test_silence_past_the_interval_and_grace_is_missed_monitoring(p: Plant) -> None:
    gap_lot = await p.lot(5)
    # one reading a minute, then nothing from minute 3 to minute 7 (interval 60 s + grace 60 s = 2 minutes)
    await evaluate(p, p.readings([(0, 90.0), (1, 90.0), (2, 90.0), (3, 90.0), (7, 90.0), (8, 90.0)]), now_minutes=8)
    [missed] = await recorded(p)
    assert (missed["kind"], window(p, missed), missed["lotIds"]) == ("MISSED_MONITORING", (3, 7), [gap_lot])

    # a late batch fills the silence: monitoring was done after all, the deviation goes
    await evaluate(p, p.readings([(4, 90.0), (5, 90.0), (6, 90.0)], device="gw-1.probe-2"), now_minutes=9)
    assert await recorded(p) == []

    # the sweep: silent since minute 8, it is now minute 20
    [swept] = await deviations.sweep_missed_monitoring(p.graph, SQL_ENGINE, now=p.at(20), hold=False)
    assert (swept.opened, window(p, swept.deviation)) == (True, (8, None))
    assert await deviations.sweep_missed_monitoring(p.graph, SQL_ENGINE, now=p.at(21), hold=False) == []
    # the gateway comes back: the silence ends at its first reading
    await evaluate(p, p.readings([(22, 90.0)]), now_minutes=22)
    [ended] = await recorded(p)
    assert (ended["id"], window(p, ended)) == (swept.deviation["id"], (8, 22))


async def test_holds_follow_the_deviation_and_its_corrective_action_releases_them(p: Plant) -> None:
    held = await p.lot(6)
    recalled = await p.lot(6.5)
    coordinator = Viewer(firm_id="plant", detail_firm_ids=frozenset({"plant"}))
    recall = await declare_recall(
        p.graph,
        coordinator,
        recall_id="R-1",
        lot_ids=[recalled],
        reason="test",
        recall_class="I",
        overseer=False,
        now=p.at(1),
        hold=LotHold.RECALLED,
    )
    assert recall["status"] == "OPEN"
    [d] = await evaluate(p, p.readings([(5, 90.0), (6, 75.0), (7, 90.0)]), hold=True)
    assert (await status_of(p.graph, held), await status_of(p.graph, recalled)) == ("ON_HOLD", "RECALLED")
    later = await p.lot(6.2)  # recorded during the open deviation: held as it is linked
    assert await status_of(p.graph, later) == "ON_HOLD"

    closed = await deviations.record_corrective_action(
        p.graph,
        coordinator,
        deviation_id=d["id"],
        action="Steam valve replaced; batch re-heated",
        taken_at=p.at(9),
        by="test:plant",
        closes=True,
        now=p.at(10),
        may_act=lambda firm: None,
    )
    assert closed["status"] == "CLOSED"
    assert [a["action"] for a in closed["actions"]] == ["Steam valve replaced; batch re-heated"]
    assert [await status_of(p.graph, lot) for lot in (held, later, recalled)] == ["ACTIVE", "ACTIVE", "RECALLED"]


async def test_a_lot_held_by_a_deviation_and_a_recall_is_released_by_the_last_of_them(p: Plant) -> None:
    lot = await p.lot(6)
    plant_viewer = Viewer(firm_id="plant", detail_firm_ids=frozenset({"plant"}))
    [d] = await evaluate(p, p.readings([(5, 90.0), (6, 75.0), (7, 90.0)]), hold=True)
    await declare_recall(
        p.graph,
        plant_viewer,
        recall_id="R-2",
        lot_ids=[lot],
        reason="t",
        recall_class="II",
        overseer=False,
        now=p.at(8),
    )
    await deviations.record_corrective_action(
        p.graph,
        plant_viewer,
        deviation_id=d["id"],
        action="fixed",
        taken_at=p.at(9),
        by="x",
        closes=True,
        now=p.at(9),
        may_act=lambda firm: None,
    )
    assert await status_of(p.graph, lot) == "ON_HOLD"  # the recall still holds it
    await close_recall(p.graph, recall_id="R-2", firm_id="plant", now=p.at(10))
    assert await status_of(p.graph, lot) == "ACTIVE"


async def test_the_lot_write_paths_share_one_link(p: Plant) -> None:
    await evaluate(p, p.readings([(5, 90.0), (6, 75.0), (7, 90.0)]))
    made = await p.lot(6)
    rows = await p.graph.read("MATCH (:Deviation)-[:DURING]->(l:Lot) RETURN l.id AS id")
    assert [r["id"] for r in rows] == [made]
    assert timedelta(0) < p.at(1) - p.at(0)


async def grant(graph: Graph, scope: str, level: str, *, to: str) -> None:
    """The plant shares one scope of its data with a firm."""
    row: dict[str, object] = {"id": f"g-{scope}-{level}-{to}", "ownerFirmId": "plant", "scope": scope, "level": level}
    row |= {"toFirmId": to, "toRole": None, "toCluster": False, "until": None, "createdAt": None}
    await grants.create_grant(graph, row)


# --- through GraphQL --------------------------------------------------------------------------------------

DEVIATIONS = """
query($site: String) {
  deviations(siteGln: $site) {
    totalCount
    edges { node { id kind status windowStart windowEnd worstValue lots { id } correctiveActions { action by } } }
  }
}
"""
LOT_DEVIATIONS = "query($id: ID!) { lot(id: $id) { id deviations { id kind } } }"
LOT_DEVIATIONS_IN_FULL = """query($id: ID!) { lot(id: $id) { deviations { __typename id ccpId kind status openedAt
  closedAt windowStart windowEnd worstValue site { gln name } lots { id owner { id } }
  correctiveActions { action takenAt by recordedAt } } } }"""
TRACE = """
query($id: ID!) { trace(lotId: $id, direction: DOWNSTREAM) { lots { id redacted madeDuringDeviation } } }
"""
ACT = """
mutation($input: CorrectiveActionInput!) {
  recordCorrectiveAction(input: $input) { id status closedAt correctiveActions { action takenAt by } lots { id } }
}
"""


async def test_graphql_deviation_lifecycle_and_who_sees_it(p: Plant) -> None:
    made = await p.lot(6)
    await evaluate(p, p.readings([(5, 90.0), (6, 75.0), (7, 90.0)]))
    seen = (await execute(p.graph, DEVIATIONS, principal("plant", Role.VIEWER), {"site": p.site})).data
    assert seen is not None
    [edge] = seen["deviations"]["edges"]
    deviation = edge["node"]
    assert (deviation["kind"], deviation["status"], deviation["lots"]) == ("OUT_OF_LIMITS", "OPEN", [{"id": made}])
    lot = (await execute(p.graph, LOT_DEVIATIONS, principal("plant"), {"id": made})).data
    assert lot == {"lot": {"id": made, "deviations": [{"id": deviation["id"], "kind": "OUT_OF_LIMITS"}]}}
    traced = (await execute(p.graph, TRACE, principal("plant"), {"id": made})).data
    assert traced == {"trace": {"lots": [{"id": made, "redacted": False, "madeDuringDeviation": True}]}}

    # another firm, even with the lot shared in TRACE detail, sees no deviation without a CCP grant
    await grant(p.graph, "TRACE", "DETAIL", to="rival")
    rival = await execute(p.graph, DEVIATIONS, principal("rival"), {"site": p.site})
    assert rival.data == {"deviations": {"totalCount": 0, "edges": []}}
    rival_lot = (await execute(p.graph, LOT_DEVIATIONS, principal("rival"), {"id": made})).data
    assert rival_lot == {"lot": {"id": made, "deviations": []}}
    rival_trace = (await execute(p.graph, TRACE, principal("rival"), {"id": made})).data
    assert rival_trace == {"trace": {"lots": [{"id": made, "redacted": False, "madeDuringDeviation": False}]}}

    # the wrong role, and another firm, are refused; nothing is written
    taken = p.at(8).isoformat()
    good = {"deviationId": deviation["id"], "action": "Burner relit, lots re-heated", "takenAt": taken}
    viewer_try = await execute(p.graph, ACT, principal("plant", Role.VIEWER), {"input": good})
    assert codes(viewer_try) == ["FORBIDDEN"]
    rival_try = await execute(p.graph, ACT, principal("rival"), {"input": good})
    assert codes(rival_try) == ["NOT_FOUND"]
    # bad input names its field and writes nothing
    for bad, field, code in (
        ({**good, "action": "   "}, "input.action", "BAD_USER_INPUT"),
        ({**good, "action": "x" * 2001}, "input.action", "BAD_USER_INPUT"),
        ({**good, "action": "ok\x00"}, "input.action", "BAD_USER_INPUT"),
        ({**good, "takenAt": "2999-01-01T00:00:00+00:00"}, "input.takenAt", "BAD_USER_INPUT"),
        ({**good, "takenAt": p.at(1).isoformat()}, "takenAt", "BAD_USER_INPUT"),  # before the window began
        ({**good, "deviationId": "DEV-nope"}, "deviationId", "NOT_FOUND"),
    ):
        refused = await execute(p.graph, ACT, principal("plant", Role.EDITOR), {"input": bad})
        assert refused.errors is not None
        assert ((refused.errors[0].extensions or {}).get("field"), codes(refused)) == (field, [code])
    assert await p.graph.read("MATCH (a:CorrectiveAction) RETURN a") == []

    done = await execute(p.graph, ACT, principal("plant", Role.EDITOR), {"input": good})
    assert done.errors is None
    assert done.data is not None
    closed = done.data["recordCorrectiveAction"]
    assert (closed["status"], closed["lots"]) == ("CLOSED", [{"id": made}])
    assert closed["correctiveActions"] == [
        {"action": "Burner relit, lots re-heated", "takenAt": "2026-09-01T09:08:00+00:00", "by": "test:plant"}
    ]
    # a lot's deviations, their lots and corrective actions compiled into the lot's one query
    # (resolvers/compiled.py), answered as the resolvers answer them for each firm (tests.graphql_client.execute)
    before = COMPILED_CHECKS["equal"]
    for firm in ("plant", "rival"):
        shown = await execute(p.graph, LOT_DEVIATIONS_IN_FULL, principal(firm, Role.VIEWER), {"id": made})
        assert shown.errors is None
    assert COMPILED_CHECKS["equal"] == before + 2
    assert shown.data == {"lot": {"deviations": []}}  # the rival sees the lot (TRACE grant), not its deviation
