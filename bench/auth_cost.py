"""What sign-in and the permission filter cost per request, as ratios against the same work without them.

Token verification: the same GraphQL request over HTTP, alternately with the real bearer-token backend
(signature, claims, member check) and with a backend that hands over the same principal unverified.
Permission filter: the trace and lot-list Cypher with the visibility predicates and the per-request
decision query, against the same Cypher with the predicates replaced by ``true`` and no decision.
Writes bench/results/auth_cost.json. Run on a seeded graph (`make bench`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import statistics
import time
from datetime import UTC, datetime
from typing import Any, LiteralString

import httpx
from neo4j import AsyncDriver, RoutingControl
from starlette.authentication import AuthCredentials, BaseUser
from starlette.requests import HTTPConnection

from auth import backend
from auth.backend import BearerTokenBackend, PrincipalUser
from auth.principal import Principal, Role
from bench.common import free_port, median_ms, open_driver, sample_lots, serve, write_result
from graph_schema.access import LOT_IN_DETAIL, SHIPMENT_IN_DETAIL, Viewer
from graph_schema.grants import VISIBILITY_FACTS
from graph_schema.lot_filters import LotSort, list_lots_query
from graph_schema.model import TraceDirection
from graph_schema.trace import trace_query
from hub.app import open_issuer
from hub.settings import Settings

LOT_QUERY = "query($id: ID!) { lot(id: $id) { id lotNumber quantity uom status } }"
SKIP_VERIFICATION = {"on": False}
_verify = BearerTokenBackend.authenticate


async def _maybe_unverified(self: BearerTokenBackend, conn: HTTPConnection) -> tuple[AuthCredentials, BaseUser] | None:
    if not SKIP_VERIFICATION["on"]:
        return await _verify(self, conn)
    firm = conn.headers["x-bench-firm"]
    principal = Principal(subject="bench", firm_id=firm, roles=frozenset({Role.VIEWER}))
    return AuthCredentials(["authenticated"]), PrincipalUser(principal)


async def token_cost(base_url: str, settings: Settings, lots: list[tuple[str, str]], rounds: int) -> dict[str, Any]:
    issuer = open_issuer(settings)
    timings: dict[str, list[float]] = {"verified": [], "unverified": []}
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
        for round_ in range(rounds):
            for mode in ("verified", "unverified") if round_ % 2 == 0 else ("unverified", "verified"):
                SKIP_VERIFICATION["on"] = mode == "unverified"
                for lot_id, firm in lots:
                    token = issuer.mint(subject="bench", firm_id=firm, roles=[Role.VIEWER])
                    headers = {"Authorization": f"Bearer {token}", "x-bench-firm": firm}
                    started = time.perf_counter()
                    response = await client.post(
                        "/graphql", json={"query": LOT_QUERY, "variables": {"id": lot_id}}, headers=headers
                    )
                    timings[mode].append(time.perf_counter() - started)
                    if response.status_code != 200 or response.json()["data"]["lot"] is None:
                        raise RuntimeError(f"lot query failed: {response.status_code} {response.text[:200]}")
    SKIP_VERIFICATION["on"] = False
    return {
        "request_with_verification_median_ms": median_ms(timings["verified"]),
        "request_without_verification_median_ms": median_ms(timings["unverified"]),
        "ratio": round(statistics.median(timings["verified"]) / statistics.median(timings["unverified"]), 3),
    }


def _unfiltered(query: LiteralString) -> LiteralString:
    """The same query for an all-seeing caller: visibility predicates true, the visible-lots union a scan."""
    unfiltered = query.replace(LOT_IN_DETAIL, "true").replace(SHIPMENT_IN_DETAIL, "true")
    unfiltered = re.sub(
        r"CALL \(\) \{.*?\n\}\nWITH l, k", "MATCH (l:Lot)\nWITH l, l.id AS k", unfiltered, flags=re.DOTALL
    )
    if unfiltered == query:
        raise RuntimeError("the query has no visibility filter to take out")
    return unfiltered


async def filter_cost(
    driver: AsyncDriver, settings: Settings, lots: list[tuple[str, str]], rounds: int
) -> dict[str, Any]:
    db = settings.neo4j_database
    results: dict[str, Any] = {}
    for name, filtered in (
        ("trace_downstream", trace_query(TraceDirection.DOWNSTREAM, 25)),
        ("trace_upstream", trace_query(TraceDirection.UPSTREAM, 25)),
        ("lots_page", list_lots_query((), LotSort.ID)),  # the first page of every lot the caller sees
    ):
        unfiltered = _unfiltered(filtered)
        with_filter: list[float] = []
        without_filter: list[float] = []
        for round_ in range(rounds):
            for lot_id, firm in lots:
                params = {
                    "lotId": lot_id,
                    "productGtin": None,
                    "siteGln": None,
                    "after": None,
                    "afterId": None,
                    "afterKey": None,
                    "limit": 21,
                    **Viewer(firm_id=firm, detail_firm_ids=frozenset({firm})).params(),
                }

                for filtered_run in (True, False) if round_ % 2 == 0 else (False, True):
                    started = time.perf_counter()
                    if filtered_run:
                        await driver.execute_query(
                            VISIBILITY_FACTS,
                            {"firmId": firm, "now": datetime.now(UTC)},
                            database_=db,
                            routing_=RoutingControl.READ,
                        )
                        await driver.execute_query(filtered, params, database_=db, routing_=RoutingControl.READ)
                    else:
                        await driver.execute_query(unfiltered, params, database_=db, routing_=RoutingControl.READ)
                    (with_filter if filtered_run else without_filter).append(time.perf_counter() - started)
        results[name] = {
            "with_decision_and_filter_median_ms": median_ms(with_filter),
            "without_median_ms": median_ms(without_filter),
            "ratio": round(statistics.median(with_filter) / statistics.median(without_filter), 3),
        }
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lots", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    settings = Settings(port=free_port())
    backend.BearerTokenBackend.authenticate = _maybe_unverified  # type: ignore[method-assign]

    async def measure_filter() -> tuple[list[tuple[str, str]], dict[str, Any]]:
        async with open_driver(settings) as driver:
            lots = await sample_lots(driver, args.lots, args.seed)
            await filter_cost(driver, settings, lots[:5], 1)  # warm plans and caches
            return lots, await filter_cost(driver, settings, lots, args.rounds)

    lots, filters = asyncio.run(measure_filter())
    with serve(settings) as base_url:
        asyncio.run(token_cost(base_url, settings, lots[:5], 1))
        tokens = asyncio.run(token_cost(base_url, settings, lots, args.rounds))
    figures = {
        "token_verification": tokens,
        "permission_filter": filters,
        "lots_sampled": len(lots),
        "rounds": args.rounds,
    }
    path = write_result("auth_cost", figures)
    print(json.dumps(figures, indent=2))
    print(f"written to {path}")


if __name__ == "__main__":
    main()
