"""The demo seed, checked without a database: deterministic, valid, and writable in the order the loader uses."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from functools import cache

import pytest

from graph_schema.identifiers import parse_lgtin
from graph_schema.model import FirmRole
from graph_schema.records import (
    LotQuantity,
    LotRecord,
    ProductRecord,
    Record,
    ShipmentRecord,
    TransformationRecord,
)
from seed.cluster import KINDS, Cluster
from seed.demo import build_demo
from seed.large import LargeCluster
from seed.plan import PlanError, event_batches, profile_batches


@cache
def demo(seed: int = 7) -> Cluster:
    return build_demo(seed)


def site_firms(cluster: Cluster) -> dict[str, str]:
    return {site.gln: site.firm_id for site in cluster.sites}


def test_same_seed_builds_identical_records() -> None:
    first, second = build_demo(7), build_demo(7)
    for kind in KINDS:
        assert first.records(kind) == second.records(kind), kind


def test_another_seed_builds_another_chain() -> None:
    assert build_demo(8).lots != demo().lots


def test_every_record_validates_again_from_its_row() -> None:
    for kind in KINDS:
        for record in demo().records(kind):
            assert type(record).model_validate(record.model_dump(by_alias=True)) == record


def test_sizes_are_those_of_a_small_believable_cluster() -> None:
    counts = demo().counts()
    assert 200 <= counts["lots"] <= 600
    assert counts["transformations"] > 100
    assert counts["shipments"] > counts["transformations"] / 2
    assert counts["inventory"] > 0
    roles = Counter(role for firm in demo().firms for role in firm.roles)
    assert roles[FirmRole.OEM] == 6
    assert roles[FirmRole.DISTRIBUTOR] == 3
    assert roles[FirmRole.FARM] >= 8


def test_operator_and_anchor_are_there_under_their_fixed_ids() -> None:
    firms = {firm.id: firm for firm in demo().firms}
    assert firms["agency"].roles == [FirmRole.AGENCY]
    assert firms["agency"].name_ko == "한국식품안전관리인증원"
    assert set(firms["anchor"].roles) == {FirmRole.ANCHOR, FirmRole.PLANT}


def test_identifiers_are_unique() -> None:
    cluster = demo()
    keys: dict[str, list[str]] = {
        "firms": [r.id for r in cluster.firms],
        "sites": [r.gln for r in cluster.sites],
        "certifications": [r.id for r in cluster.certifications],
        "products": [r.gtin for r in cluster.products],
        "channels": [r.id for r in cluster.channels],
        "ccps": [r.id for r in cluster.ccps],
        "lots": [r.id for r in cluster.lots],
        "transformations": [r.id for r in cluster.transformations],
        "shipments": [r.id for r in cluster.shipments],
        "inventory": [f"{r.lot_id}@{r.site_gln}" for r in cluster.inventory],
    }
    for kind, values in keys.items():
        assert len(values) == len(set(values)), kind


def test_gs1_numbers_are_korean_and_lots_name_their_products() -> None:
    cluster = demo()
    gtins = {product.gtin for product in cluster.products}
    assert all(gtin.startswith("0880") for gtin in gtins)
    assert all(site.gln.startswith("880") for site in cluster.sites)
    assert all(lot.product_gtin in gtins for lot in cluster.lots)
    assert all(len(parse_lgtin(lot.id).company_prefix) == 7 for lot in cluster.lots)


def test_every_lot_is_made_at_a_site_of_its_owner() -> None:
    firms = site_firms(demo())
    assert all(firms[lot.site_gln] == lot.owner_firm_id for lot in demo().lots)


def test_write_order_satisfies_every_write_check() -> None:
    """Replay the loader's batches and apply the rules the graph_schema write functions enforce."""
    cluster = demo()
    firms = site_firms(cluster)
    products: set[str] = set()
    lots: dict[str, LotRecord] = {}
    usable: set[tuple[str, str]] = set()  # (lot, firm) pairs written as shipped to the firm
    made: set[str] = set()

    def owned_or_received(item: LotQuantity, firm: str) -> bool:
        lot = lots[item.lot_id]
        return lot.owner_firm_id == firm or (item.lot_id, firm) in usable

    batches = [*profile_batches(cluster, size=50), *event_batches(cluster, site_firms=firms, size=50)]
    for batch in batches:
        records: list[Record] = list(batch.records)
        for record in records:
            if isinstance(record, ProductRecord):
                products.add(record.gtin)
            elif isinstance(record, LotRecord):
                assert record.product_gtin in products
                lots[record.id] = record
            elif isinstance(record, TransformationRecord):
                assert firms[record.site_gln] == record.firm_id
                assert all(owned_or_received(item, record.firm_id) for item in record.inputs), record.id
                for item in record.outputs:
                    assert lots[item.lot_id].owner_firm_id == record.firm_id
                    assert item.lot_id not in made
                    made.add(item.lot_id)
        for record in records:
            if isinstance(record, ShipmentRecord):
                shipper = firms[record.from_gln]
                assert all(owned_or_received(item, shipper) for item in record.items), record.id
        usable |= {(item.lot_id, firms[r.to_gln]) for r in records if isinstance(r, ShipmentRecord) for item in r.items}
    assert len(made) == len(cluster.transformations)


