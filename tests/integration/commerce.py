"""Builders for the inventory, sales-channel and bulk-order tests: firms with regional sites, products, stock."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from graph_schema import grants, inventory, lots, parties
from graph_schema.db import Graph
from graph_schema.identifiers import lgtin_for
from graph_schema.records import (
    CertificationRecord,
    FirmRecord,
    InventoryRecord,
    LotRecord,
    ProductRecord,
    SiteRecord,
)
from tests.factories import T0, gln, gtin
from tests.graphql_client import execute, principal


async def firm(graph: Graph, firm_id: str, *roles: str, sites: dict[str, str] | None = None) -> dict[str, str]:
    """A member firm with sites named by region (one plant in Seoul by default); returns region -> GLN."""
    await parties.upsert_firms(graph, [FirmRecord(id=firm_id, name=f"Firm {firm_id}", roles=list(roles or ["PLANT"]))])
    specs = sites or {"Seoul": "PLANT"}
    glns = {region: gln() for region in specs}
    await parties.upsert_sites(
        graph,
        [
            SiteRecord(gln=glns[region], firm_id=firm_id, name=f"{firm_id} {region}", kind=kind, region=region)
            for region, kind in specs.items()
        ],
    )
    return glns


async def product(graph: Graph, owner: str, *, name: str = "Firm tofu", category: str = "Tofu", uom: str = "EA") -> str:
    """A product registered by its brand owner; returns its GTIN."""
    code = gtin()
    await parties.upsert_products(
        graph, [ProductRecord(gtin=code, owner_firm_id=owner, name=name, category=category, uom=uom)]
    )
    return code


async def stocked_lot(
    graph: Graph, *, owner: str, site: str, product_gtin: str, quantity: float, held: float | None = None, **lot: Any
) -> str:
    """A lot made at ``site`` with ``held`` (default: all of it) counted in stock there; returns the lot id."""
    lot_id = lgtin_for(product_gtin, f"L{gln()[-6:]}")
    await lots.record_lots(
        graph,
        [
            LotRecord(
                id=lot_id,
                owner_firm_id=owner,
                site_gln=site,
                quantity=quantity,
                uom=lot.pop("uom", "EA"),
                produced_at=lot.pop("produced_at", T0),
                **lot,
            )
        ],
    )
    await inventory.record_stock(
        graph,
        [
            InventoryRecord(
                lot_id=lot_id, site_gln=site, quantity=quantity if held is None else held, uom="EA", as_of=T0
            )
        ],
        firm_id=owner,
    )
    return lot_id


async def certify(
    graph: Graph, firm_id: str, site: str, kind: str, *, valid_from: datetime, valid_until: datetime
) -> str:
    """A certificate of ``kind`` covering one site; returns its number."""
    number = f"{kind}-{firm_id}"
    await parties.upsert_certifications(
        graph,
        [
            CertificationRecord(
                id=f"cert-{firm_id}-{kind}-{site}",
                firm_id=firm_id,
                site_gln=site,
                kind=kind,
                number=number,
                valid_from=valid_from,
                valid_until=valid_until,
            )
        ],
    )
    return number


GRANT = """mutation($in: SharingGrantInput!) { grantSharing(input: $in) { id } }"""


async def share(graph: Graph, owner: str, scope: str, level: str, **grantee: Any) -> str:
    """The owner's admin opens ``scope`` at ``level`` (toFirmId=..., toRole=... or toCluster=True)."""
    result = await execute(graph, GRANT, principal(owner), {"in": {"scope": scope, "level": level, **grantee}})
    assert result.errors is None, result.errors
    assert result.data is not None
    grant_id: str = result.data["grantSharing"]["id"]
    return grant_id


async def grant_count(graph: Graph, owner: str) -> int:
    return len(await grants.grants_given(graph, firm_id=owner))


def days_from_now(now: datetime, days: float) -> datetime:
    return now + timedelta(days=days)
