"""The mass balance of a recall reaching 10,000 lots at 200 firms, against the bare Cypher of the same reach.

Writes its own chain into the configured Neo4j (every id starts with ``bench-mb``, removed at the end): an
origin lot made into 99 intermediate lots, each made into 101 final lots (10,000 lots in all), owned by 200
firms in turn; every final lot shipped once to the next firm and half of what arrived counted in stock there
(so the balance finds a gap at about every receiving site). The recall of the origin is declared through
``graph_schema.recalls.declare_recall`` (as the agency). Then, in alternating order, ``--rounds`` times each:
the hub's mass balance (``recall_mass_balance`` plus the GraphQL type built from its rows) and the bare Cypher
of the same reach (the recall's held lots with their quantities, no balance). Writes
bench/results/recall_mass_balance.json. Target: under 1 s.

    HUB_NEO4J_URI=bolt://127.0.0.1:7718 HUB_NEO4J_PASSWORD=... python -m bench.recall_mass_balance --rounds 5
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from datetime import UTC, datetime
from typing import Any, Final

from neo4j import AsyncDriver, RoutingControl

from bench.common import open_driver, write_result
from graph_schema import recalls
from graph_schema.access import Viewer
from graph_schema.db import Graph
from graph_schema.mass_balance import recall_mass_balance
from hub.settings import Settings
from resolvers.types.mass_balance import MassBalance

FIRMS: Final = 200
MIDDLE: Final = 99
FINAL_PER_MIDDLE: Final = 101
PREFIX: Final = "bench-mb"

BUILD: Final = """
UNWIND range(0, $firms - 1) AS i
CREATE (:Firm {id: $prefix + '-f' + i, name: 'Bench firm ' + i, roles: ['PLANT']})
CREATE (:Site {gln: $prefix + '-s' + i, firmId: $prefix + '-f' + i, name: 'Bench site ' + i, kind: 'PLANT'})
WITH count(*) AS firms
CREATE (o:Lot {id: $prefix + '-origin', lotNumber: 'O', productGtin: $prefix + '-p', ownerFirmId: $prefix + '-f0',
               siteGln: $prefix + '-s0', quantity: 99.0, uom: 'kg', status: 'ACTIVE'})
WITH o
UNWIND range(1, $middle) AS m
CREATE (t:Transformation {id: $prefix + '-t' + m, firmId: $prefix + '-f0', siteGln: $prefix + '-s0'})
CREATE (o)-[:CONSUMED_BY {quantity: 1.0, uom: 'kg'}]->(t)
CREATE (mid:Lot {id: $prefix + '-m' + m, lotNumber: 'M' + m, productGtin: $prefix + '-p', ownerFirmId: $prefix + '-f0',
                 siteGln: $prefix + '-s0', quantity: 101.0, uom: 'kg', status: 'ACTIVE'})
CREATE (t)-[:PRODUCED {quantity: 101.0, uom: 'kg'}]->(mid)
CREATE (u:Transformation {id: $prefix + '-u' + m, firmId: $prefix + '-f0', siteGln: $prefix + '-s0'})
CREATE (mid)-[:CONSUMED_BY {quantity: 101.0, uom: 'kg'}]->(u)
WITH u, m
UNWIND range(1, $perMiddle) AS k
WITH u, m * 1000 + k AS n, (m * $perMiddle + k) % $firms AS owner
CREATE (f:Lot {id: $prefix + '-l' + n, lotNumber: 'L' + n, productGtin: $prefix + '-p', ownerFirmId: $prefix + '-f0',
               siteGln: $prefix + '-s0', quantity: 1.0, uom: 'kg', status: 'ACTIVE'})
CREATE (u)-[:PRODUCED {quantity: 1.0, uom: 'kg'}]->(f)
CREATE (sh:Shipment {id: $prefix + '-sh' + n, fromGln: $prefix + '-s0', toGln: $prefix + '-s' + owner,
                     fromFirmId: $prefix + '-f0', toFirmId: $prefix + '-f' + owner})
CREATE (sh)-[:CARRIES {quantity: 1.0, uom: 'kg'}]->(f)
WITH f, owner
MATCH (s:Site {gln: $prefix + '-s' + owner})
CREATE (f)-[:HELD_AT {quantity: 0.5, uom: 'kg', firmId: s.firmId}]->(s)
RETURN count(*) AS finals
"""

REMOVE: Final = """
MATCH (n) WHERE n.id STARTS WITH $prefix OR n.gln STARTS WITH $prefix
CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF 5000 ROWS
"""

# The bare reach: the recall's held lots and their quantities, as the driver returns them.
BARE_REACH: Final = """
MATCH (:Recall {id: $id})-[:AFFECTS {held: true}]->(l:Lot)
RETURN l.id AS lotId, l.quantity AS quantity
"""


async def _remove(driver: AsyncDriver, settings: Settings) -> None:
    # CALL ... IN TRANSACTIONS runs only in an auto-commit transaction
    async with driver.session(database=settings.neo4j_database) as session:
        await (await session.run(REMOVE, {"prefix": PREFIX})).consume()


async def run(settings: Settings, rounds: int) -> dict[str, Any]:
    async with open_driver(settings) as driver:
        graph = Graph(driver, database=settings.neo4j_database)
        await _remove(driver, settings)
        started = time.perf_counter()
        await graph.write(BUILD, {"prefix": PREFIX, "firms": FIRMS, "middle": MIDDLE, "perMiddle": FINAL_PER_MIDDLE})
        built = time.perf_counter() - started
        agency = Viewer(firm_id=f"{PREFIX}-agency", detail_firm_ids=frozenset())
        recall = await recalls.declare_recall(
            graph,
            agency,
            recall_id=f"{PREFIX}-recall",
            lot_ids=[f"{PREFIX}-origin"],
            reason="bench",
            recall_class="I",
            overseer=True,
            now=datetime.now(UTC),
        )
        hub_times: list[float] = []
        bare_times: list[float] = []
        gaps = 0
        for round_ in range(rounds + 1):  # round 0 warms both up and is not counted
            for hub_first in (True, False) if round_ % 2 == 0 else (False, True):
                started = time.perf_counter()
                if hub_first:
                    balance = MassBalance.from_rows(await recall_mass_balance(graph, recall_id=recall["id"]))
                    gaps = len(balance.gaps)
                else:
                    await driver.execute_query(
                        BARE_REACH,
                        {"id": recall["id"]},
                        database_=settings.neo4j_database,
                        routing_=RoutingControl.READ,
                    )
                elapsed = time.perf_counter() - started
                if round_:
                    (hub_times if hub_first else bare_times).append(elapsed)
        await _remove(driver, settings)
    hub_ms, bare_ms = statistics.median(hub_times) * 1000, statistics.median(bare_times) * 1000
    return {
        "lots_reached": recall["affectedCount"],
        "held_lots": recall["heldCount"],
        "firms": FIRMS,
        "rounds": rounds,
        "build_seconds": round(built, 1),
        "flagged_gaps": gaps,
        "mass_balance_median_ms": round(hub_ms, 1),
        "bare_reach_median_ms": round(bare_ms, 1),
        "ratio": round(hub_ms / bare_ms, 2),
        "target_ms": 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    figures = asyncio.run(run(Settings(), max(1, min(args.rounds, 50))))
    path = write_result("recall_mass_balance", figures)
    print(figures)
    print(f"written to {path}")


if __name__ == "__main__":
    main()
