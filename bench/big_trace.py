"""A big answer: a downstream trace reaching about 10,000 lots, through GraphQL over HTTP, against its raw Cypher.

A firm of its own (created for the run through the project's write functions, removed at the end) commissions
one raw lot, consumes it in ``--transformations`` transformations making ``--outputs`` lots each, and ships
one lot in ``--ship-every`` of them to its warehouse. Then, alternating, for ``--runs`` rounds after warm-up:
- raw: the trace Cypher of graph_schema/trace.py through the Python driver, every row fetched, with the
  visibility parameters the hub decides for the owner firm, returning the fields the hub's compiled plan asks for
  (``raw_full``: the same Cypher returning every field of every lot and shipment, as the resolvers read it);
- hub: the GraphQL ``trace(direction: DOWNSTREAM)`` a recall tool sends, over HTTP with a bearer token of
  the owner firm (token check, permission decision, the same Cypher, the compiled path writing JSON from its rows);
- reach: the trace's reach alone (every lot's id, no visibility, owner role, shipments or fields), the part of the
  Cypher no trace can avoid.
Writes bench/results/big_trace.json with the medians and the ratio. ``--step NAME`` also keeps this run's
figures under that name in the file's ``steps`` table, so that each optimisation's gain stays recorded
beside the others (each step was measured in its own run on the commit that made it).
``--profile PATH`` profiles a few hub requests served in-process (pyinstrument) and writes the text report.
Needs a running Neo4j (`hub neo4j start`); it does not need a seed and leaves the graph as it found it.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

import httpx
from graphql import parse
from neo4j import RoutingControl

from auth.decisions import decide_for_request
from auth.principal import Principal, Role
from bench.common import RESULTS, free_port, median_ms, open_driver, p90_ms, remove_firm, running, serve, write_result
from graph_schema import lots as lot_writes
from graph_schema import parties
from graph_schema.db import Graph
from graph_schema.identifiers import gs1_check_digit, lgtin_for
from graph_schema.model import TraceDirection
from graph_schema.records import (
    FirmRecord,
    LotQuantity,
    LotRecord,
    ProductRecord,
    ShipmentRecord,
    SiteRecord,
    TransformationRecord,
)
from graph_schema.trace import REACH_TEMPLATE, TraceProjection, trace_query
from hub.app import create_app, open_issuer
from hub.graphql_app import document_limits
from hub.settings import Settings
from resolvers.compiled import compile_operation
from resolvers.schema import build_schema

FIRM: Final = "bench-big-trace"
PREFIX: Final = "9950001"  # a company prefix no seed hands out (the seeds use 880xxxx)
BATCH: Final = 2000

QUERY: Final = """query($id: ID!) { trace(lotId: $id, direction: DOWNSTREAM) {
  lots { id depth redacted ownerRole lot { id lotNumber productGtin quantity uom status } }
  shipments { id lotId quantity uom shippedAt receivedAt redacted }
  summary { lotCount } } }"""


def hub_projection() -> TraceProjection:
    """What of the trace the hub's compiled plan of QUERY asks its Cypher for (resolvers/compiled.py)."""
    schema = build_schema(limits=document_limits(Settings()))._schema
    writer = compile_operation(schema, parse(QUERY), None).roots[0].trace
    assert writer is not None
    return writer.projection


def _gln(n: int) -> str:
    body = f"{PREFIX}{n:05d}"
    return body + str(gs1_check_digit(body))


def _gtin(n: int) -> str:
    body = f"0{PREFIX}{n:05d}"
    return body + str(gs1_check_digit(body))


PLANT, WAREHOUSE = _gln(1), _gln(2)
RAW_GTIN, MADE_GTIN = _gtin(1), _gtin(2)


def _batches(items: list[Any]) -> Iterator[list[Any]]:
    for start in range(0, len(items), BATCH):
        yield items[start : start + BATCH]


