"""The floor: the hub against a minimal Starlette endpoint answering the same questions, and the bare Cypher.

The floor (``create_floor_app``) is what a request cannot do without: the same token check as the hub (the hub's
TokenVerifier and member check), the same permission decision (kept per firm as the hub keeps it), the same Cypher
(the hub's compiled plan's query for a lot detail page, graph_schema/trace.py's for a trace, with the fields the
compiled plan asks for) and the same JSON (written by the same shaping functions as the compiled plan's: shape_map,
TraceWriter; serialised with orjson). It has no GraphQL (no document, no variables, no
plan lookup), no middleware (request log, metrics, limits, CORS, tracing), no access log. Each server is a
process of its own over the benchmark's Neo4j (the peer comparison's, `.local/bench-peer-<scale>`); one caller
asks the same questions of the hub, the floor and the driver in turn (interleaved, so the machine's load falls on
all three alike), and the figures are ratios of medians taken in one run. Writes bench/results/floor.json.

`python -m bench.floor --scale demo --bolt-port 7771` (the peer comparison must have seeded that store once);
`python -m bench.floor --serve --port P` serves the floor alone.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Final

import httpx
import orjson
from graphql import parse
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from auth.decisions import DecisionCache
from auth.issuer import InvalidToken
from auth.members import MemberFirms
from auth.verifier import TokenVerifier
from bench.common import free_port, open_driver, running, write_result
from bench.peer_comparison import HUB_DETAIL, HUB_TRACE, compact, grant_agency_everything
from bench.peer_tools import ROOT, bench_neo4j, fetch_apoc
from graph_schema import trace as trace_reads
from graph_schema.db import Graph
from graph_schema.identifiers import parse_lgtin
from hub.app import open_issuer
from hub.graphql_app import document_limits
from hub.settings import Settings
from resolvers.compiled import Plan, compile_operation, shape_map
from resolvers.redaction import Redactor
from resolvers.schema import build_schema
from resolvers.types.values import TraceDirection

DETAIL: Final = compact(HUB_DETAIL)
TRACE: Final = compact(HUB_TRACE)
SAMPLE: Final = """
MATCH (l:Lot) WHERE EXISTS { (l)<-[:PRODUCED]-(:Transformation) } AND EXISTS { (l)-[:CONSUMED_BY]->() }
RETURN l.id AS id ORDER BY id LIMIT $n
"""
AGENCY: Final = "MATCH (f:Firm) WHERE 'AGENCY' IN f.roles RETURN f.id AS id ORDER BY id LIMIT 1"


def _plans(settings: Settings) -> dict[str, Plan]:
    schema = build_schema(limits=document_limits(settings))._schema
    return {
        "detail": compile_operation(schema, parse(DETAIL), None),
        "trace": compile_operation(schema, parse(TRACE), None),
    }


def create_floor_app(settings: Settings) -> Starlette:
    """The floor endpoint: POST /graphql with the hub's bearer token and a body of the benchmark's two questions."""
    held: dict[str, Any] = {}
    plans = _plans(settings)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        driver = open_driver(settings)
        http = httpx.AsyncClient(timeout=5.0)
        held["verifier"] = TokenVerifier.create(
            builtin=open_issuer(settings), trusted=settings.trusted_issuers, http=http,
            leeway_seconds=settings.token_leeway_seconds,
        )  # fmt: skip
        held["graph"] = Graph(driver, database=settings.neo4j_database)
        held["members"] = MemberFirms()
        held["decisions"] = DecisionCache(ttl_seconds=settings.decision_cache_seconds)
        held["redaction_key"] = settings.redaction_key()
        try:
            yield
        finally:
            await http.aclose()
            await driver.close()

    async def answer(request: Request) -> Response:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        graph: Graph = held["graph"]
        try:
            principal = await held["verifier"].verify(token.strip())
        except InvalidToken:
            return Response(status_code=401)
        if scheme.lower() != "bearer" or not await held["members"].is_member(graph, principal.firm_id):
            return Response(status_code=401)
        decision = await held["decisions"].decide(graph, principal)
        body = orjson.loads(await request.body())
        variables = body["variables"]
        lot_id = parse_lgtin(variables["id"], field="id").uri
        own = principal.firm_id
        if body["query"] == DETAIL:
            [root] = plans["detail"].roots
            assert root.cypher is not None
            rows = await graph.read_maps(root.cypher, {"key": lot_id, **decision.viewer.params()})
            data = {"lot": shape_map(root.shape, rows[0]["value"], lambda owner: owner != own) if rows else None}
        else:
            [root] = plans["trace"].roots
            assert root.trace is not None
            direction = TraceDirection(variables["dir"])
            rows = await trace_reads.trace(
                graph,
                decision.viewer,
                lot_id=lot_id,
                direction=direction,
                max_depth=25,
                projection=root.trace.projection,
            )
            redactor = Redactor(key=held["redaction_key"], firm_id=own)
            data = {"trace": root.trace.write(rows, direction, redactor)}
        return Response(orjson.dumps({"data": data}), media_type="application/json")

    return Starlette(routes=[Route("/graphql", answer, methods=["POST"])], lifespan=lifespan)


async def _bare(graph: Graph, cypher: str, params: dict[str, Any]) -> float:
    started = time.perf_counter()
    await graph.read_maps(cypher, params)
    return time.perf_counter() - started


async def measure(settings: Settings, hub: str, floor: str, lots: list[str], rounds: int) -> dict[str, Any]:
    """One caller asking the hub, the floor and the driver in turn; medians and ratios per question."""
    plans = _plans(settings)
    issuer = open_issuer(settings)
    async with open_driver(settings) as driver:
        graph = Graph(driver, database=settings.neo4j_database)
        [agency] = await graph.read(AGENCY, {})
        await grant_agency_everything(graph, agency["id"])
        token = "Bearer " + issuer.mint(subject="bench-floor", firm_id=agency["id"], roles=[])
        decision = await DecisionCache(ttl_seconds=60).decide(graph, _principal(agency["id"]))
        params = decision.viewer.params()
        writer = plans["trace"].roots[0].trace
        assert writer is not None
        projection = writer.projection  # the trace's Cypher as the hub's compiled plan runs it
        questions: dict[str, list[tuple[dict[str, Any], str | None, dict[str, Any]]]] = {
            "lot_detail": [({"query": DETAIL, "variables": {"id": lot}}, plans["detail"].roots[0].cypher,
                            {"key": lot, **params}) for lot in lots],
            "trace_downstream": [({"query": TRACE, "variables": {"id": lot, "dir": "DOWNSTREAM"}},
                                  trace_reads.trace_query(TraceDirection.DOWNSTREAM, 25, projection),
                                  {"lotId": lot, **params}) for lot in lots],
            "trace_upstream": [({"query": TRACE, "variables": {"id": lot, "dir": "UPSTREAM"}},
                                trace_reads.trace_query(TraceDirection.UPSTREAM, 25, projection),
                                {"lotId": lot, **params}) for lot in lots],
        }  # fmt: skip
        results: dict[str, Any] = {}
        async with httpx.AsyncClient(timeout=60, headers={"Authorization": token}) as client:
            for name, asks in questions.items():
                for body, _, _ in asks[:3]:  # same answers first
                    hub_reply, floor_reply = await client.post(hub, json=body), await client.post(floor, json=body)
                    if hub_reply.status_code != 200 or hub_reply.json() != floor_reply.json():
                        raise RuntimeError(f"{name}: the hub and the floor answer differently:\n{hub_reply.text[:500]}"
                                           f"\n{floor_reply.text[:500]}")  # fmt: skip
                times: dict[str, list[float]] = {"hub": [], "floor": [], "bare": []}
                for round_number in range(rounds):
                    for body, cypher, cypher_params in asks:
                        order = ["hub", "floor", "bare"] if round_number % 2 == 0 else ["bare", "floor", "hub"]
                        for side in order:
                            if side == "bare":
                                times["bare"].append(await _bare(graph, cypher or "", cypher_params))
                                continue
                            started = time.perf_counter()
                            reply = await client.post(hub if side == "hub" else floor, json=body)
                            times[side].append(time.perf_counter() - started)
                            if reply.status_code != 200 or b'"errors"' in reply.content:
                                raise RuntimeError(f"{side} failed {name}: {reply.text[:300]}")
                medians = {side: round(statistics.median(t) * 1000, 3) for side, t in times.items()}
                results[name] = {
                    "median_ms": medians,
                    "p90_ms": {side: round(statistics.quantiles(t, n=10)[-1] * 1000, 3) for side, t in times.items()},
                    "requests_each": len(times["hub"]),
                    "hub_to_floor": round(medians["hub"] / medians["floor"], 2),
                    "hub_to_bare_cypher": round(medians["hub"] / medians["bare"], 2),
                    "floor_to_bare_cypher": round(medians["floor"] / medians["bare"], 2),
                }
                print(name, results[name], flush=True)
    return results


def _principal(firm: str) -> Any:
    from auth.principal import Principal, Role

    return Principal(subject="bench-floor", firm_id=firm, roles=frozenset({Role.VIEWER}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", choices=["demo", "large"], default="demo")
    parser.add_argument("--state-dir", type=Path)
    parser.add_argument("--bolt-port", type=int, default=7697)
    parser.add_argument("--heap", default="1g")
    parser.add_argument("--pagecache", default="1g")
    parser.add_argument("--lots", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--hub-port", type=int)
    parser.add_argument("--floor-port", type=int)
    parser.add_argument("--serve", action="store_true", help="serve the floor alone on --floor-port")
    parser.add_argument(
        "--resolvers", action="store_true", help="the hub with HUB_COMPILED_READS=false: every request by the resolvers"
    )
    args = parser.parse_args()
    state = (args.state_dir or ROOT / ".local" / f"bench-peer-{args.scale}").absolute()
    hub_port, floor_port = args.hub_port or free_port(), args.floor_port or free_port()
    # the hub's port names its issuer: the floor checks tokens of the same issuer as the hub
    settings = Settings(state_dir=state, neo4j_bolt_port=args.bolt_port, port=hub_port, token_ttl_seconds=86_400)
    if args.serve:
        import uvicorn

        uvicorn.run(create_floor_app(settings), host="127.0.0.1", port=args.floor_port, log_level="warning")
        return
    env = {
        **os.environ,
        "HUB_STATE_DIR": str(state),
        "HUB_NEO4J_BOLT_PORT": str(args.bolt_port),
        "HUB_PORT": str(hub_port),
    }
    neo4j = bench_neo4j(settings.neo4j_home, bolt_port=args.bolt_port, heap=args.heap, pagecache=args.pagecache,
                        apoc=fetch_apoc())  # fmt: skip
    neo4j.start()
    try:

        async def lots() -> list[str]:
            async with open_driver(settings) as driver:
                rows = await Graph(driver, database=settings.neo4j_database).read(SAMPLE, {"n": args.lots})
                return [row["id"] for row in rows]

        sampled = asyncio.run(lots())
        hub_cli = str(Path(sys.executable).parent / "hub")
        floor_cmd = [sys.executable, "-m", "bench.floor", "--serve", "--floor-port", str(floor_port),
                     "--hub-port", str(hub_port), "--state-dir", str(state),
                     "--bolt-port", str(args.bolt_port)]  # fmt: skip
        hub_url, floor_url = f"http://127.0.0.1:{hub_port}", f"http://127.0.0.1:{floor_port}"
        with (
            running("hub", [hub_cli, "serve", "--port", str(hub_port)], env, f"{hub_url}/readyz",
                    f"{hub_url}/graphql", state / "hub-serve-floor.log"),
            running("floor", floor_cmd, env, f"{floor_url}/graphql", f"{floor_url}/graphql",
                    state / "floor.log"),
        ):  # fmt: skip
            load_before = os.getloadavg()[0]
            results = asyncio.run(measure(settings, f"{hub_url}/graphql", f"{floor_url}/graphql", sampled, args.rounds))
            load_after = os.getloadavg()[0]
    finally:
        neo4j.stop()
    path = write_result(
        "floor_resolvers" if args.resolvers else "floor",
        {
            "setup": {
                "scale": args.scale,
                "hub_reads": "resolvers (HUB_COMPILED_READS=false)" if args.resolvers else "compiled where they can",
                "lots": len(sampled),
                "rounds": args.rounds,
                "caller": "one, sequential; hub, floor and driver interleaved (order reversed every other round)",
                "principal": "the agency, granted TRACE DETAIL by every member",
                "load_average": [round(load_before, 2), round(load_after, 2)],
            },
            "questions": results,
        },
    )
    print(f"written to {path}")


if __name__ == "__main__":
    main()
