"""A farm-to-shelf chain written as EPCIS 2.0 documents, one per firm, as each firm's system would send them.

farm: commissions a soybean lot and ships it to the plant (despatch advice D-1)
plant: receives it, makes tofu from 200 kg of it (TransformationEvent), logs a heating CCP reading, ships the
       tofu to the distributor's DC (despatch advice D-2)
dc: receives the tofu and ships 120 kg of it to the store (D-3); store: receives it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from graph_schema import parties
from graph_schema.db import Graph
from graph_schema.identifiers import lgtin_for
from graph_schema.records import ProductRecord
from tests.factories import gtin, register_firms

CONTEXT = ["https://ref.gs1.org/standards/epcis/epcis-context.jsonld", {"hub": "https://hub.example.org/epcis/"}]


def sgln(gln: str) -> str:
    """The SGLN URN of a site GLN (company prefix of 7 digits, as the test factories make them)."""
    return f"urn:epc:id:sgln:{gln[:7]}.{gln[7:12]}.0"


def document(events: list[dict[str, Any]]) -> dict[str, Any]:
    """An EPCIS document of ``events``."""
    return {
        "@context": CONTEXT,
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2026-09-05T10:00:00Z",
        "epcisBody": {"eventList": events},
    }


def _event(kind: str, time: str, site: str, **fields: Any) -> dict[str, Any]:
    return {
        "type": kind,
        "eventTime": time,
        "eventTimeZoneOffset": "+09:00",
        "readPoint": {"id": sgln(site)},
        "bizLocation": {"id": sgln(site)},
        **fields,
    }


@dataclass
class EpcisChain:
    sites: dict[str, str]
    soy_gtin: str
    tofu_gtin: str

    @property
    def soy(self) -> str:
        return lgtin_for(self.soy_gtin, "SOY-0905")

    @property
    def tofu(self) -> str:
        return lgtin_for(self.tofu_gtin, "TOFU-0906")

    def _moved(self, lot: str, quantity: float, source: str, destination: str, document_number: str) -> dict[str, Any]:
        return {
            "quantityList": [{"epcClass": lot, "quantity": quantity, "uom": "KGM"}],
            "sourceList": [{"type": "location", "source": sgln(self.sites[source])}],
            "destinationList": [{"type": "location", "destination": sgln(self.sites[destination])}],
            "bizTransactionList": [
                {"type": "desadv", "bizTransaction": f"urn:epcglobal:cbv:bt:{self.sites[source]}:{document_number}"}
            ],
        }

    def farm_events(self) -> list[dict[str, Any]]:
        farm = self.sites["farm"]
        return [
            _event(
                "ObjectEvent",
                "2026-09-05T06:00:00+09:00",
                farm,
                action="ADD",
                bizStep="commissioning",
                disposition="active",
                quantityList=[{"epcClass": self.soy, "quantity": 500, "uom": "KGM"}],
                ilmd={"cbvmda:itemExpirationDate": "2027-03-01"},
            ),
            _event(
                "ObjectEvent",
                "2026-09-05T09:00:00+09:00",
                farm,
                action="OBSERVE",
                bizStep="shipping",
                disposition="in_transit",
                **self._moved(self.soy, 500, "farm", "plant", "D-1"),
            ),
        ]

    def plant_events(self) -> list[dict[str, Any]]:
        plant = self.sites["plant"]
        return [
            _event(
                "ObjectEvent",
                "2026-09-05T13:00:00+09:00",
                plant,
                action="OBSERVE",
                bizStep="receiving",
                disposition="in_progress",
                **self._moved(self.soy, 500, "farm", "plant", "D-1"),
            ),
            _event(
                "TransformationEvent",
                "2026-09-06T08:00:00+09:00",
                plant,
                bizStep="commissioning",
                disposition="active",
                inputQuantityList=[{"epcClass": self.soy, "quantity": 200, "uom": "KGM"}],
                outputQuantityList=[{"epcClass": self.tofu, "quantity": 300, "uom": "KGM"}],
                ilmd={"cbvmda:itemExpirationDate": "2026-09-20"},
            ),
            _event(
                "ObjectEvent",
                "2026-09-06T08:30:00+09:00",
                plant,
                action="OBSERVE",
                bizStep="inspecting",
                quantityList=[{"epcClass": self.tofu, "quantity": 300, "uom": "KGM"}],
                sensorElementList=[
                    {
                        "sensorMetadata": {
                            "time": "2026-09-06T08:30:00+09:00",
                            "deviceID": "urn:epc:id:giai:8800000.HEAT01",
                        },
                        "sensorReport": [{"type": "Temperature", "value": 92.5, "uom": "CEL"}],
                    }
                ],
            ),
            _event(
                "ObjectEvent",
                "2026-09-06T15:00:00+09:00",
                plant,
                action="OBSERVE",
                bizStep="shipping",
                disposition="in_transit",
                **self._moved(self.tofu, 300, "plant", "dc", "D-2"),
            ),
        ]

    def dc_events(self) -> list[dict[str, Any]]:
        dc = self.sites["dc"]
        return [
            _event(
                "ObjectEvent",
                "2026-09-06T20:00:00+09:00",
                dc,
                action="OBSERVE",
                bizStep="receiving",
                disposition="in_progress",
                **self._moved(self.tofu, 300, "plant", "dc", "D-2"),
            ),
            _event(
                "ObjectEvent",
                "2026-09-07T06:00:00+09:00",
                dc,
                action="OBSERVE",
                bizStep="shipping",
                disposition="in_transit",
                **self._moved(self.tofu, 120, "dc", "store", "D-3"),
            ),
        ]

    def store_events(self) -> list[dict[str, Any]]:
        store = self.sites["store"]
        return [
            _event(
                "ObjectEvent",
                "2026-09-07T09:00:00+09:00",
                store,
                action="OBSERVE",
                bizStep="receiving",
                disposition="sellable_not_accessible",
                **self._moved(self.tofu, 120, "dc", "store", "D-3"),
            ),
        ]


async def register_chain(graph: Graph) -> EpcisChain:
    """The firms, sites and products of the chain, registered as the GraphQL mutations would."""
    sites = await register_firms(graph, ["farm", "plant", "dc", "store", "rival"])
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
    return EpcisChain(sites, soy_gtin, tofu_gtin)