async def build_chain(graph: Graph, *, tag: str, transformations: int, outputs: int, ship_every: int) -> str:
    """The firm, its sites and products, and the chain; returns the raw lot's id."""
    await parties.upsert_firms(graph, [FirmRecord(id=FIRM, name="Big trace benchmark", roles=["PLANT"])])
    await parties.upsert_sites(
        graph,
        [
            SiteRecord(gln=PLANT, firm_id=FIRM, name="Big trace plant", kind="PLANT"),
            SiteRecord(gln=WAREHOUSE, firm_id=FIRM, name="Big trace warehouse", kind="WAREHOUSE"),
        ],
    )
    await parties.upsert_products(
        graph,
        [
            ProductRecord(gtin=RAW_GTIN, owner_firm_id=FIRM, name="Big trace soybeans", category="bench", uom="kg"),
            ProductRecord(gtin=MADE_GTIN, owner_firm_id=FIRM, name="Big trace tofu", category="bench", uom="kg"),
        ],
    )
    start = datetime(2026, 11, 1, 8, tzinfo=UTC)
    raw = lgtin_for(RAW_GTIN, f"{tag}R")
    lots = [
        LotRecord(
            id=raw, owner_firm_id=FIRM, site_gln=PLANT, quantity=transformations * 10.0, uom="kg", produced_at=start
        )
    ]
    made: list[list[str]] = [
        [lgtin_for(MADE_GTIN, f"{tag}T{t}L{o}") for o in range(outputs)] for t in range(transformations)
    ]
    lots += [
        LotRecord(id=lot, owner_firm_id=FIRM, site_gln=PLANT, quantity=2.5, uom="kg", produced_at=start)
        for batch in made
        for lot in batch
    ]
    for part in _batches(lots):
        await lot_writes.record_lots(graph, part)
    steps = [
        TransformationRecord(
            id=f"{FIRM}-{tag}-t{t}",
            firm_id=FIRM,
            site_gln=PLANT,
            occurred_at=start + timedelta(hours=1),
            inputs=[LotQuantity(lot_id=raw, quantity=10.0, uom="kg")],
            outputs=[LotQuantity(lot_id=lot, quantity=2.5, uom="kg") for lot in made[t]],
        )
        for t in range(transformations)
    ]
    for part in _batches(steps):
        await lot_writes.record_transformations(graph, part)
    shipments = [
        ShipmentRecord(
            id=f"{FIRM}-{tag}-s{t}",
            from_gln=PLANT,
            to_gln=WAREHOUSE,
            shipped_at=start + timedelta(hours=3),
            received_at=start + timedelta(hours=5),
            items=[LotQuantity(lot_id=lot, quantity=2.5, uom="kg") for lot in made[t][::ship_every]],
        )
        for t in range(transformations)
    ]
    for part in _batches(shipments):
        await lot_writes.record_shipments(graph, part, shipper_firm_id=FIRM)
    return raw


async def clean_up(graph: Graph) -> None:
    await remove_firm(graph, FIRM)


async def viewer_params(graph: Graph) -> dict[str, Any]:
    """The visibility parameters the hub decides for a viewer of the bench firm."""
    principal = Principal(subject="bench", firm_id=FIRM, roles=frozenset({Role.VIEWER}), scopes=frozenset())
    return (await decide_for_request(graph, principal)).viewer.params()


