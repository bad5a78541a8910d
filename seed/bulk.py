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
import resource
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any, Final

from graph_schema.identifiers import LGTIN_PREFIX, parse_lgtin
from graph_schema.records import InventoryRecord, LotRecord, Record, ShipmentRecord, TransformationRecord
from seed.cluster import Cluster
from seed.large import LargeCluster
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
    """What the generator wrote: rows per file, its seconds and the process's peak resident memory."""

    files: dict[str, Path] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    peak_rss_mb: float = 0.0

    def node_files(self) -> dict[str, Path]:
        """Label -> file, for the import tool's ``--nodes``."""
        return {name: path for name, path in self.files.items() if name in NODES}

    def relationship_files(self) -> dict[str, Path]:
        """Relationship type -> file, for ``--relationships``."""
        return {name: path for name, path in self.files.items() if name in RELATIONSHIPS}


class _Files:
    """One CSV writer per label and relationship type, opened with its header on first use."""

    def __init__(self, folder: Path, report: BulkReport) -> None:
        self.folder = folder
        self.report = report
        self._handles: dict[str, IO[str]] = {}
        self._writers: dict[str, Any] = {}

    def writer(self, name: str) -> Any:
        found = self._writers.get(name)
        if found is not None:
            return found
        path = self.folder / f"{name}.csv"
        handle = path.open("w", newline="", encoding="utf-8", buffering=1 << 20)
        writer = csv.writer(handle)
        writer.writerow(node_header(name) if name in NODES else relationship_header(name))
        self._handles[name], self._writers[name] = handle, writer
        self.report.files[name] = path
        self.report.rows[name] = 0
        return writer

    def write(self, name: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            self.writer(name).writerows(rows)
            self.report.rows[name] += len(rows)

    def close(self) -> None:
        for handle in self._handles.values():
            handle.close()


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


def write_large_csvs(
    folder: Path, *, seed: int, days: int | None = None, progress: Callable[[int, int], None] | None = None
) -> BulkReport:
    """Write the large cluster of ``seed`` (``days`` of it) as import CSVs into ``folder``; report what was written."""
    started = time.perf_counter()
    folder.mkdir(parents=True, exist_ok=True)
    report = BulkReport()
    files = _Files(folder, report)
    try:
        large = LargeCluster(seed, days=days, make=trusted)
        profiles = large.profiles()
        _write_profiles(files, profiles)
        site_firm = {site.gln: site.firm_id for site in profiles.sites}
        ids = _LotIds()
        # HELD_AT is merged per lot and site, the last row written winning (record_inventory's SET)
        held: dict[tuple[str, str], InventoryRecord] = {}
        for chunk, days_done in large.chunks(lots_per_chunk=LOTS_PER_CHUNK):
            _write_events(files, chunk.lots, chunk.transformations, chunk.shipments, site_firm, ids)
            for record in chunk.inventory:
                key = (record.lot_id, record.site_gln)
                held.pop(key, None)
                held[key] = record
            if progress is not None:
                progress(days_done, large.days)
        files.write("HELD_AT", _inventory_rows(held, site_firm))
        for name in (*NODES, *RELATIONSHIPS):  # every file present, even an empty one, so the import sees each
            files.writer(name)
    finally:
        files.close()
    report.seconds = time.perf_counter() - started
    report.peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return report


def iter_import_args(report: BulkReport) -> Iterator[str]:
    """The import tool's ``--nodes`` and ``--relationships`` arguments for the written files."""
    for label, path in report.node_files().items():
        yield f"--nodes={label}={path}"
    for rel_type, path in report.relationship_files().items():
        yield f"--relationships={rel_type}={path}"
