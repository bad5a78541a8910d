"""Fixtures of the integration tests: a small farm-to-plant chain with a rival firm."""

from __future__ import annotations

from datetime import timedelta

import pytest

from graph_schema import lots, parties
from graph_schema.db import Graph
from graph_schema.identifiers import lgtin_for
from graph_schema.records import LotQuantity, LotRecord, ProductRecord, ShipmentRecord, TransformationRecord
from tests.factories import T0, gtin, register_firms


class Chain:
    """farm -> plant: a soybean lot shipped to the plant and made into tofu; a rival firm with its own lot."""

    def __init__(self, sites: dict[str, str], soy_gtin: str, tofu_gtin: str) -> None:
        self.sites = sites
        self.soy_gtin = soy_gtin
        self.tofu_gtin = tofu_gtin
        self.soy = lgtin_for(soy_gtin, "SOY-0901")
        self.tofu = lgtin_for(tofu_gtin, "TOFU-0902")
        self.rival_tofu = lgtin_for(tofu_gtin, "RIVAL-0902")


@pytest.fixture
async def chain(graph: Graph) -> Chain:
    sites = await register_firms(graph, ["farm", "plant", "rival"])
    soy_gtin, tofu_gtin = gtin(), gtin()
    await parties.upsert_products(
        graph,
        [
            ProductRecord(
                gtin=soy_gtin, owner_firm_id="farm", name="Soybean", name_ko="대두", category="raw", uom="kg"
            ),
            ProductRecord(
                gtin=tofu_gtin, owner_firm_id="plant", name="Firm tofu", name_ko="부침두부", category="tofu", uom="kg"
            ),
        ],
    )
    c = Chain(sites, soy_gtin, tofu_gtin)
    await lots.record_lots(
        graph,
        [
            LotRecord(id=c.soy, owner_firm_id="farm", site_gln=sites["farm"], quantity=500.0, uom="kg", produced_at=T0),
            LotRecord(
                id=c.tofu,
                owner_firm_id="plant",
                site_gln=sites["plant"],
                quantity=300.0,
                uom="kg",
                produced_at=T0 + timedelta(days=1),
            ),
            LotRecord(
                id=c.rival_tofu,
                owner_firm_id="rival",
                site_gln=sites["rival"],
                quantity=90.0,
                uom="kg",
                produced_at=T0 + timedelta(days=1),
            ),
        ],
    )
    await lots.record_shipments(
        graph,
        [
            ShipmentRecord(
                id="DESADV-1",
                from_gln=sites["farm"],
                to_gln=sites["plant"],
                shipped_at=T0 + timedelta(hours=3),
                received_at=T0 + timedelta(hours=6),
                doc_type="DESADV",
                doc_number="D-1",
                items=[LotQuantity(lot_id=c.soy, quantity=500.0, uom="kg")],
            )
        ],
        shipper_firm_id="farm",
    )
    await lots.record_transformations(
        graph,
        [
            TransformationRecord(
                id="T-1",
                firm_id="plant",
                site_gln=sites["plant"],
                occurred_at=T0 + timedelta(days=1),
                inputs=[LotQuantity(lot_id=c.soy, quantity=150.0, uom="kg")],
                outputs=[LotQuantity(lot_id=c.tofu, quantity=300.0, uom="kg")],
            )
        ],
    )
    return c
