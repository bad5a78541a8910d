"""What the hub keeps between requests (decisions per firm, public profiles), against the real graph.

The rules under test: a change made through this process counts from the next request; one made elsewhere (the
CLI, another worker: here, a direct write to the graph) counts once the kept copy is older than its time to
live; a decision is never used past the expiry of a grant it counted.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from auth.decisions import DecisionCache
from auth.principal import Role
from graph_schema import grants, parties
from graph_schema.db import Graph
from graph_schema.records import FirmRecord
from resolvers.loaders import ProfileCache
from tests.graphql_client import execute, principal
from tests.integration.conftest import Chain

pytestmark = pytest.mark.neo4j

GRANT = "mutation($in: SharingGrantInput!) { grantSharing(input: $in) { id } }"
REVOKE = "mutation($id: ID!) { revokeSharing(id: $id) }"
DOWN = "query($id: ID!) { trace(lotId: $id, direction: DOWNSTREAM) { lots { depth redacted lot { id } } } }"
FIRM = "query($id: ID!) { firm(id: $id) { id name } }"


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def farm_sees_the_tofu(graph: Graph, chain: Chain, decisions: DecisionCache) -> bool:
    result = await execute(graph, DOWN, principal("farm", Role.VIEWER), {"id": chain.soy}, decisions=decisions)
    assert result.errors is None
    assert result.data is not None
    lots: list[dict[str, Any]] = result.data["trace"]["lots"]
    [made] = [entry for entry in lots if entry["depth"] == 1]
    return not made["redacted"]


def grant_row(grant_id: str, *, until: datetime | None) -> dict[str, Any]:
    return {
        "id": grant_id,
        "ownerFirmId": "plant",
        "scope": "TRACE",
        "level": "DETAIL",
        "toFirmId": "farm",
        "toRole": None,
        "toCluster": False,
        "until": until,
        "createdAt": datetime.now(UTC),
    }


async def test_a_grant_and_its_revoke_through_the_hub_count_from_the_next_request(graph: Graph, chain: Chain) -> None:
    decisions = DecisionCache(ttl_seconds=60)
    assert not await farm_sees_the_tofu(graph, chain, decisions)
    granted = await execute(
        graph,
        GRANT,
        principal("plant"),
        {"in": {"scope": "TRACE", "level": "DETAIL", "toFirmId": "farm"}},
        decisions=decisions,
    )
    assert granted.errors is None
    assert granted.data is not None
    assert await farm_sees_the_tofu(graph, chain, decisions)
    reads = decisions.reads
    assert await farm_sees_the_tofu(graph, chain, decisions)
    assert decisions.reads == reads  # kept: the second request read no decision

    revoked = await execute(
        graph, REVOKE, principal("plant"), {"id": granted.data["grantSharing"]["id"]}, decisions=decisions
    )
    assert revoked.data == {"revokeSharing": True}
    assert not await farm_sees_the_tofu(graph, chain, decisions)


async def test_a_change_made_elsewhere_counts_once_the_kept_decision_is_older_than_its_ttl(
    graph: Graph, chain: Chain
) -> None:
    clock = Clock()
    decisions = DecisionCache(ttl_seconds=5, clock=clock)
    assert not await farm_sees_the_tofu(graph, chain, decisions)
    await grants.create_grant(graph, grant_row("g-elsewhere", until=None))  # as another worker would
    clock.now += 4.9
    assert not await farm_sees_the_tofu(graph, chain, decisions)  # the documented delay, at most the ttl
    clock.now += 0.2
    assert await farm_sees_the_tofu(graph, chain, decisions)
    assert decisions.reads == 2


async def test_a_kept_decision_is_not_used_past_the_expiry_of_a_grant_it_counted(graph: Graph, chain: Chain) -> None:
    clock = Clock()
    # the wall clock moves with the test's clock too, so a slow machine cannot spend the grant's 30 s meanwhile
    started = datetime.now(UTC)
    decisions = DecisionCache(
        ttl_seconds=60, clock=clock, wall_clock=lambda: started.timestamp() + (clock.now - 1000.0)
    )
    await grants.create_grant(graph, grant_row("g-short", until=started + timedelta(seconds=30)))
    assert await farm_sees_the_tofu(graph, chain, decisions)
    clock.now += 29
    assert await farm_sees_the_tofu(graph, chain, decisions)
    assert decisions.reads == 1
    clock.now += 2  # past the grant's until on the kept decision's own reckoning, well within the ttl
    await farm_sees_the_tofu(graph, chain, decisions)
    assert decisions.reads == 2


async def test_concurrent_requests_of_one_firm_share_one_decision_read(graph: Graph, chain: Chain) -> None:
    decisions = DecisionCache(ttl_seconds=60)
    caller = principal("farm", Role.VIEWER)
    results = await asyncio.gather(*(decisions.decide(graph, caller) for _ in range(8)))
    assert decisions.reads == 1
    assert all(result == results[0] for result in results)
    rival = await decisions.decide(graph, principal("rival", Role.VIEWER))
    assert decisions.reads == 2  # kept per firm: another firm's caller has its own decision
    assert rival.viewer.firm_id == "rival"
    assert rival.viewer.detail_firm_ids == frozenset({"rival"})


async def test_a_zero_ttl_reads_the_decision_for_every_request(graph: Graph, chain: Chain) -> None:
    decisions = DecisionCache(ttl_seconds=0)
    for _ in range(3):
        await decisions.decide(graph, principal("farm", Role.VIEWER))
    assert decisions.reads == 3


async def test_profiles_are_kept_until_a_write_through_the_hub_and_unknown_ones_are_not(
    graph: Graph, chain: Chain
) -> None:
    profiles = ProfileCache(ttl_seconds=60)
    caller = principal("farm", Role.VIEWER)
    first = await execute(graph, FIRM, caller, {"id": "plant"}, profiles=profiles)
    second = await execute(graph, FIRM, caller, {"id": "plant"}, profiles=profiles)
    assert first.data == second.data == {"firm": {"id": "plant", "name": "Firm plant"}}
    assert first.extensions is not None
    assert second.extensions is not None
    assert second.extensions["roundTrips"] == first.extensions["roundTrips"] - 1  # the firm came from memory

    unknown = await execute(graph, FIRM, caller, {"id": "newcomer"}, profiles=profiles)
    assert unknown.data == {"firm": None}
    await parties.upsert_firms(graph, [FirmRecord(id="newcomer", name="Newcomer", roles=["PLANT"])])
    known = await execute(graph, FIRM, caller, {"id": "newcomer"}, profiles=profiles)
    assert known.data == {"firm": {"id": "newcomer", "name": "Newcomer"}}  # a miss is never kept

    await parties.upsert_firms(graph, [FirmRecord(id="plant", name="Renamed elsewhere", roles=["PLANT"])])
    stale = await execute(graph, FIRM, caller, {"id": "plant"}, profiles=profiles)
    assert stale.data == {"firm": {"id": "plant", "name": "Firm plant"}}  # another process's write: within the ttl
    await execute(
        graph,
        GRANT,
        principal("plant"),
        {"in": {"scope": "TRACE", "level": "DETAIL", "toFirmId": "farm"}},
        profiles=profiles,
    )
    fresh = await execute(graph, FIRM, caller, {"id": "plant"}, profiles=profiles)
    assert fresh.data == {"firm": {"id": "plant", "name": "Renamed elsewhere"}}  # any write here drops them


async def test_a_caller_going_away_mid_read_leaves_the_others_their_decision(graph: Graph, chain: Chain) -> None:
    decisions = DecisionCache(ttl_seconds=60)
    caller = principal("farm", Role.VIEWER)
    first = asyncio.create_task(decisions.decide(graph, caller))
    await asyncio.sleep(0)  # the first caller starts the firm's decision read
    second = asyncio.create_task(decisions.decide(graph, caller))
    await asyncio.sleep(0)  # the second waits on it
    first.cancel()
    decision = await second
    assert decision.viewer.firm_id == "farm"
    with pytest.raises(asyncio.CancelledError):
        await first
    assert decisions.reads == 2  # the second read for itself once the first went away
