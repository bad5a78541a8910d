"""What every benchmark shares: a hub served over real HTTP (in-process or as its own process), sample lots, and the
result file."""

from __future__ import annotations

import json
import os
import platform
import random
import signal
import statistics
import subprocess
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import httpx
from neo4j import AsyncDriver

from bench.peer_tools import ROOT
from graph_schema.db import Graph
from hub.app import create_app
from hub.neo4j_connection import open_driver
from hub.server import free_port, serve_in_thread
from hub.settings import Settings

# the benchmarks measure how many requests the hub answers, not its per-client rate limits (hub/rate_limits.py):
# every hub they start, in this process or another, takes its settings from this environment
os.environ.setdefault("HUB_RATE_LIMIT_CLIENT_PER_SECOND", "0")
os.environ.setdefault("HUB_RATE_LIMIT_FIRM_PER_SECOND", "0")

__all__ = [
    "free_port",
    "median_ms",
    "open_driver",
    "p90_ms",
    "remove_firm",
    "running",
    "sample_lots",
    "serve",
    "write_result",
]

RESULTS = Path(__file__).resolve().parent / "results"


def serve(settings: Settings) -> AbstractContextManager[str]:
    """Run the hub (the same app factory `hub serve` uses) in a thread; yields its base URL."""
    return serve_in_thread(create_app(settings), port=settings.port)


async def sample_lots(driver: AsyncDriver, count: int, seed: int) -> list[tuple[str, str]]:
    """``count`` lots picked at random (fixed seed), with their owner firms."""
    total = (await driver.execute_query("MATCH (l:Lot) RETURN count(l) AS n")).records[0]["n"]
    if total == 0:
        raise RuntimeError("the graph has no lots: seed it first (hub seed --scale large)")
    rng = random.Random(seed)
    picked: list[tuple[str, str]] = []
    for _ in range(count):
        record = (
            await driver.execute_query(
                "MATCH (l:Lot) WITH l SKIP $skip LIMIT 1 RETURN l.id AS id, l.ownerFirmId AS firm",
                {"skip": rng.randrange(total)},
            )
        ).records[0]
        picked.append((record["id"], record["firm"]))
    return picked


def median_ms(samples: list[float]) -> float:
    """Median of timings in seconds, as milliseconds."""
    return round(statistics.median(samples) * 1000, 3)


def p90_ms(samples: list[float]) -> float:
    """90th percentile of timings in seconds, as milliseconds."""
    return round(statistics.quantiles(samples, n=10)[-1] * 1000, 3) if len(samples) > 1 else median_ms(samples)


def write_result(name: str, figures: dict[str, Any]) -> Path:
    """bench/results/<name>.json with the date and the machine."""
    RESULTS.mkdir(exist_ok=True)
    report = {
        "benchmark": name,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        **figures,
    }
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(report, indent=2) + "\n")
    return path


# Everything a benchmark's own firm wrote carries its id: lots, transformations, shipments, sites, products,
# capacities (firmId), shipments it sent (fromFirmId), EPCIS events it captured (capturedBy).
REMOVE_FIRM: Final = """
CALL () {
  MATCH (n) WHERE n.ownerFirmId = $firm OR n.capturedBy = $firm OR n.fromFirmId = $firm OR n.firmId = $firm
  RETURN n
  UNION
  MATCH (n:Firm {id: $firm}) RETURN n
} IN TRANSACTIONS OF 5000 ROWS
DETACH DELETE n
"""


async def remove_firm(graph: Graph, firm_id: str) -> None:
    """Delete a benchmark's own firm and everything it wrote (in batches: a run may write 100,000 nodes)."""
    async with graph.driver.session(database=graph.database) as session:
        await (await session.run(REMOVE_FIRM, {"firm": firm_id})).consume()


@dataclass(frozen=True)
class Server:
    name: str
    url: str
    pid: int


def _wait_http(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args!r} exited with {process.returncode}; see {log}")
        try:
            if httpx.get(url, timeout=2.0).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f} s; see {log}")


@contextmanager
def running(
    name: str, cmd: list[str], env: dict[str, str], ready_url: str, url: str, log: Path, *, cwd: Path = ROOT
) -> Iterator[Server]:
    """A server process of ours, stopped (SIGTERM, then SIGKILL) when the block ends; ``cwd`` another tree of the
    project (an earlier commit's) to serve that one."""
    with log.open("ab") as out:
        process = subprocess.Popen(cmd, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=out, stderr=out)
    try:
        _wait_http(ready_url, process, log)
        yield Server(name, url, process.pid)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def timed(work: Any) -> float:
    """Seconds an awaitable takes to finish."""
    started = time.perf_counter()
    await work
    return time.perf_counter() - started
