"""The large cluster as CSV files for ``neo4j-admin database import full``, written by a streaming generator.

The files hold the graph the checked write functions build from the same records (graph_schema/parties.py and
graph_schema/lots.py): the same labels, properties (times as zoned datetimes, quantities as floats, absent where
the write functions would set null) and relationships, one file per label and per relationship type. The events
come a stretch of days at a time from the same deterministic simulation as ``hub seed --scale large`` through the
write functions, so memory stays flat: only the directory, the simulation's few days of stock and the last
fortnight's inventory rows are held. tests/integration/test_seed_bulk.py compares both graphs on a small seed.
"""

from __future__ import annotations

import csv
import gc
import multiprocessing
import resource
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any, Final

from graph_schema.identifiers import LGTIN_PREFIX, parse_lgtin
from graph_schema.records import InventoryRecord, LotRecord, Record, ShipmentRecord, TransformationRecord
from seed.cluster import Cluster
from seed.large import PARTITION_DAYS, LargeCluster
from seed.routes import trusted

ARRAY_DELIMITER: Final = ";"
LOTS_PER_CHUNK: Final = 10_000

# label -> its columns as (property, import type); the first is the node's id in the label's own id space
NODES: Final[dict[str, tuple[tuple[str, str], ...]]] = {
    "Firm": (("id", "ID"), ("name", "string"), ("nameKo", "string"), ("roles", "string[]")),
    "Site": (("gln", "ID"), ("firmId", "string"), ("name", "string"), ("kind", "string"), ("region", "string")),
    "Certification": (
        ("id", "ID"), ("firmId", "string"), ("siteGln", "string"), ("kind", "string"), ("number", "string"),
        ("validFrom", "datetime"), ("validUntil", "datetime"),
    ),
    "Product": (
        ("gtin", "ID"), ("ownerFirmId", "string"), ("name", "string"), ("nameKo", "string"), ("category", "string"),
        ("uom", "string"),
    ),
    "SalesChannel": (("id", "ID"), ("operatorFirmId", "string"), ("name", "string"), ("kind", "string")),
    "CCP": (
        ("id", "ID"), ("siteGln", "string"), ("firmId", "string"), ("code", "string"), ("name", "string"),
        ("hazard", "string"), ("limitLow", "double"), ("limitHigh", "double"), ("unit", "string"),
        ("monitoringIntervalSeconds", "long"), ("devices", "string[]"), ("productGtins", "string[]"),
    ),
    "Lot": (
        ("id", "ID"), ("lotNumber", "string"), ("productGtin", "string"), ("ownerFirmId", "string"),
        ("siteGln", "string"), ("quantity", "double"), ("uom", "string"), ("producedAt", "datetime"),
        ("expiresAt", "datetime"), ("status", "string"),
    ),
    "Transformation": (("id", "ID"), ("firmId", "string"), ("siteGln", "string"), ("occurredAt", "datetime")),
    "Shipment": (
        ("id", "ID"), ("fromGln", "string"), ("toGln", "string"), ("fromFirmId", "string"), ("toFirmId", "string"),
        ("shippedAt", "datetime"), ("receivedAt", "datetime"), ("docType", "string"), ("docNumber", "string"),
    ),
}  # fmt: skip

QUANTITY: Final = (("quantity", "double"), ("uom", "string"))
# type -> (start label, end label, its properties)
RELATIONSHIPS: Final[dict[str, tuple[str, str, tuple[tuple[str, str], ...]]]] = {
    "OPERATES": ("Firm", "Site", ()),
    "BRAND_OWNER_OF": ("Firm", "Product", ()),
    "HOLDS": ("Firm", "Certification", ()),
    "COVERS": ("Certification", "Site", ()),
    "RUNS": ("Firm", "SalesChannel", ()),
    "SELLS_THROUGH": ("Site", "SalesChannel", ()),
    "LISTED_ON": ("Product", "SalesChannel", (("firmId", "string"),)),
    "HAS_CCP": ("Site", "CCP", ()),
    "OF_PRODUCT": ("Lot", "Product", ()),
    "MADE_AT": ("Lot", "Site", ()),
    "CONSUMED_BY": ("Lot", "Transformation", QUANTITY),
    "PRODUCED": ("Transformation", "Lot", QUANTITY),
    "FROM": ("Shipment", "Site", ()),
    "TO": ("Shipment", "Site", ()),
    "CARRIES": ("Shipment", "Lot", QUANTITY),
    "HELD_AT": ("Lot", "Site", (("quantity", "double"), ("uom", "string"), ("asOf", "datetime"), ("firmId", "string"))),
}


