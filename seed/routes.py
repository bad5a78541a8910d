"""Lots on the move: stock held at sites, the day's routes, and shipments packed from them."""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any, Protocol, TypeVar, cast

from graph_schema.records import (
    InventoryRecord,
    LotQuantity,
    LotRecord,
    Record,
    ShipmentRecord,
    SiteRecord,
    TransformationRecord,
)

DESPATCH_ADVICE = "urn:epcglobal:cbv:btt:desadv"
BILL_OF_LADING = "urn:epcglobal:cbv:btt:bol"
MAX_ITEMS_PER_SHIPMENT = 40  # what fits on one truck in this simulation

R = TypeVar("R", bound=Record)


class Make(Protocol):
    """How the simulation builds its records: validated, or trusted as valid by construction."""

    def __call__(self, cls: type[R], /, **fields: Any) -> R: ...


def checked(cls: type[R], /, **fields: Any) -> R:
    """A record validated in full, as every write function receives it."""
    return cls(**fields)


def trusted(cls: type[R], /, **fields: Any) -> R:
    """The record's fields as plain attributes, not validated, for the bulk load's generator alone.

    The simulation makes every value valid (GS1 check digits, aware times, quantities) and gives every field, and
    the bulk generator only reads the fields back: validating ten million records again took most of its time, and
    even pydantic's ``model_construct`` cost six times a plain object. tests/integration/test_seed_bulk.py shows
    that the bulk load builds the same graph as the write functions given the validated records.
    """
    return cast(R, SimpleNamespace(**fields))


@dataclass
class Events:
    """What happened in a stretch of days, shipments in the order they left."""

    lots: list[LotRecord] = field(default_factory=list)
    transformations: list[TransformationRecord] = field(default_factory=list)
    shipments: list[ShipmentRecord] = field(default_factory=list)
    inventory: list[InventoryRecord] = field(default_factory=list)

    def extend(self, other: Events) -> None:
        """Append another stretch of events after these."""
        self.lots += other.lots
        self.transformations += other.transformations
        self.shipments += other.shipments
        self.inventory += other.inventory


@dataclass
class Stock:
    """A lot's quantity still available at a site (a plant's raw stock, a farm's open harvest)."""

    lot_id: str
    remaining: float
    uom: str
    day: int
    site: SiteRecord


@dataclass
class Leg:
    """Lots moving on one route in one day, before they are packed into shipments."""

    origin: SiteRecord
    destination: SiteRecord
    amounts: dict[str, float] = field(default_factory=dict)  # lot id -> quantity
    uoms: dict[str, str] = field(default_factory=dict)

    def add(self, lot_id: str, quantity: float, uom: str) -> None:
        """Put a lot on this route, adding to what of it is already on the way (a lot appears once)."""
        self.amounts[lot_id] = self.amounts.get(lot_id, 0.0) + quantity
        self.uoms[lot_id] = uom

    def items(self, make: Make = checked) -> list[LotQuantity]:
        """The route's lots as shipment items."""
        return [make(LotQuantity, lot_id=k, quantity=round(q, 1), uom=self.uoms[k]) for k, q in self.amounts.items()]


class Trucks:
    """Packs routes into shipments of at most MAX_ITEMS_PER_SHIPMENT lots, numbered across the whole run."""

    def __init__(self, rng: random.Random, make: Make = checked, *, first: int = 0) -> None:
        self.rng = rng
        self.make = make
        self._seq = first  # the number before the first shipment's

    def ship(
        self, legs: Iterable[Leg], leaving: datetime, transit_hours: tuple[int, int], doc_type: str, events: Events
    ) -> list[Leg]:
        """Pack each route's items into truckloads; returns what arrived, per route."""
        arrived: list[Leg] = []
        for leg in legs:
            all_items = leg.items(self.make)
            for start in range(0, len(all_items), MAX_ITEMS_PER_SHIPMENT):
                items = all_items[start : start + MAX_ITEMS_PER_SHIPMENT]
                self._seq += 1
                shipped = leaving + timedelta(minutes=self.rng.randrange(60))
                received = shipped + timedelta(hours=self.rng.randint(*transit_hours), minutes=self.rng.randrange(60))
                events.shipments.append(
                    self.make(
                        ShipmentRecord,
                        id=f"SH-{shipped:%Y%m%d}-{self._seq:07d}",
                        from_gln=leg.origin.gln,
                        to_gln=leg.destination.gln,
                        shipped_at=shipped,
                        received_at=received,
                        doc_type=doc_type,
                        doc_number=f"{'DA' if doc_type == DESPATCH_ADVICE else 'BL'}-{self._seq:07d}",
                        items=items,
                    )
                )
            arrived.append(leg)
        return arrived
