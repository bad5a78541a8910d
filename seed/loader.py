"""Writes generated clusters through graph_schema's write functions, batch by batch, timing each kind."""

from __future__ import annotations

import sys
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from contextlib import nullcontext
from typing import Any, Final

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from graph_schema.db import Graph
from graph_schema.lots import record_inventory, record_lots, record_shipments, record_transformations
from graph_schema.parties import (
    upsert_ccps,
    upsert_certifications,
    upsert_firms,
    upsert_products,
    upsert_sales_channels,
    upsert_sites,
)
from graph_schema.records import ShipmentRecord
from seed.cluster import Batch, Cluster, Kind, SeedReport
from seed.large import LargeCluster
from seed.plan import event_batches, profile_batches
from seed.producer import ChunkProducer

BATCH_SIZE: Final = 5_000

Writer = Callable[[Graph, Sequence[Any]], Awaitable[int]]


async def _ship(graph: Graph, records: Sequence[ShipmentRecord]) -> int:
    # The seed acts for every firm at once: each shipment is written by the firm of its origin site.
    return await record_shipments(graph, records, shipper_firm_id=None)


WRITERS: Final[dict[Kind, Writer]] = {
    "firms": upsert_firms,
    "sites": upsert_sites,
    "certifications": upsert_certifications,
    "products": upsert_products,
    "channels": upsert_sales_channels,
    "ccps": upsert_ccps,
    "lots": record_lots,
    "transformations": record_transformations,
    "shipments": _ship,
    "inventory": record_inventory,
}

HAS_FIRM: Final = "MATCH (:Firm) RETURN true AS found LIMIT 1"
HAS_NODE: Final = "MATCH (n) RETURN true AS found LIMIT 1"


async def graph_is_empty(graph: Graph) -> bool:
    """True when no firm is recorded yet, so a first start can seed once."""
    return not await graph.read(HAS_FIRM)


async def graph_holds_nothing(graph: Graph) -> bool:
    """True when the graph holds no node at all: a bulk import, which replaces the store, loses nothing."""
    return not await graph.read(HAS_NODE)


async def write_batches(graph: Graph, batches: Iterable[Batch], report: SeedReport) -> None:
    """Write each batch with its kind's write function, adding counts and time to the report."""
    for batch in batches:
        started = time.perf_counter()
        await WRITERS[batch.kind](graph, batch.records)
        report.write_seconds[batch.kind] += time.perf_counter() - started
        report.counts[batch.kind] += len(batch.records)
        report.calls[batch.kind] += 1


async def load_cluster(graph: Graph, cluster: Cluster, *, batch_size: int = BATCH_SIZE) -> SeedReport:
    """Write a whole in-memory cluster (the demo) in an order every write function accepts."""
    started = time.perf_counter()
    report = SeedReport()
    site_firms = {site.gln: site.firm_id for site in cluster.sites}
    await write_batches(graph, profile_batches(cluster, size=batch_size), report)
    await write_batches(graph, event_batches(cluster, site_firms=site_firms, size=batch_size), report)
    report.seconds = time.perf_counter() - started
    return report


async def load_large(
    graph: Graph, *, seed: int, progress: bool = True, days: int | None = None, batch_size: int = BATCH_SIZE
) -> SeedReport:
    """Generate and write the large cluster (about 600 firms, a million lots) a stretch of days at a time."""
    started = time.perf_counter()
    report = SeedReport()
    large = LargeCluster(seed, days=days)
    await write_batches(graph, profile_batches(large.profiles(), size=batch_size), report)
    show = progress and sys.stderr.isatty()
    bar = Progress(
        TextColumn("[bold]seeding[/] {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("days"),
        TimeElapsedColumn(),
        disable=not show,
    )
    producer = ChunkProducer(seed, days=days, batch_size=batch_size)
    async with producer:
        with bar if show else nullcontext():
            task = bar.add_task("", total=large.days)
            while (chunk := await producer.next_chunk()) is not None:
                batches, days_done = chunk
                await write_batches(graph, batches, report)
                bar.update(task, completed=days_done, description=f"{report.counts['lots']:,} lots")
    report.seconds = time.perf_counter() - started
    return report