def test_lots_arrive_before_they_are_used_or_sent_on() -> None:
    cluster = demo()
    firms = site_firms(cluster)
    arrived: dict[tuple[str, str], datetime] = {}
    for shipment in cluster.shipments:
        assert shipment.received_at is not None
        for item in shipment.items:
            key = (item.lot_id, shipment.to_gln)
            arrived[key] = min(arrived.get(key, shipment.received_at), shipment.received_at)
    lots = {lot.id: lot for lot in cluster.lots}
    for transformation in cluster.transformations:
        for item in transformation.inputs:
            if lots[item.lot_id].site_gln != transformation.site_gln:
                assert arrived[(item.lot_id, transformation.site_gln)] <= transformation.occurred_at
        assert all(lots[o.lot_id].produced_at == transformation.occurred_at for o in transformation.outputs)
    for shipment in cluster.shipments:
        for item in shipment.items:
            lot = lots[item.lot_id]
            if lot.site_gln == shipment.from_gln:
                assert lot.produced_at <= shipment.shipped_at
            else:
                assert arrived[(item.lot_id, shipment.from_gln)] <= shipment.shipped_at, shipment.id
    assert all(firms[lot.site_gln] == lot.owner_firm_id for lot in cluster.lots)


def test_chain_has_fan_out_and_diamonds() -> None:
    cluster = demo()
    lots = {lot.id: lot for lot in cluster.lots}
    products = {product.gtin: product for product in cluster.products}
    soybean = {lot_id for lot_id, lot in lots.items() if products[lot.product_gtin].name.endswith("Soybean")}
    tofu_inputs = [
        [lots[i.lot_id] for i in t.inputs if i.lot_id in soybean]
        for t in cluster.transformations
        if products[lots[t.outputs[0].lot_id].product_gtin].category == "Tofu"
    ]
    uses = Counter(lot.id for inputs in tofu_inputs for lot in inputs)
    assert max(uses.values()) >= 3, "one soybean lot goes into several tofu lots"
    assert any(len({lot.owner_firm_id for lot in inputs}) >= 2 for inputs in tofu_inputs), "tofu of two farms"
    assert all(2 <= len(t.inputs) <= 5 for t in cluster.transformations)
    brand_owned = [lot for lot in cluster.lots if products[lot.product_gtin].owner_firm_id != lot.owner_firm_id]
    assert any(lot.owner_firm_id.endswith("tofu") for lot in brand_owned), "OEMs make the anchor's brand"


def test_a_lot_used_where_it_never_arrived_cannot_be_planned() -> None:
    cluster = demo()
    foreign = next(lot for lot in cluster.lots if lot.owner_firm_id != "anchor")
    anchor_lot = next(lot for lot in cluster.lots if lot.owner_firm_id == "anchor")
    bad = TransformationRecord(
        id="TF-BAD",
        firm_id="anchor",
        site_gln=anchor_lot.site_gln,
        occurred_at=anchor_lot.produced_at,
        inputs=[LotQuantity(lot_id=foreign.id, quantity=1, uom=foreign.uom)],
        outputs=[LotQuantity(lot_id=anchor_lot.id, quantity=1, uom=anchor_lot.uom)],
    )
    broken = Cluster(lots=cluster.lots, transformations=[bad], shipments=[])
    with pytest.raises(PlanError, match="neither owned by nor shipped"):
        list(event_batches(broken, site_firms=site_firms(cluster), size=100))


def test_large_chunks_are_deterministic_and_plannable_on_their_own() -> None:
    def run() -> list[Cluster]:
        return [chunk for chunk, _ in LargeCluster(3, days=3).chunks(lots_per_chunk=2_000)]

    first, second = run(), run()
    assert [c.lots for c in first] == [c.lots for c in second]
    large = LargeCluster(3, days=1)
    assert len(large.directory.firms) == 600
    firms = {site.gln: site.firm_id for site in large.directory.sites}
    for chunk in first:
        batches = list(event_batches(chunk, site_firms=firms, size=5_000, earlier_lots_known=True))
        assert sum(len(b.records) for b in batches if b.kind == "lots") == len(chunk.lots)
