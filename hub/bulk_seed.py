"""``hub seed --scale large`` in minutes: CSV files from a streaming generator, ``neo4j-admin database import``.

The generator writes the partitions of the year in child processes, one per core (the parent stops the server
meanwhile); the import replaces the local server's store, so it is only used on a graph holding nothing; then
the server is started again and the schema applied (constraints and indexes built over the imported graph).
"""

from __future__ import annotations

import asyncio
import os
import re
import resource
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from graph_schema.constraints import apply_schema
from graph_schema.db import Graph
from hub.neo4j_connection import local_server, open_driver
from hub.settings import Settings
from seed.bulk import BulkReport, write_large_csvs

_STAGE_LINE: Final = re.compile(r"COMPLETED in|IMPORT DONE|Peak memory", re.IGNORECASE)


@dataclass
class BulkSeedReport:
    """What the bulk seed wrote and where its time went (seconds per step)."""

    generator: BulkReport
    steps: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0
    import_stages: list[str] = field(default_factory=list)  # the import tool's own timing of its stages
    # CPU seconds per step (the generator's processes, the import tool, the server while it starts and builds the
    # schema): on a shared machine these say more than the wall-clock times
    cpu: dict[str, float] = field(default_factory=dict)


async def _apply_schema(settings: Settings) -> None:
    driver = open_driver(settings, pool_size=4)
    try:
        # over a million lots on a busy machine the indexes took more than the default 300 s to come online
        await apply_schema(Graph(driver, database=settings.neo4j_database), await_seconds=3600)
    finally:
        await driver.close()


def bulk_seed_large(settings: Settings, *, seed: int, days: int | None = None) -> BulkSeedReport:
    """Replace the local server's graph with the large cluster of ``seed``; the caller checked it holds nothing."""
    started = time.perf_counter()
    server = local_server(settings)
    steps: dict[str, float] = {}
    cpu: dict[str, float] = {}
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="bulk-seed-", dir=settings.state_dir))
    try:

        def stop() -> None:
            stopping = time.perf_counter()
            server.stop()
            steps["stop the server"] = time.perf_counter() - stopping

        stopper = threading.Thread(target=stop, name="stop-neo4j")
        stopper.start()
        try:
            generated = write_large_csvs(folder, seed=seed, days=days, processes=os.cpu_count() or 1)
        finally:
            stopper.join()
        steps["generate the CSV files"] = generated.seconds
        cpu["generate the CSV files"] = generated.cpu_seconds
        mark, children = time.perf_counter(), _children_cpu()
        printed = server.import_full(generated.node_files(), generated.relationship_files())
        steps["neo4j-admin database import"] = time.perf_counter() - mark
        cpu["neo4j-admin database import"] = _children_cpu() - children
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    mark = time.perf_counter()
    pid = server.start().pid
    steps["start the server"] = time.perf_counter() - mark
    started_cpu = _process_cpu(pid)
    if started_cpu is not None:
        cpu["start the server"] = started_cpu
    mark = time.perf_counter()
    asyncio.run(_apply_schema(settings))
    steps["apply the schema (constraints and indexes built)"] = time.perf_counter() - mark
    schema_cpu = _process_cpu(pid)
    if started_cpu is not None and schema_cpu is not None:
        cpu["apply the schema (constraints and indexes built)"] = schema_cpu - started_cpu
    stages = [line.strip() for line in printed.splitlines() if _STAGE_LINE.search(line)]
    return BulkSeedReport(generated, steps, time.perf_counter() - started, stages, cpu)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _process_cpu(pid: int | None) -> float | None:
    """CPU seconds a process has used so far (Linux's /proc), or None where that cannot be read."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None
