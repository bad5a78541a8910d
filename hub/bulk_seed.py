"""``hub seed --scale large`` in minutes: CSV files from a streaming generator, ``neo4j-admin database import``.

The generator runs in a child process (its peak memory is its own, and the parent stops the server meanwhile);
the import replaces the local server's store, so it is only used on a graph holding nothing; then the server is
started again and the schema applied (constraints and indexes built over the imported graph).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import shutil
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from graph_schema.constraints import apply_schema
from graph_schema.db import Graph
from hub.neo4j_connection import local_server, open_driver
from hub.settings import Settings
from seed.bulk import BulkReport, write_large_csvs


@dataclass
class BulkSeedReport:
    """What the bulk seed wrote and where its time went (seconds per step)."""

    generator: BulkReport
    steps: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0


def _generate(folder: Path, seed: int, days: int | None) -> BulkReport:
    return write_large_csvs(folder, seed=seed, days=days)


async def _apply_schema(settings: Settings) -> None:
    driver = open_driver(settings, pool_size=4)
    try:
        await apply_schema(Graph(driver, database=settings.neo4j_database))
    finally:
        await driver.close()


def bulk_seed_large(settings: Settings, *, seed: int, days: int | None = None) -> BulkSeedReport:
    """Replace the local server's graph with the large cluster of ``seed``; the caller checked it holds nothing."""
    started = time.perf_counter()
    server = local_server(settings)
    steps: dict[str, float] = {}
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="bulk-seed-", dir=settings.state_dir))
    try:
        # spawn, not fork: the parent may hold a driver's threads and sockets
        with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
            generating = pool.submit(_generate, folder, seed, days)
            stopping = time.perf_counter()
            server.stop()
            steps["stop the server"] = time.perf_counter() - stopping
            generated = generating.result()
        steps["generate the CSV files"] = generated.seconds
        mark = time.perf_counter()
        server.import_full(generated.node_files(), generated.relationship_files())
        steps["neo4j-admin database import"] = time.perf_counter() - mark
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    mark = time.perf_counter()
    server.start()
    steps["start the server"] = time.perf_counter() - mark
    mark = time.perf_counter()
    asyncio.run(_apply_schema(settings))
    steps["apply the schema (constraints and indexes built)"] = time.perf_counter() - mark
    return BulkSeedReport(generator=generated, steps=steps, seconds=time.perf_counter() - started)
