"""The order in which a cluster's records can be written so that every write function's checks pass.

Profiles go first (firms before the sites, products and channels that name them). Then all lots, since a
transformation's outputs must already be commissioned. Transformations and shipments are then written in
levels: a lot becomes usable by a firm when it owns it (level 0) or when a shipment to it has been written
(the shipment's level + 1), and each transformation or shipment sits at the level where all its lots are
usable by its firm. Within a level transformations go before shipments; inventory comes last.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Final

from graph_schema.records import ShipmentRecord, TransformationRecord
from seed.cluster import Batch, Cluster, chunked

PROFILE_KINDS: Final = ("firms", "sites", "certifications", "products", "channels", "ccps")


class PlanError(ValueError):
    """The cluster's events cannot be written in any order: a lot is used where it never arrived."""


def profile_batches(cluster: Cluster, *, size: int) -> Iterator[Batch]:
    """Firms, sites, certifications, products, sales channels and CCPs, in that order."""
    for kind in PROFILE_KINDS:
        yield from chunked(kind, cluster.records(kind), size)


def event_batches(
    cluster: Cluster, *, site_firms: Mapping[str, str], size: int, earlier_lots_known: bool = False
) -> Iterator[Batch]:
    """Lots, then transformations and shipments level by level, then inventory.

    With ``earlier_lots_known`` a lot that is not among the cluster's lots counts as written before by a
    previous batch of the same load, usable by whoever it was shipped to then.
    """
    yield from chunked("lots", cluster.lots, size)
    transformation_levels, shipment_levels = event_levels(
        cluster, site_firms=site_firms, earlier_lots_known=earlier_lots_known
    )
    top = max([*transformation_levels, *shipment_levels], default=-1)
    for level in range(top + 1):
        made = [t for t, at in zip(cluster.transformations, transformation_levels, strict=True) if at == level]
        yield from chunked("transformations", made, size)
        moved = [s for s, at in zip(cluster.shipments, shipment_levels, strict=True) if at == level]
        yield from chunked("shipments", moved, size)
    yield from chunked("inventory", cluster.inventory, size)


def event_levels(
    cluster: Cluster, *, site_firms: Mapping[str, str], earlier_lots_known: bool = False
) -> tuple[list[int], list[int]]:
    """The write level of each transformation and each shipment, replaying the events in time order."""
    owner = {lot.id: lot.owner_firm_id for lot in cluster.lots}
    usable: dict[tuple[str, str], int] = {}

    def level_of(lot_id: str, firm: str, what: str) -> int:
        if owner.get(lot_id) == firm:
            return 0
        if (lot_id, firm) in usable:
            return usable[(lot_id, firm)]
        if earlier_lots_known and lot_id not in owner:
            return 0
        raise PlanError(f"{what}: lot {lot_id} is neither owned by nor shipped to firm {firm!r} before")

    timeline: list[tuple[datetime, int, int, TransformationRecord | ShipmentRecord]] = []
    timeline += [(t.occurred_at, 0, i, t) for i, t in enumerate(cluster.transformations)]
    timeline += [(s.shipped_at, 1, i, s) for i, s in enumerate(cluster.shipments)]
    timeline.sort(key=lambda entry: entry[:3])
    transformation_levels = [0] * len(cluster.transformations)
    shipment_levels = [0] * len(cluster.shipments)
    for _, _, index, event in timeline:
        if isinstance(event, TransformationRecord):
            what = f"transformation {event.id}"
            transformation_levels[index] = max(level_of(i.lot_id, event.firm_id, what) for i in event.inputs)
            continue
        what = f"shipment {event.id}"
        shipper, receiver = site_firms.get(event.from_gln), site_firms.get(event.to_gln)
        if shipper is None or receiver is None:
            raise PlanError(f"{what}: a site is not registered")
        level = max(level_of(i.lot_id, shipper, what) for i in event.items)
        shipment_levels[index] = level
        for item in event.items:
            key = (item.lot_id, receiver)
            usable[key] = min(usable.get(key, level + 1), level + 1)
    return transformation_levels, shipment_levels
