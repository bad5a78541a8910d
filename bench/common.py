"""What every benchmark shares: a hub served in-process over real HTTP, sample lots, and the result file."""

from __future__ import annotations

import json
import os
import platform
import random
import socket
import statistics
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import uvicorn
from neo4j import AsyncDriver, AsyncGraphDatabase

from hub.app import create_app
from hub.neo4j_connection import neo4j_connection
from hub.settings import Settings

RESULTS = Path(__file__).resolve().parent / "results"


def free_port() -> int:
    """A free loopback port for the benchmark's own hub."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def open_driver(settings: Settings) -> AsyncDriver:
    """A driver to the hub's Neo4j, for baselines that skip the hub."""
    connection = neo4j_connection(settings)
    return AsyncGraphDatabase.driver(
        connection.uri, auth=(connection.user, connection.password), notifications_min_severity="OFF"
    )


@contextmanager
def serve(settings: Settings) -> Iterator[str]:
    """Run the hub (the same app factory `hub serve` uses) in a thread; yields its base URL."""
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=settings.port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the hub did not start within 60 s")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{settings.port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


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
