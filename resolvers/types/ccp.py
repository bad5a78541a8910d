"""Ccp: a HACCP critical control point at a plant, its limits, devices and (at DETAIL) its readings."""

from __future__ import annotations

import strawberry

from graph_schema.db import Row
from resolvers.context import Info
from resolvers.types.site import Site, load_site
from resolvers.types.values import SharingLevel


@strawberry.type(
    description="A critical control point: what is monitored at a plant, its critical limits and the devices that "
    "report it. Its records (readings, deviations) show at DETAIL only: to the plant's firm and to firms it shares "
    "CCP at DETAIL with; SUMMARY grantees and the agency see the definition with counts and compliance"
)
class Ccp:
    id: strawberry.ID
    code: str
    name: str
    hazard: str | None
    limit_low: float | None
    limit_high: float | None
    unit: str
    devices: list[str]
    monitoring_interval_seconds: int | None = strawberry.field(
        description="How often the CCP must be monitored; silence longer than this is a missed monitoring"
    )
    product_gtins: list[str] = strawberry.field(
        description="The products of the line the CCP guards; empty: every product made at the site"
    )
    level: SharingLevel = strawberry.field(description="DETAIL when its readings and deviations show to you")
    _site_gln: strawberry.Private[str]
    _firm_id: strawberry.Private[str]

    @classmethod
    def from_record(cls, row: Row) -> Ccp:
        return cls(
            id=strawberry.ID(row["id"]),
            code=row["code"],
            name=row["name"],
            hazard=row.get("hazard"),
            limit_low=row.get("limitLow"),
            limit_high=row.get("limitHigh"),
            unit=row["unit"],
            devices=list(row.get("devices") or []),
            monitoring_interval_seconds=row.get("monitoringIntervalSeconds"),
            product_gtins=list(row.get("productGtins") or []),
            level=SharingLevel.DETAIL if row.get("detail") else SharingLevel.SUMMARY,
            _site_gln=row["siteGln"],
            _firm_id=row["firmId"],
        )

    @strawberry.field(description="The plant where it is monitored")
    async def site(self, info: Info) -> Site | None:
        return await load_site(info, self._site_gln)