async def measure(settings: Settings, base_url: str, *, raw_lot: str, runs: int, warm_up: int) -> dict[str, Any]:
    """Alternating raw Cypher and hub requests; the timings of each and the answer's sizes."""
    token = open_issuer(settings).mint(subject="bench", firm_id=FIRM, roles=[Role.VIEWER])
    headers = {"Authorization": f"Bearer {token}"}
    body = {"query": QUERY, "variables": {"id": raw_lot}}
    raw_times: list[float] = []
    full_times: list[float] = []
    hub_times: list[float] = []
    reach_times: list[float] = []
    async with open_driver(settings) as driver, httpx.AsyncClient(base_url=base_url, timeout=120) as client:
        params = {"lotId": raw_lot, **await viewer_params(Graph(driver, database=settings.neo4j_database))}
        cypher = trace_query(TraceDirection.DOWNSTREAM, 25, hub_projection())
        full = trace_query(TraceDirection.DOWNSTREAM, 25)
        reach = REACH_TEMPLATE.replace("PATTERN", "-[:CONSUMED_BY|PRODUCED]->{2,50}") + "RETURN collect(l.id) AS ids"
        rows = 0
        answer: dict[str, Any] = {}
        size = 0
        for round_ in range(warm_up + runs):
            started = time.perf_counter()
            records, _, _ = await driver.execute_query(
                cypher, params, database_=settings.neo4j_database, routing_=RoutingControl.READ
            )
            raw_elapsed = time.perf_counter() - started
            rows = len(records[0]["rows"])  # the trace answers one record holding every row
            started = time.perf_counter()
            response = await client.post("/graphql", json=body, headers=headers)
            hub_elapsed = time.perf_counter() - started
            answer = response.json()
            size = len(response.content)
            if "errors" in answer:
                raise RuntimeError(f"the trace failed: {answer['errors']}")
            started = time.perf_counter()
            await driver.execute_query(reach, params, database_=settings.neo4j_database, routing_=RoutingControl.READ)
            reach_elapsed = time.perf_counter() - started
            started = time.perf_counter()
            await driver.execute_query(full, params, database_=settings.neo4j_database, routing_=RoutingControl.READ)
            full_elapsed = time.perf_counter() - started
            if round_ >= warm_up:
                full_times.append(full_elapsed)
                raw_times.append(raw_elapsed)
                hub_times.append(hub_elapsed)
                reach_times.append(reach_elapsed)
    trace = answer["data"]["trace"]
    if trace["summary"]["lotCount"] != rows or len(trace["lots"]) != rows:
        raise RuntimeError(f"the hub answered {trace['summary']['lotCount']} lots, the Cypher {rows} rows")
    return {
        "raw": raw_times,
        "raw_full": full_times,
        "hub": hub_times,
        "reach": reach_times,
        "lots": rows,
        "shipments": len(trace["shipments"]),
        "response_bytes": size,
    }


async def profile(settings: Settings, *, raw_lot: str, requests: int) -> str:
    """A few hub requests served in-process (ASGI transport, same event loop) under pyinstrument."""
    from pyinstrument import Profiler

    app = create_app(settings)
    token = open_issuer(settings).mint(subject="bench", firm_id=FIRM, roles=[Role.VIEWER])
    headers = {"Authorization": f"Bearer {token}"}
    body = {"query": QUERY, "variables": {"id": raw_lot}}
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench", timeout=120) as client:
            await client.post("/graphql", json=body, headers=headers)  # warm-up
            profiler = Profiler(async_mode="enabled", interval=0.001)
            profiler.start()
            for _ in range(requests):
                response = await client.post("/graphql", json=body, headers=headers)
                response.raise_for_status()
            profiler.stop()
    return str(profiler.output_text(unicode=True, color=False, show_all=True))


@contextmanager
def serve_process(settings: Settings, *, loop: str, http: str, workers: int, tree: Path | None = None) -> Iterator[str]:
    """The hub under uvicorn in processes of its own (as `uvicorn --factory hub.app:create_app` serves it); ``tree``
    serves another tree of the project (an earlier commit's) in place of this one."""
    command = [sys.executable, "-m", "uvicorn", "hub.app:create_app", "--factory", "--host", "127.0.0.1"]
    command += ["--port", str(settings.port), "--workers", str(workers), "--loop", loop, "--http", http]
    command += ["--log-level", "warning"]
    base_url = f"http://127.0.0.1:{settings.port}"
    env = {**os.environ, "HUB_PORT": str(settings.port), "HUB_STATE_DIR": str(settings.state_dir.resolve())}
    log = settings.state_dir / "bench-big-trace-uvicorn.log"
    name = f"uvicorn ({loop}, {http}, {workers} workers{', ' + str(tree) if tree else ''})"
    with running(name, command, env, f"{base_url}/healthz", base_url, log, cwd=tree or ROOT):
        yield base_url


