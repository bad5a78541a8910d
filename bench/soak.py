"""Soak: a mixed read workload at half the measured maximum throughput for ten minutes, on the demo cluster.

The hub runs as its own process (`hub serve`) on a Neo4j of this benchmark's own (`.local/bench-soak`, bolt
7736, seeded with the demo cluster once). First the maximum: closed-loop workers send the mix for
``--probe-seconds`` and the requests per second they get is the baseline. Then the soak: requests are sent on a
fixed schedule at half that rate for ``--minutes``, every answer checked (HTTP 200 and no GraphQL errors), the
hub's resident memory sampled every 5 s. Writes bench/results/soak.json: the rates, the error count with
examples, latencies, and the RSS at the start of the soak, at its end and its highest.

    .venv/bin/python -m bench.soak               # 10 minutes
    .venv/bin/python -m bench.soak --minutes 2   # shortened
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from auth.principal import Role
from bench.common import RESULTS, free_port, median_ms, open_driver, p90_ms, running, sample_lots, write_result
from bench.peer_tools import ROOT
from graph_schema.constraints import apply_schema
from graph_schema.db import Graph
from hub.app import open_issuer
from hub.neo4j_local import NEO4J_VERSION, LocalNeo4j, LocalNeo4jConfig
from hub.settings import Environment, Settings
from seed.demo import build_demo
from seed.loader import graph_is_empty, load_cluster

STATE = ROOT / ".local" / "bench-soak"
BOLT_PORT = 7736
LOTS = "{ lots(first: 20) { totalCount edges { node { id quantity uom } } } }"
FIRMS = "{ firms(first: 20) { totalCount edges { node { id name } } } }"
LOT = "query($id: ID!) { lot(id: $id) { id quantity producedAt site { gln name } product { gtin name } } }"
TRACE = "query($id: ID!) { trace(lotId: $id, direction: DOWNSTREAM, maxDepth: 6) { summary { lotCount firmCount } } }"


@dataclass
class Tally:
    """What the requests of one phase came back with."""

    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    examples: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, seconds: float, problem: str | None) -> None:
        with self.lock:
            self.latencies.append(seconds)
            if problem is not None:
                self.errors += 1
                if len(self.examples) < 5:
                    self.examples.append(problem[:300])


class Workload:
    """The mix: a page of lots, a page of firms, one lot, a short downstream trace; each as the lot's owner."""

    def __init__(self, url: str, callers: list[tuple[str, dict[str, str]]]) -> None:
        self.url = url
        self.callers = callers
        self.client = httpx.Client(timeout=30, limits=httpx.Limits(max_connections=64))
        self.counter = 0
        self.lock = threading.Lock()

    def one(self, tally: Tally) -> None:
        with self.lock:
            self.counter += 1
            n = self.counter
        lot, headers = self.callers[n % len(self.callers)]
        query, variables = [(LOTS, {}), (FIRMS, {}), (LOT, {"id": lot}), (TRACE, {"id": lot})][n % 4]
        started = time.perf_counter()
        problem: str | None = None
        try:
            answer = self.client.post(
                f"{self.url}/graphql", json={"query": query, "variables": variables}, headers=headers
            )
            if answer.status_code != 200 or "errors" in answer.json():
                problem = f"{answer.status_code}: {answer.text}"
        except httpx.HTTPError as error:
            problem = f"{type(error).__name__}: {error}"
        tally.add(time.perf_counter() - started, problem)


