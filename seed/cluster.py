"""A generated cluster in memory, the batches it is written in, and what a load reports."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Literal, get_args

from graph_schema.records import (
    CcpRecord,
    CertificationRecord,
    FirmRecord,
    InventoryRecord,
    LotRecord,
    ProductRecord,
    Record,
    SalesChannelRecord,
    ShipmentRecord,
    SiteRecord,
    TransformationRecord,
)

Kind = Literal[
    "firms",
    "sites",
    "certifications",
    "products",
    "channels",
    "ccps",
    "lots",
    "transformations",
    "shipments",
    "inventory",
]
KINDS: tuple[Kind, ...] = get_args(Kind)  # in write order


@dataclass
class Cluster:
    """Records of every kind, each list in an order the graph_schema write functions accept."""

    firms: list[FirmRecord] = field(default_factory=list)
    sites: list[SiteRecord] = field(default_factory=list)
    certifications: list[CertificationRecord] = field(default_factory=list)
    products: list[ProductRecord] = field(default_factory=list)
    channels: list[SalesChannelRecord] = field(default_factory=list)
    ccps: list[CcpRecord] = field(default_factory=list)
    lots: list[LotRecord] = field(default_factory=list)
    transformations: list[TransformationRecord] = field(default_factory=list)
    shipments: list[ShipmentRecord] = field(default_factory=list)
    inventory: list[InventoryRecord] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        """How many records of each kind."""
        return {kind: len(self.records(kind)) for kind in KINDS}

    def records(self, kind: Kind) -> Sequence[Record]:
        """The list of one kind."""
        records: Sequence[Record] = getattr(self, kind)
        return records


@dataclass(frozen=True)
class Batch:
    """Records of one kind for one write call."""

    kind: Kind
    records: Sequence[Record]


def chunked(kind: Kind, records: Sequence[Record], size: int) -> Iterator[Batch]:
    """Split one kind's records into batches of at most ``size``."""
    for start in range(0, len(records), size):
        yield Batch(kind, records[start : start + size])


@dataclass
class SeedReport:
    """Records written per kind, the write calls made, and where the time went."""

    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    calls: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    write_seconds: dict[str, float] = field(default_factory=lambda: dict.fromkeys(KINDS, 0.0))
    seconds: float = 0.0