async def against(
    settings: Settings,
    hubs: dict[str, tuple[str, Settings]],
    cyphers: dict[str, str],
    *,
    raw_lot: str,
    runs: int,
    warm_up: int,
) -> dict[str, list[float]]:
    """Each hub (by name: base URL and settings) and each Cypher (by name: text) in turn, ``runs`` rounds after
    ``warm_up``, the order reversed every other round: the timings of each, all under the same load."""
    body = {"query": QUERY, "variables": {"id": raw_lot}}
    urls: dict[str, str] = {}
    headers: dict[str, dict[str, str]] = {}
    for name, (url, hub_settings) in hubs.items():  # a token of each hub's own issuer (its URL names its port)
        token = open_issuer(hub_settings).mint(subject="bench", firm_id=FIRM, roles=[Role.VIEWER])
        urls[name], headers[name] = url, {"Authorization": f"Bearer {token}"}
    times: dict[str, list[float]] = {name: [] for name in [*urls, *cyphers]}
    answers: dict[str, Any] = {}
    async with open_driver(settings) as driver, httpx.AsyncClient(timeout=120) as client:
        params = {"lotId": raw_lot, **await viewer_params(Graph(driver, database=settings.neo4j_database))}
        steps: list[tuple[str, str | None, str | None]] = [(hub, url, None) for hub, url in urls.items()]
        steps += [(query, None, text) for query, text in cyphers.items()]
        for round_ in range(warm_up + runs):
            for name, address, cypher in steps if round_ % 2 == 0 else steps[::-1]:
                started = time.perf_counter()
                if address is not None:
                    response = await client.post(f"{address}/graphql", json=body, headers=headers[name])
                    elapsed = time.perf_counter() - started
                    answers[name] = response.json()
                else:
                    assert cypher is not None
                    await driver.execute_query(
                        cypher, params, database_=settings.neo4j_database, routing_=RoutingControl.READ
                    )
                    elapsed = time.perf_counter() - started
                if round_ >= warm_up:
                    times[name].append(elapsed)
    first, *others = answers.values()
    if "errors" in first or "data" not in first or any(other != first for other in others):
        raise RuntimeError(f"the hubs compared did not give the same answer: {str(answers)[:500]}")
    return times