def rss_mb(pid: int) -> float:
    """Resident memory of a process, in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    raise RuntimeError(f"no VmRSS for pid {pid}")


def closed_loop(workload: Workload, *, workers: int, seconds: float) -> tuple[float, Tally]:
    """Requests per second that ``workers`` callers get, each sending its next request on the last answer."""
    tally, stop = Tally(), time.monotonic() + seconds

    def caller() -> None:
        while time.monotonic() < stop:
            workload.one(tally)

    started = time.monotonic()
    threads = [threading.Thread(target=caller) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return len(tally.latencies) / (time.monotonic() - started), tally


def open_loop(workload: Workload, *, rate: float, seconds: float, pid: int) -> tuple[Tally, list[float], float]:
    """Requests sent every 1/rate s whatever the answers (a pool of senders), RSS sampled every 5 s."""
    tally, samples = Tally(), [rss_mb(pid)]
    interval, started = 1.0 / rate, time.monotonic()
    next_sample = started + 5
    with ThreadPoolExecutor(max_workers=32) as pool:
        sent = 0
        while (now := time.monotonic()) - started < seconds:
            due = started + sent * interval
            if now < due:
                time.sleep(min(due - now, 0.05))
            else:
                pool.submit(workload.one, tally)
                sent += 1
            if now >= next_sample:
                samples.append(rss_mb(pid))
                next_sample += 5
    samples.append(rss_mb(pid))
    return tally, samples, sent / (time.monotonic() - started)


async def prepare(settings: Settings) -> list[tuple[str, str]]:
    """The demo cluster in the benchmark's Neo4j (seeded once); 40 sample lots with their owners."""
    async with open_driver(settings) as driver:
        graph = Graph(driver)
        await apply_schema(graph)
        if await graph_is_empty(graph):
            print("seeding the demo cluster (once)...", flush=True)
            await load_cluster(graph, build_demo(7))
        return await sample_lots(driver, 40, seed=11)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10.0, help="length of the soak (10 by default)")
    parser.add_argument("--probe-seconds", type=float, default=30.0, help="length of the maximum-throughput probe")
    parser.add_argument("--workers", type=int, default=8, help="closed-loop callers of the probe")
    parser.add_argument("--warm-seconds", type=float, default=30.0, help="untimed requests first (query plans)")
    args = parser.parse_args()

    jars = ROOT / ".local" / f"neo4j-lib-{NEO4J_VERSION}"  # the jars every local server of this checkout shares
    config = LocalNeo4jConfig(home=STATE / "neo4j", bolt_port=BOLT_PORT, heap="1g", pagecache="512m", jar_cache=jars)
    neo4j = LocalNeo4j(config)
    neo4j.start()
    port = free_port()
    settings = Settings(
        env=Environment.TEST,
        port=port,
        state_dir=STATE,
        neo4j_uri=neo4j.uri,
        neo4j_password=neo4j.password,
    )
    lots = asyncio.run(prepare(settings))
    env = {
        **os.environ,
        "HUB_ENV": "test",
        "HUB_PORT": str(port),
        "HUB_STATE_DIR": str(STATE),
        "HUB_NEO4J_URI": neo4j.uri,
        "HUB_NEO4J_PASSWORD": neo4j.password,
    }
    hub = [str(Path(sys.executable).parent / "hub"), "serve"]
    url = f"http://127.0.0.1:{port}"
    with running("hub", hub, env, f"{url}/readyz", url, STATE / "hub.log") as server:
        issuer = open_issuer(settings)
        tokens = {firm: issuer.mint(subject=f"soak@{firm}", firm_id=firm, roles=(Role.VIEWER,)) for _, firm in lots}
        callers = [(lot, {"Authorization": f"Bearer {tokens[firm]}"}) for lot, firm in lots]
        workload = Workload(url, callers)
        closed_loop(workload, workers=2, seconds=args.warm_seconds)  # warm: query plans, caches, connections
        maximum, probe = closed_loop(workload, workers=args.workers, seconds=args.probe_seconds)
        target = maximum / 2
        print(f"maximum {maximum:.1f} req/s ({probe.errors} errors); soaking at {target:.1f} req/s", flush=True)
        soak, rss, achieved = open_loop(workload, rate=target, seconds=args.minutes * 60, pid=server.pid)
        workload.client.close()
    neo4j.stop()

    latencies = sorted(soak.latencies)
    figures: dict[str, Any] = {
        "minutes": args.minutes,
        "shortened": args.minutes < 10,
        "workload": "GraphQL mix: lots(first: 20), firms(first: 20), lot(id), trace(DOWNSTREAM, maxDepth 6)",
        "baseline_max_rps": round(maximum, 1),
        "probe_errors": probe.errors,
        "target_rps": round(target, 1),
        "achieved_rps": round(achieved, 1),
        "achieved_over_target": round(achieved / target, 3),
        "requests": len(latencies),
        "errors": soak.errors,
        "error_examples": soak.examples,
        "latency_ms": {
            "median": median_ms(latencies),
            "p90": p90_ms(latencies),
            "p99": round(statistics.quantiles(latencies, n=100)[-1] * 1000, 3) if len(latencies) > 1 else None,
        },
        "hub_rss_mb": {"start": rss[0], "end": rss[-1], "max": max(rss), "end_over_start": round(rss[-1] / rss[0], 3)},
        "rss_samples_mb": rss,
    }
    path = write_result("soak", figures)
    print(
        f"soak {args.minutes:g} min at {achieved:.1f} req/s (half of {maximum:.1f}): {len(latencies)} requests, "
        f"{soak.errors} errors; hub RSS {rss[0]} -> {rss[-1]} MB (max {max(rss)}); {path.relative_to(RESULTS.parent)}"
    )
    return 0 if soak.errors == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
