"""A Smart HACCP plant for the deviation tests: a heating CCP, readings written straight into the SQL store."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import insert
from sqlalchemy.engine import Engine

from graph_schema import lots, parties
from graph_schema.db import Graph
from graph_schema.haccp.readings import CcpReading, ReadingSpan, to_ms
from graph_schema.identifiers import lgtin_for
from graph_schema.records import CcpRecord, LotRecord, ProductRecord
from tests.factories import T0, gtin, register_firms

LOW, HIGH = 85.0, 100.0  # heating, °C
MINUTE = timedelta(minutes=1)


class Plant:
    """Firm ``plant`` with a heating CCP guarding its tofu (not its soy milk); firm ``rival`` with its own plant."""

    def __init__(self, graph: Graph, engine: Engine, sites: dict[str, str], tofu: str, milk: str) -> None:
        self.graph = graph
        self.engine = engine
        self.sites = sites
        self.site = sites["plant"]
        self.tofu = tofu
        self.milk = milk
        self.ccp = "CCP-PLANT-1B"
        self.device = "gw-1.probe-1"
        self._lots = 0

    def at(self, minutes: float) -> datetime:
        """T0 plus some minutes."""
        return T0 + minutes * MINUTE

    def readings(self, values: Sequence[tuple[float, float]], *, device: str | None = None) -> ReadingSpan:
        """Insert readings (minute, value) as a committed batch would, and return the batch's span."""
        rows = [
            {
                "ccp_id": self.ccp,
                "site_gln": self.site,
                "firm_id": "plant",
                "device_id": device or self.device,
                "at_ms": to_ms(self.at(minute)),
                "value": value,
                "unit": "°C",
                "limit_low": LOW,
                "limit_high": HIGH,
                "in_limits": LOW <= value <= HIGH,
                "recorded_at_ms": to_ms(self.at(minute)),
            }
            for minute, value in values
        ]
        with self.engine.begin() as conn:
            conn.execute(insert(CcpReading), rows)
        times = [to_ms(self.at(minute)) for minute, _ in values]
        return ReadingSpan(self.ccp, min(times), max(times), len(rows))

    async def lot(self, minutes: float, *, product: str | None = None, firm: str = "plant") -> str:
        """Record a lot produced at the plant at T0 + minutes (through recordLots' write)."""
        self._lots += 1
        lot_id = lgtin_for(product or self.tofu, f"L{self._lots:03d}-{firm}")
        await lots.record_lots(
            self.graph,
            [
                LotRecord(
                    id=lot_id,
                    owner_firm_id=firm,
                    site_gln=self.sites[firm],
                    quantity=10.0,
                    uom="kg",
                    produced_at=self.at(minutes),
                )
            ],
        )
        return lot_id


async def plant(graph: Graph, engine: Engine, *, interval_seconds: int | None = 60) -> Plant:
    """The plant, its products and its CCP (monitored every minute unless told otherwise)."""
    sites = await register_firms(graph, ["plant", "rival"])
    sites |= await register_firms(graph, ["agency"], roles=["AGENCY"])
    tofu, milk = gtin(), gtin()
    await parties.upsert_products(
        graph,
        [
            ProductRecord(gtin=tofu, owner_firm_id="plant", name="Tofu", category="tofu", uom="kg"),
            ProductRecord(gtin=milk, owner_firm_id="plant", name="Soy milk", category="drink", uom="kg"),
        ],
    )
    p = Plant(graph, engine, sites, tofu, milk)
    await parties.upsert_ccps(
        graph,
        [
            CcpRecord(
                id=p.ccp,
                site_gln=p.site,
                code="CCP-1B",
                name="Heating",
                hazard="Biological: vegetative pathogens",
                limit_low=LOW,
                limit_high=HIGH,
                unit="°C",
                monitoring_interval_seconds=interval_seconds,
                devices=[p.device],
                product_gtins=[tofu],
            )
        ],
    )
    return p
