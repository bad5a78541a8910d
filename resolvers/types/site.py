"""Site: a farm field, plant, warehouse, distribution centre or store, identified by its GLN."""

from __future__ import annotations

import strawberry

from graph_schema.db import Row
from resolvers.context import Info
from resolvers.types.firm import Firm, load_firm
from resolvers.types.master_data import EpcisLocation
from resolvers.types.node import SITE_ID_PREFIX, Node
from resolvers.types.values import SiteKind


@strawberry.type(description="A location identified by a GS1 GLN")
class Site(Node):
    gln: str
    id: strawberry.ID = strawberry.field(default=strawberry.ID(""), description="Node id: site/<GLN>")
    name: str
    kind: SiteKind
    region: str | None
    _firm_id: strawberry.Private[str]

    @classmethod
    def from_record(cls, row: Row) -> Site:
        return cls(
            gln=row["gln"],
            id=strawberry.ID(SITE_ID_PREFIX + row["gln"]),
            name=row["name"],
            kind=SiteKind(row["kind"]),
            region=row.get("region"),
            _firm_id=row["firmId"],
        )

    @strawberry.field(description="EPCIS master data: the site itself first (if described), then its sub-sites")
    async def epcis_locations(self, info: Info) -> list[EpcisLocation]:
        return [
            EpcisLocation.from_record(row) for row in await info.context.loaders.epcis_locations_of_site.load(self.gln)
        ]

    @strawberry.field(description="The firm that operates the site")
    async def firm(self, info: Info) -> Firm | None:
        return await load_firm(info, self._firm_id)


async def load_site(info: Info, gln: str | None) -> Site | None:
    """A site's profile through the request's loader (None for no GLN or an unknown site)."""
    if gln is None:
        return None
    row = await info.context.loaders.site.load(gln)
    return Site.from_record(row) if row else None
