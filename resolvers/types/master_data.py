"""EPCIS master data of sites, sub-sites and firms, as captured in EPCIS documents' headers (profile data)."""

from __future__ import annotations

from datetime import datetime

import strawberry

from graph_schema.db import Row
from resolvers.types.values import native_datetime


@strawberry.type(description="A postal address from EPCIS master data (CBV master data attributes)")
class MasterDataAddress:
    street_address_one: str | None
    street_address_two: str | None
    street_address_three: str | None
    city: str | None
    state: str | None
    postal_code: str | None
    country_code: str | None = strawberry.field(description="ISO 3166-1 alpha-2")

    @classmethod
    def from_record(cls, row: Row) -> MasterDataAddress:
        return cls(
            street_address_one=row.get("streetAddressOne"),
            street_address_two=row.get("streetAddressTwo"),
            street_address_three=row.get("streetAddressThree"),
            city=row.get("city"),
            state=row.get("state"),
            postal_code=row.get("postalCode"),
            country_code=row.get("countryCode"),
        )


@strawberry.type(description="An EPCIS location: a site (extension 0) or a sub-site, with its master data")
class EpcisLocation:
    id: str = strawberry.field(description="The SGLN URN, e.g. urn:epc:id:sgln:8801234.00001.201")
    digital_link: str
    extension: str = strawberry.field(description="0 for the site itself; a sub-site's GLN extension otherwise")
    described: bool = strawberry.field(description="False for a location only named as another's child")
    name: str | None
    address: MasterDataAddress
    latitude: float | None
    longitude: float | None
    sub_site_type: str | None = strawberry.field(description="cbvmda:sst, a CBV sub-site type code such as 202")
    sub_site_attributes: list[str] = strawberry.field(description="cbvmda:ssa codes, such as 402 (temperature)")
    sub_site_detail: str | None = strawberry.field(description="cbvmda:ssd")
    children: list[str] = strawberry.field(description="SGLNs of the locations below it")
    parents: list[str]
    updated_at: datetime | None

    @classmethod
    def from_record(cls, row: Row) -> EpcisLocation:
        return cls(
            id=row["id"],
            digital_link=row["digitalLink"],
            extension=row["extension"],
            described=bool(row.get("described")),
            name=row.get("name"),
            address=MasterDataAddress.from_record(row),
            latitude=row.get("latitude"),
            longitude=row.get("longitude"),
            sub_site_type=row.get("sst"),
            sub_site_attributes=row["ssa"].split(",") if row.get("ssa") else [],
            sub_site_detail=row.get("ssd"),
            children=list(row.get("children") or []),
            parents=list(row.get("parents") or []),
            updated_at=native_datetime(row.get("updatedAt")),
        )


@strawberry.type(description="EPCIS party master data a firm captured about itself (a PGLN)")
class EpcisParty:
    id: str = strawberry.field(description="The PGLN URN")
    gln: str
    name: str | None
    address: MasterDataAddress
    updated_at: datetime | None

    @classmethod
    def from_record(cls, row: Row) -> EpcisParty:
        return cls(
            id=row["id"],
            gln=row["gln"],
            name=row.get("name"),
            address=MasterDataAddress.from_record(row),
            updated_at=native_datetime(row.get("updatedAt")),
        )
