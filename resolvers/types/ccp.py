"""Ccp: a HACCP critical control point at a plant, its limits, devices and (at DETAIL) its readings."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Final

import anyio
import strawberry

from graph_schema.db import Row
from graph_schema.errors import HubError
from graph_schema.haccp.readings import series, to_ms
from resolvers.context import Info
from resolvers.types.ccp_compliance import CcpCompliance, load_compliance
from resolvers.types.ccp_reading import CcpReading
from resolvers.types.connection import Connection
from resolvers.types.deviation import Deviation, deviation_connection
from resolvers.types.site import Site, load_site
from resolvers.types.values import DeviationStatus, SharingLevel

MAX_POINTS: Final = 10_000


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

    @strawberry.field(
        description="Its readings measured from ``from`` (inclusive) to ``to``, at most maxPoints of them: past that, "
        "buckets of equal width (whole hours or minutes once a bucket spans one). DETAIL only: empty at SUMMARY"
    )
    async def readings(
        self,
        info: Info,
        from_: Annotated[datetime, strawberry.argument(name="from")],
        to: datetime,
        max_points: int | None = 500,
    ) -> list[CcpReading]:
        max_points = 500 if max_points is None else max_points
        if not 1 <= max_points <= MAX_POINTS:
            raise HubError(f"maxPoints must lie between 1 and {MAX_POINTS}", field="maxPoints")
        for name, moment in (("from", from_), ("to", to)):
            if moment.tzinfo is None:
                raise HubError(f"{name} needs its UTC offset", field=name)
        if to <= from_:
            raise HubError("to must come after from", field="to")
        if self.level is not SharingLevel.DETAIL:  # decided inside the CCP's Cypher read (CCP_IN_DETAIL)
            return []
        info.context.note_access([self._firm_id])
        points = await anyio.to_thread.run_sync(
            lambda: series(
                info.context.sql_engine, str(self.id), from_ms=to_ms(from_), to_ms=to_ms(to), max_points=max_points
            )
        )
        return [CcpReading.from_point(point) for point in points]

    @strawberry.field(description="The plant where it is monitored")
    async def site(self, info: Info) -> Site | None:
        return await load_site(info, self._site_gln)

    @strawberry.field(description="Its deviations (DETAIL only: none at SUMMARY), of one status")
    async def deviations(
        self, info: Info, status: DeviationStatus | None = None, first: int = 20, after: str | None = None
    ) -> Connection[Deviation]:
        return await deviation_connection(
            info, site_gln=None, ccp_id=str(self.id), status=status, first=first, after=after
        )

    @strawberry.field(
        description="Its compliance figures over [from, to): readings within limits, intervals monitored, deviations "
        "and the time to their corrective actions (DETAIL and SUMMARY)"
    )
    async def compliance(
        self,
        info: Info,
        from_: Annotated[datetime, strawberry.argument(name="from")],
        to: datetime,
    ) -> CcpCompliance | None:
        return await load_compliance(info, str(self.id), from_, to)
