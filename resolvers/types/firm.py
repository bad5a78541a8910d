"""Firm: a member of the cluster. Profiles and certifications are visible to every member."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from graph_schema.db import Row
from resolvers.context import Info
from resolvers.types.master_data import EpcisParty
from resolvers.types.node import Node
from resolvers.types.values import CertificationKind, FirmRole, LotSort, LotStatus, native_datetime

if TYPE_CHECKING:
    from resolvers.types.lot_connection import LotConnection
    from resolvers.types.site import Site


@strawberry.type(description="A certification held by a firm: GAP, HACCP or Smart HACCP")
class Certification:
    id: strawberry.ID
    kind: CertificationKind
    number: str
    valid_from: datetime
    valid_until: datetime
    _site_gln: strawberry.Private[str | None]

    @classmethod
    def from_record(cls, row: Row) -> Certification:
        return cls(
            id=strawberry.ID(row["id"]),
            kind=CertificationKind(row["kind"]),
            number=row["number"],
            valid_from=native_datetime(row["validFrom"]),  # type: ignore[arg-type]
            valid_until=native_datetime(row["validUntil"]),  # type: ignore[arg-type]
            _site_gln=row.get("siteGln"),
        )

    @strawberry.field(description="The site the certificate covers, when it covers one site")
    async def site(self, info: Info) -> Annotated[Site, strawberry.lazy("resolvers.types.site")] | None:
        from resolvers.types.site import load_site  # site.py imports this module

        return await load_site(info, self._site_gln)


@strawberry.type(description="A member firm of the cluster")
class Firm(Node):
    id: strawberry.ID
    name: str
    name_ko: str | None
    roles: list[FirmRole]

    @classmethod
    def from_record(cls, row: Row) -> Firm:
        return cls(
            id=strawberry.ID(row["id"]),
            name=row["name"],
            name_ko=row.get("nameKo"),
            roles=[FirmRole(role) for role in row["roles"]],
        )

    @strawberry.field(description="The firm's sites (farms, plants, warehouses, stores)")
    async def sites(self, info: Info) -> list[Annotated[Site, strawberry.lazy("resolvers.types.site")]]:
        from resolvers.types.site import Site

        return [Site.from_record(row) for row in await info.context.loaders.sites_of_firm.load(self.id)]

    @strawberry.field(
        description="The firm's lots you may see, by the rule lots follows (what the firm shares with yours, what "
        "was shipped to you, an open recall's lots), filtered as lots is; totalCount and quantities count only those"
    )
    async def lots(
        self,
        info: Info,
        product_gtin: str | None = None,
        site_gln: str | None = None,
        status: LotStatus | None = None,
        produced_from: datetime | None = None,
        produced_to: datetime | None = None,
        first: int = 20,
        after: str | None = None,
        sort: LotSort = LotSort.ID,
    ) -> Annotated[LotConnection, strawberry.lazy("resolvers.types.lot_connection")]:
        from resolvers.types.lot_connection import lot_connection  # imports lot.py, which imports this module
        from resolvers.types.lot_list import lot_filter

        where = lot_filter(
            product_gtin=product_gtin,
            site_gln=site_gln,
            lot_number=None,
            lot_number_prefix=None,
            status=status,
            owner_firm_id=str(self.id),
            produced_from=produced_from,
            produced_to=produced_to,
        )
        return await lot_connection(info, where=where, sort=sort, first=first, after=after)

    @strawberry.field(description="EPCIS party master data the firm captured about itself")
    async def epcis_parties(self, info: Info) -> list[EpcisParty]:
        return [EpcisParty.from_record(row) for row in await info.context.loaders.epcis_parties_of_firm.load(self.id)]

    @strawberry.field(description="GAP, HACCP and Smart HACCP certifications")
    async def certifications(self, info: Info) -> list[Certification]:
        rows = await info.context.loaders.certifications_of_firm.load(self.id)
        return [Certification.from_record(row) for row in rows]


async def load_firm(info: Info, firm_id: str | None) -> Firm | None:
    """A firm's profile through the request's loader (None for no id or an unknown firm)."""
    if firm_id is None:
        return None
    row = await info.context.loaders.firm.load(firm_id)
    return Firm.from_record(row) if row else None