def node_header(label: str) -> list[str]:
    """The import tool's header of a label's file: the id in the label's id space, then typed properties."""
    (key, _), *rest = NODES[label]
    return [f"{key}:ID({label})", *(f"{name}:{kind}" for name, kind in rest)]


def relationship_header(rel_type: str) -> list[str]:
    """The header of a relationship type's file: start and end ids in their labels' id spaces, then properties."""
    start, end, props = RELATIONSHIPS[rel_type]
    return [f":START_ID({start})", f":END_ID({end})", *(f"{name}:{kind}" for name, kind in props)]


def _cell(value: Any, kind: str) -> Any:
    if value is None:
        return ""
    if kind == "string[]":
        items = [str(v) for v in value]
        if any(ARRAY_DELIMITER in item for item in items):
            raise ValueError(f"a list value holds the array delimiter {ARRAY_DELIMITER!r}: {items}")
        return ARRAY_DELIMITER.join(items)
    return value


def _time(value: datetime | None) -> str:
    return "" if value is None else value.isoformat()


@dataclass
class BulkReport:
    """What the generator wrote: each label's and type's files (its header first), rows, seconds, peak memory."""

    files: dict[str, list[Path]] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    cpu_seconds: float = 0.0  # of every generating process
    peak_rss_mb: float = 0.0  # the largest of the generating processes'

    def node_files(self) -> dict[str, list[Path]]:
        """Label -> files, for the import tool's ``--nodes``."""
        return {name: paths for name, paths in self.files.items() if name in NODES}

    def relationship_files(self) -> dict[str, list[Path]]:
        """Relationship type -> files, for ``--relationships``."""
        return {name: paths for name, paths in self.files.items() if name in RELATIONSHIPS}