def compare_with(ref: str, raw_lot: str, *, runs: int, warm_up: int) -> dict[str, Any]:
    """This tree against commit ``ref``'s, in one sitting: both hubs as processes (one uvicorn worker each) and both
    trees' trace Cypher through the driver, interleaved; medians and the ratios this/ref."""
    with tempfile.TemporaryDirectory(prefix="big-trace-ref-") as folder:
        tree = subprocess.run(["git", "archive", ref], cwd=ROOT, capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", folder], input=tree, check=True)
        print_query = "from graph_schema.trace import trace_query as q; from graph_schema.model import TraceDirection"
        ref_cypher = subprocess.run(
            [sys.executable, "-c", f"{print_query}; print(q(TraceDirection.DOWNSTREAM, 25))"],
            cwd=folder,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        this, other = Settings(port=free_port()), Settings(port=free_port())
        load = round(os.getloadavg()[0], 2)
        with (
            serve_process(this, loop="asyncio", http="h11", workers=1) as this_url,
            serve_process(other, loop="asyncio", http="h11", workers=1, tree=Path(folder)) as ref_url,
        ):
            cyphers = {"raw": trace_query(TraceDirection.DOWNSTREAM, 25, hub_projection()), "raw_ref": ref_cypher}
            hubs = {"hub": (this_url, this), "hub_ref": (ref_url, other)}
            times = asyncio.run(against(this, hubs, cyphers, raw_lot=raw_lot, runs=runs, warm_up=warm_up))
    medians = {f"{name}_median_ms": median_ms(samples) for name, samples in times.items()}
    found = {
        "ref": ref,
        "ref_commit": subprocess.run(
            ["git", "rev-parse", ref], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip(),
        "runs": runs,
        **medians,
        "ratio_hub_to_hub_ref": round(statistics.median(times["hub"]) / statistics.median(times["hub_ref"]), 2),
        "ratio_raw_to_raw_ref": round(statistics.median(times["raw"]) / statistics.median(times["raw_ref"]), 2),
        "ratio_hub_to_raw": round(statistics.median(times["hub"]) / statistics.median(times["raw"]), 2),
        "ratio_hub_ref_to_raw_ref": round(statistics.median(times["hub_ref"]) / statistics.median(times["raw_ref"]), 2),
        "load_average_before": load,
        "load_average_after": round(os.getloadavg()[0], 2),
    }
    print(json.dumps(found, indent=2))
    return found


async def throughput(
    settings: Settings, base_url: str, *, raw_lot: str, clients: int, requests: int
) -> dict[str, float]:
    """``clients`` callers each sending ``requests`` traces back to back: requests per second and median latency."""
    token = open_issuer(settings).mint(subject="bench", firm_id=FIRM, roles=[Role.VIEWER])
    headers = {"Authorization": f"Bearer {token}"}
    body = {"query": QUERY, "variables": {"id": raw_lot}}
    latencies: list[float] = []

    async def caller(client: httpx.AsyncClient) -> None:
        for _ in range(requests):
            started = time.perf_counter()
            response = await client.post("/graphql", json=body, headers=headers)
            latencies.append(time.perf_counter() - started)
            response.raise_for_status()

    async with httpx.AsyncClient(base_url=base_url, timeout=120) as client:
        await caller(client)  # warm-up of every worker's pool and caches is not timed: one round each
        latencies.clear()
        started = time.perf_counter()
        await asyncio.gather(*(caller(client) for _ in range(clients)))
        elapsed = time.perf_counter() - started
    return {"requests_per_s": round(clients * requests / elapsed, 2), "median_ms": median_ms(latencies)}


def compare_servers(raw_lot: str, *, runs: int, warm_up: int, rounds: int = 3) -> list[dict[str, Any]]:
    """Latency of one caller and throughput of two, per ASGI server set-up: every set-up is up at once and the
    rounds alternate between them (in turn, then in reverse), so the machine's noise spreads over all."""
    setups: list[tuple[str, str | None, str, str, int]] = [
        ("in-process thread (as the other benchmarks)", None, "auto", "auto", 1)
    ]
    setups += [("process, asyncio + h11", "process", "asyncio", "h11", 1)]
    if importlib.util.find_spec("uvloop") and importlib.util.find_spec("httptools"):
        setups += [("process, uvloop + httptools", "process", "uvloop", "httptools", 1)]
    setups += [("process, asyncio + h11, 2 workers", "process", "asyncio", "h11", 2)]
    one: dict[str, dict[str, list[float]]] = {name: {"hub": [], "raw": []} for name, *_ in setups}
    two: dict[str, list[float]] = {name: [] for name, *_ in setups}
    with ExitStack() as servers:
        started: list[tuple[str, Settings, str]] = []
        for name, kind, loop, http, workers in setups:
            settings = Settings(port=free_port())
            server = serve(settings) if kind is None else serve_process(settings, loop=loop, http=http, workers=workers)
            started.append((name, settings, servers.enter_context(server)))
        for round_ in range(rounds):
            for name, settings, base_url in started if round_ % 2 == 0 else started[::-1]:
                timed = asyncio.run(
                    measure(settings, base_url, raw_lot=raw_lot, runs=max(runs // rounds, 3), warm_up=warm_up)
                )
                one[name]["hub"] += timed["hub"]
                one[name]["raw"] += timed["raw"]
                rate = asyncio.run(throughput(settings, base_url, raw_lot=raw_lot, clients=2, requests=4))
                two[name].append(rate["requests_per_s"])
    found = [
        {
            "server": name,
            "one_caller_median_ms": median_ms(one[name]["hub"]),
            "raw_cypher_median_ms": median_ms(one[name]["raw"]),
            "two_callers_requests_per_s_median": round(statistics.median(two[name]), 2),
            "two_callers_requests_per_s_rounds": two[name],
        }
        for name, *_ in setups
    ]
    for entry in found:
        print(entry)
    return found


# Issue 6's "big answers", one step a commit of this repository's history: --replay measures each again in one
# sitting (each commit's own tree and benchmark, this checkout's Neo4j and state folder).
STEPS: Final = (
    ("0. as found: graphql-core completes every field, rows through Record.data()", "9804462"),
    ("1. lists of plain objects completed in one loop (resolvers/execution.py)", "4632f25"),
    ("2. the trace's rows as the driver decoded them (Graph.read_maps)", "ca18e2e"),
    ("3. temporal values as ISO text in the trace's Cypher (raw and hub)", "8502cb8"),
    ("4. one record holding every row (collect): no socket read per row (raw and hub)", "6e62c92"),
    ("5. leaf values inline, enum outputs memoised, enum lookups by dict", "6d04898"),
    ("6. parsing and validation cached per query text", "ec7c4a9"),
    ("7. garbage collector: start-up frozen, thresholds raised", "d2e063b"),
)
ROOT: Final = Path(__file__).resolve().parent.parent


def replay(*, runs: int, warm_up: int, state_dir: Path) -> list[dict[str, Any]]:
    """Every step of STEPS measured again now, each from its commit's tree in a temporary folder."""
    measured: list[dict[str, Any]] = []
    for name, commit in STEPS:
        with tempfile.TemporaryDirectory(prefix="big-trace-") as folder:
            tree = subprocess.run(["git", "archive", commit], cwd=ROOT, capture_output=True, check=True).stdout
            subprocess.run(["tar", "-x", "-C", folder], input=tree, check=True)
            load = os.getloadavg()[0]
            output = subprocess.run(
                [sys.executable, "-m", "bench.big_trace", "--runs", str(runs), "--warm-up", str(warm_up)],
                cwd=folder,
                env={**os.environ, "HUB_STATE_DIR": str(state_dir)},
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        figures = json.loads(output[output.index("{") : output.rindex("}") + 1])
        measured.append(
            {
                "step": name,
                "commit": commit,
                "hub_median_ms": figures["hub_graphql_http_median_ms"],
                "raw_median_ms": figures["raw_cypher_median_ms"],
                "ratio_hub_to_raw": figures["ratio_hub_to_raw_median"],
                "load_average_before": round(load, 2),
            }
        )
        print(measured[-1])
    return measured


def _keep_steps(step: str | None, figures: dict[str, Any]) -> list[dict[str, Any]]:
    """The steps table of the previous result file, with this run's figures put under ``step``."""
    previous = RESULTS / "big_trace.json"
    steps: list[dict[str, Any]] = []
    if previous.exists():
        steps = list(json.loads(previous.read_text()).get("steps", []))
    if step is not None:
        entry = {
            "step": step,
            "date": datetime.now(UTC).date().isoformat(),
            "hub_median_ms": figures["hub_graphql_http_median_ms"],
            "raw_median_ms": figures["raw_cypher_median_ms"],
            "ratio_hub_to_raw": figures["ratio_hub_to_raw_median"],
        }
        steps = [s for s in steps if s["step"] != step] + [entry]
    return steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--transformations", type=int, default=100)
    parser.add_argument("--outputs", type=int, default=100, help="lots made by each transformation")
    parser.add_argument("--ship-every", type=int, default=10, help="one made lot in this many is shipped")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--warm-up", type=int, default=3)
    parser.add_argument("--step", help="keep this run's figures in the steps table under this name")
    parser.add_argument("--profile", type=Path, help="write a pyinstrument report of hub requests to this file")
    parser.add_argument(
        "--replay", action="store_true", help="measure every step of STEPS again, each from its commit, in one sitting"
    )
    parser.add_argument(
        "--servers", action="store_true", help="also compare ASGI server set-ups (a process, uvloop, 2 workers)"
    )
    parser.add_argument(
        "--against", metavar="REF", help="also this tree against commit REF's in one sitting: both hubs, both Cyphers"
    )
    args = parser.parse_args()
    settings = Settings(port=free_port())
    tag = f"BT{int(time.time()) % 100_000_000}"
    if args.replay:
        steps = replay(runs=args.runs, warm_up=args.warm_up, state_dir=settings.state_dir.resolve())
        previous = json.loads((RESULTS / "big_trace.json").read_text()) if (RESULTS / "big_trace.json").exists() else {}
        for key in ("benchmark", "date", "machine"):  # written anew
            previous.pop(key, None)
        path = write_result("big_trace", {**previous, "steps": steps, "steps_measured": "in one sitting (--replay)"})
        print(f"written to {path}")
        return

    async def setup() -> str:
        async with open_driver(settings) as driver:
            graph = Graph(driver, database=settings.neo4j_database)
            await clean_up(graph)  # a run stopped half-way leaves its firm behind
            started = time.perf_counter()
            raw = await build_chain(
                graph, tag=tag, transformations=args.transformations, outputs=args.outputs, ship_every=args.ship_every
            )
            print(f"chain written in {time.perf_counter() - started:.1f} s")
            return raw

    async def tear_down() -> None:
        async with open_driver(settings) as driver:
            await clean_up(Graph(driver, database=settings.neo4j_database))

    raw_lot = asyncio.run(setup())
    try:
        if args.profile is not None:
            args.profile.write_text(asyncio.run(profile(settings, raw_lot=raw_lot, requests=5)))
            print(f"profile written to {args.profile}")
            return
        load_before = round(os.getloadavg()[0], 2)
        with serve(settings) as base_url:
            outcome = asyncio.run(measure(settings, base_url, raw_lot=raw_lot, runs=args.runs, warm_up=args.warm_up))
        servers = compare_servers(raw_lot, runs=args.runs, warm_up=args.warm_up) if args.servers else None
        compared = compare_with(args.against, raw_lot, runs=args.runs, warm_up=args.warm_up) if args.against else None
    finally:
        asyncio.run(tear_down())
    figures: dict[str, Any] = {
        "lots_reached": outcome["lots"],
        "shipments": outcome["shipments"],
        "response_bytes": outcome["response_bytes"],
        "runs": args.runs,
        "hub_graphql_http_median_ms": median_ms(outcome["hub"]),
        "hub_graphql_http_p90_ms": p90_ms(outcome["hub"]),
        "raw_cypher_median_ms": median_ms(outcome["raw"]),
        "raw_cypher_p90_ms": p90_ms(outcome["raw"]),
        # the same Cypher returning every field (as the resolvers read it), against the fields the plan asks for
        "raw_full_cypher_median_ms": median_ms(outcome["raw_full"]),
        "ratio_raw_to_raw_full_median": round(
            statistics.median(outcome["raw"]) / statistics.median(outcome["raw_full"]), 2
        ),
        "ratio_hub_to_raw_median": round(statistics.median(outcome["hub"]) / statistics.median(outcome["raw"]), 2),
        # the reach alone (the lots' ids, no visibility, owner role, shipments or fields): what any trace pays
        "reach_cypher_median_ms": median_ms(outcome["reach"]),
        "ratio_raw_to_reach_median": round(statistics.median(outcome["raw"]) / statistics.median(outcome["reach"]), 2),
        "target_ms": 250,
        "load_average_before": load_before,
        "load_average_after": round(os.getloadavg()[0], 2),  # the 2 cores are shared with other work
    }
    steps = _keep_steps(args.step, figures)
    if servers is None and (RESULTS / "big_trace.json").exists():  # keep the last comparison of servers
        servers = json.loads((RESULTS / "big_trace.json").read_text()).get("servers")
    if compared is None and (RESULTS / "big_trace.json").exists():  # keep the last comparison with a commit
        compared = json.loads((RESULTS / "big_trace.json").read_text()).get("against")
    path = write_result("big_trace", {**figures, "steps": steps, "servers": servers, "against": compared})
    print(json.dumps(figures, indent=2))
    print(f"written to {path}")


if __name__ == "__main__":
    main()
