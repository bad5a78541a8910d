"""Builders of small, valid clusters for tests: GS1 identifiers with correct check digits, unique per call."""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from graph_schema import lots, parties
from graph_schema.db import Graph
from graph_schema.identifiers import gs1_check_digit, lgtin_for
from graph_schema.records import (
    FirmRecord,
    LotQuantity,
    LotRecord,
    ProductRecord,
    ShipmentRecord,
    SiteRecord,
    TransformationRecord,
)

_counter = itertools.count(1)
T0 = datetime(2026, 9, 1, 9, 0, tzinfo=UTC)


def gln(n: int | None = None) -> str:
    """A GLN with a correct check digit (unique per call unless ``n`` is given)."""
    body = f"880{n if n is not None else next(_counter):09d}"
    return body + str(gs1_check_digit(body))


def gtin(n: int | None = None) -> str:
    """A GTIN-14 with prefix 8801234 and a correct check digit."""
    body = f"08801234{(n if n is not None else next(_counter)) % 100_000:05d}"
    return body + str(gs1_check_digit(body))


@dataclass
class TinyCluster:
    """What a test wrote: firms with one site each, products, and the lots it made, in order."""

    firms: list[str]
    site_of: dict[str, str]
    product: str
    lots: list[str] = field(default_factory=list)
    owner_of: dict[str, str] = field(default_factory=dict)
    inputs_of: dict[str, list[str]] = field(default_factory=dict)  # output lot -> input lots
    shipped_to: dict[str, set[str]] = field(default_factory=dict)  # lot -> firms it was shipped to
    shipments: list[tuple[str, str, str, str]] = field(default_factory=list)  # (id, lot, from firm, to firm)


async def register_firms(graph: Graph, firm_ids: list[str], *, roles: list[str] | None = None) -> dict[str, str]:
    """Firms with one plant each; returns firm id -> site GLN."""
    await parties.upsert_firms(
        graph,
        [FirmRecord(id=f, name=f"Firm {f}", roles=roles or ["PLANT"]) for f in firm_ids],
    )
    sites = {f: gln() for f in firm_ids}
    await parties.upsert_sites(
        graph,
        [SiteRecord(gln=g, firm_id=f, name=f"Plant of {f}", kind="PLANT") for f, g in sites.items()],
    )
    return sites


async def random_cluster(graph: Graph, rng: random.Random, *, firm_count: int, lot_count: int) -> TinyCluster:
    """A random lot DAG across firms, written through the API's write functions.

    Lot i may be made from earlier lots (so the graph is acyclic); an input owned by another firm is
    shipped to the maker first, as the write rules demand. Shared inputs and diamonds arise often.
    """
    firm_ids = [f"f{next(_counter)}" for _ in range(firm_count)]
    sites = await register_firms(graph, firm_ids)
    product = gtin()
    await parties.upsert_products(
        graph,
        [ProductRecord(gtin=product, owner_firm_id=firm_ids[0], name="Tofu", category="tofu", uom="kg")],
    )
    cluster = TinyCluster(firms=firm_ids, site_of=sites, product=product)
    for i in range(lot_count):
        owner = rng.choice(firm_ids)
        lot = lgtin_for(product, f"L{next(_counter)}")
        await lots.record_lots(
            graph,
            [
                LotRecord(
                    id=lot,
                    owner_firm_id=owner,
                    site_gln=sites[owner],
                    quantity=float(rng.randint(1, 50)),
                    uom="kg",
                    produced_at=T0 + timedelta(hours=i),
                )
            ],
        )
        cluster.lots.append(lot)
        cluster.owner_of[lot] = owner
        earlier = cluster.lots[:-1]
        if earlier and rng.random() < 0.75:
            inputs = rng.sample(earlier, k=min(len(earlier), rng.randint(1, 3)))
            for source in inputs:
                if cluster.owner_of[source] != owner and owner not in cluster.shipped_to.get(source, set()):
                    await ship(graph, cluster, lot=source, to_firm=owner, at=T0 + timedelta(hours=i))
            await lots.record_transformations(
                graph,
                [
                    TransformationRecord(
                        id=f"t{next(_counter)}",
                        firm_id=owner,
                        site_gln=sites[owner],
                        occurred_at=T0 + timedelta(hours=i),
                        inputs=[LotQuantity(lot_id=s, quantity=1.0, uom="kg") for s in inputs],
                        outputs=[LotQuantity(lot_id=lot, quantity=1.0, uom="kg")],
                    )
                ],
            )
            cluster.inputs_of[lot] = inputs
    return cluster


async def ship(graph: Graph, cluster: TinyCluster, *, lot: str, to_firm: str, at: datetime) -> str:
    """Ship a lot from its holder to another firm's site (the holder is its owner here)."""
    shipper = cluster.owner_of[lot]
    shipment_id = f"s{next(_counter)}"
    await lots.record_shipments(
        graph,
        [
            ShipmentRecord(
                id=shipment_id,
                from_gln=cluster.site_of[shipper],
                to_gln=cluster.site_of[to_firm],
                shipped_at=at,
                received_at=at + timedelta(hours=2),
                items=[LotQuantity(lot_id=lot, quantity=1.0, uom="kg")],
            )
        ],
        shipper_firm_id=shipper,
    )
    cluster.shipped_to.setdefault(lot, set()).add(to_firm)
    cluster.shipments.append((shipment_id, lot, shipper, to_firm))
    return shipment_id