class _Files:
    """One CSV writer per label and relationship type, opened on first use; with ``header``, the header first."""

    def __init__(self, folder: Path, *, prefix: str = "", header: bool = True) -> None:
        self.folder = folder
        self.prefix = prefix
        self.header = header
        self.paths: dict[str, Path] = {}
        self.rows: dict[str, int] = {}
        self._handles: dict[str, IO[str]] = {}
        self._writers: dict[str, Any] = {}

    def writer(self, name: str) -> Any:
        found = self._writers.get(name)
        if found is not None:
            return found
        path = self.folder / f"{self.prefix}{name}.csv"
        handle = path.open("w", newline="", encoding="utf-8", buffering=1 << 20)
        writer = csv.writer(handle)
        if self.header:
            writer.writerow(_header(name))
        self._handles[name], self._writers[name] = handle, writer
        self.paths[name] = path
        self.rows[name] = 0
        return writer

    def write(self, name: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            self.writer(name).writerows(rows)
            self.rows[name] += len(rows)

    def close(self) -> None:
        for handle in self._handles.values():
            handle.close()


def _header(name: str) -> list[str]:
    return node_header(name) if name in NODES else relationship_header(name)


def _profile_rows(records: Iterable[Record], label: str) -> list[list[Any]]:
    columns = NODES[label]
    rows = []
    for record in records:
        row = record.row()
        rows.append([_cell(row.get(name), kind) for name, kind in columns])
    return rows


def _write_profiles(files: _Files, cluster: Cluster) -> None:
    """Firms, sites, certifications, products, channels and CCPs with their relationships, as the upserts do."""
    site_firm = {site.gln: site.firm_id for site in cluster.sites}
    files.write("Firm", _profile_rows(cluster.firms, "Firm"))
    files.write("Site", _profile_rows(cluster.sites, "Site"))
    files.write("OPERATES", [[s.firm_id, s.gln] for s in cluster.sites])
    files.write("Certification", _profile_rows(cluster.certifications, "Certification"))
    files.write("HOLDS", [[c.firm_id, c.id] for c in cluster.certifications])
    # WRITE_CERTIFICATIONS covers the site only when it is the firm's own (it skips the row otherwise)
    for c in cluster.certifications:
        if c.site_gln is not None and site_firm.get(c.site_gln) != c.firm_id:
            raise ValueError(f"certification {c.id}: site {c.site_gln} is not a site of firm {c.firm_id}")
    files.write("COVERS", [[c.id, c.site_gln] for c in cluster.certifications if c.site_gln is not None])
    files.write("Product", _profile_rows(cluster.products, "Product"))
    files.write("BRAND_OWNER_OF", [[p.owner_firm_id, p.gtin] for p in cluster.products])
    files.write("SalesChannel", _profile_rows(cluster.channels, "SalesChannel"))
    files.write("RUNS", [[c.operator_firm_id, c.id] for c in cluster.channels])
    files.write("SELLS_THROUGH", [[gln, c.id] for c in cluster.channels for gln in dict.fromkeys(c.store_glns)])
    files.write(
        "LISTED_ON",
        [[gtin, c.id, c.operator_firm_id] for c in cluster.channels for gtin in dict.fromkeys(c.listed_gtins)],
    )
    # WRITE_CCPS takes the CCP's firm from its site
    ccps = [{**ccp.row(), "firmId": site_firm[ccp.site_gln]} for ccp in cluster.ccps]
    files.write("CCP", [[_cell(row.get(name), kind) for name, kind in NODES["CCP"]] for row in ccps])
    files.write("HAS_CCP", [[c.site_gln, c.id] for c in cluster.ccps])


class _LotIds:
    """A lot's GTIN and lot number from its canonical LGTIN, the GTIN's check digit computed once per product."""

    def __init__(self) -> None:
        self._gtins: dict[str, str] = {}

    def split(self, lot_id: str) -> tuple[str, str]:
        prefix, item, lot = lot_id[len(LGTIN_PREFIX) :].split(".", 2)
        key = f"{prefix}.{item}"
        gtin = self._gtins.get(key)
        if gtin is None:
            gtin = self._gtins[key] = parse_lgtin(lot_id).gtin
        return gtin, lot


def _write_events(
    files: _Files, lots: Sequence[LotRecord], made: Sequence[TransformationRecord], moved: Sequence[ShipmentRecord],
    site_firm: dict[str, str], ids: _LotIds,
) -> None:  # fmt: skip
    lot_rows, of_product, made_at = [], [], []
    for lot in lots:
        gtin, number = ids.split(lot.id)
        status = lot.status.value
        lot_rows.append([lot.id, number, gtin, lot.owner_firm_id, lot.site_gln, float(lot.quantity), lot.uom,
                         lot.produced_at.isoformat(), _time(lot.expires_at), status])  # fmt: skip
        of_product.append((lot.id, gtin))
        made_at.append((lot.id, lot.site_gln))
    files.write("Lot", lot_rows)
    files.write("OF_PRODUCT", of_product)
    files.write("MADE_AT", made_at)
    files.write("Transformation", [(t.id, t.firm_id, t.site_gln, t.occurred_at.isoformat()) for t in made])
    files.write("CONSUMED_BY", [(i.lot_id, t.id, float(i.quantity), i.uom) for t in made for i in t.inputs])
    files.write("PRODUCED", [(t.id, o.lot_id, float(o.quantity), o.uom) for t in made for o in t.outputs])
    files.write(
        "Shipment",
        [
            (s.id, s.from_gln, s.to_gln, site_firm[s.from_gln], site_firm[s.to_gln], s.shipped_at.isoformat(),
             _time(s.received_at), _cell(s.doc_type, "string"), _cell(s.doc_number, "string"))
            for s in moved
        ],
    )  # fmt: skip
    files.write("FROM", [(s.id, s.from_gln) for s in moved])
    files.write("TO", [(s.id, s.to_gln) for s in moved])
    files.write("CARRIES", [(s.id, i.lot_id, float(i.quantity), i.uom) for s in moved for i in s.items])


def _inventory_rows(held: dict[tuple[str, str], InventoryRecord], site_firm: dict[str, str]) -> list[tuple[Any, ...]]:
    return [
        (r.lot_id, r.site_gln, float(r.quantity), r.uom, r.as_of.isoformat(), site_firm[r.site_gln])
        for r in held.values()
    ]


@dataclass
class _Part:
    """What one partition's process wrote: its files and rows, its inventory rows in order, its peak memory."""

    paths: dict[str, Path]
    rows: dict[str, int]
    inventory: list[InventoryRecord]
    peak_rss_mb: float
    cpu_seconds: float


_Key = tuple[int, int | None, int]  # seed, days, partition days
_CLUSTERS: dict[_Key, LargeCluster] = {}  # per process: the directory is built once


def _large(key: _Key) -> LargeCluster:
    found = _CLUSTERS.get(key)
    if found is None:
        _CLUSTERS.clear()
        seed, days, partition_days = key
        found = _CLUSTERS[key] = LargeCluster(seed, days=days, make=trusted, partition_days=partition_days)
    return found


def _write_partition(folder: Path, key: _Key, index: int) -> _Part:
    """Write one partition's events as header-less part files; its inventory rows come back to be merged."""
    cpu = time.process_time()
    large = _large(key)
    site_firm = {site.gln: site.firm_id for site in large.directory.sites}
    files = _Files(folder, prefix=f"part-{index:03d}-", header=False)
    ids = _LotIds()
    inventory: list[InventoryRecord] = []
    # The records hold no cycles: reference counting frees each chunk, and the cycle collector's passes over
    # the millions of young records cost a quarter of the generator's time (measured: 10.2 s -> 7.5 s a partition).
    collecting = gc.isenabled()
    gc.disable()
    try:
        for chunk, _ in large.partition_chunks(index, lots_per_chunk=LOTS_PER_CHUNK):
            _write_events(files, chunk.lots, chunk.transformations, chunk.shipments, site_firm, ids)
            inventory += chunk.inventory
    finally:
        files.close()
        if collecting:
            gc.enable()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return _Part(files.paths, files.rows, inventory, peak, time.process_time() - cpu)


def write_large_csvs(
    folder: Path,
    *,
    seed: int,
    days: int | None = None,
    processes: int = 1,
    partition_days: int = PARTITION_DAYS,
    progress: Callable[[int, int], None] | None = None,
) -> BulkReport:
    """Write the large cluster of ``seed`` (``days`` of it) as import CSVs into ``folder``; report what was written.

    The partitions of the days (``LargeCluster.partitions``) are written by ``processes`` processes, each into files
    of its own; every label and type gets a header file, listed first. The files' contents do not depend on
    ``processes``.
    """
    started, cpu = time.perf_counter(), time.process_time()
    folder.mkdir(parents=True, exist_ok=True)
    report = BulkReport()
    key = (seed, days, partition_days)
    large = LargeCluster(seed, days=days, make=trusted, partition_days=partition_days)
    profiles = large.profiles()
    site_firm = {site.gln: site.firm_id for site in profiles.sites}
    count = len(large.partitions())
    parts: list[_Part] = []
    if processes <= 1 or count == 1:
        _CLUSTERS.clear()
        _CLUSTERS[key] = large
        for index in range(count):
            parts.append(_write_partition(folder, key, index))
            if progress is not None:
                progress(large.partitions()[index].stop, large.days)
    else:
        # spawn, not fork: the caller may hold a driver's threads and sockets
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(min(processes, count), mp_context=context) as pool:
            futures = [pool.submit(_write_partition, folder, key, index) for index in range(count)]
            for index, future in enumerate(futures):
                parts.append(future.result())
                if progress is not None:
                    progress(large.partitions()[index].stop, large.days)
    own = _Files(folder)
    try:
        _write_profiles(own, profiles)
        # HELD_AT is merged per lot and site, the last row written winning (record_inventory's SET)
        held: dict[tuple[str, str], InventoryRecord] = {}
        for part in parts:
            for record in part.inventory:
                place = (record.lot_id, record.site_gln)
                held.pop(place, None)
                held[place] = record
        own.write("HELD_AT", _inventory_rows(held, site_firm))
        for name in (*NODES, *RELATIONSHIPS):  # every label and type has a header file, so the import sees each
            own.writer(name)
    finally:
        own.close()
    for name in (*NODES, *RELATIONSHIPS):
        report.files[name] = [own.paths[name], *(part.paths[name] for part in parts if name in part.paths)]
        report.rows[name] = own.rows[name] + sum(part.rows.get(name, 0) for part in parts)
    report.seconds = time.perf_counter() - started
    # the parent's own (the directory, the profiles, the inventory) and each partition's outside the parent
    parent = time.process_time() - cpu
    report.cpu_seconds = parent + sum(part.cpu_seconds for part in parts) if processes > 1 and count > 1 else parent
    report.peak_rss_mb = max(
        [resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, *(part.peak_rss_mb for part in parts)]
    )
    return report


def iter_import_args(report: BulkReport) -> Iterator[str]:
    """The import tool's ``--nodes`` and ``--relationships`` arguments for the written files."""
    for label, paths in report.node_files().items():
        yield f"--nodes={label}={','.join(str(path) for path in paths)}"
    for rel_type, paths in report.relationship_files().items():
        yield f"--relationships={rel_type}={','.join(str(path) for path in paths)}"
