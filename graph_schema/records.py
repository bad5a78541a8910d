"""Validated records for every write: the GraphQL mutations, the seed and later the EPCIS capture use these.

Each record checks its identifiers (GLN, GTIN, LGTIN check digits) and values when it is built, so a batch
is validated in full before anything is written.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

from graph_schema.errors import HubError, InvalidIdentifier
from graph_schema.identifiers import gtin_of_lot, normalize_gtin, parse_lgtin, validate_gln
from graph_schema.model import (
    CertificationKind,
    FirmRole,
    LotStatus,
    SalesChannelKind,
    SiteKind,
)


def _gln(value: str) -> str:
    try:
        return validate_gln(value)
    except InvalidIdentifier as error:  # pydantic reports ValueErrors with the field's location
        raise ValueError(error.message) from None


def _gtin(value: str) -> str:
    try:
        return normalize_gtin(value)
    except InvalidIdentifier as error:
        raise ValueError(error.message) from None


def _lgtin(value: str) -> str:
    try:
        return parse_lgtin(value).uri
    except InvalidIdentifier as error:
        raise ValueError(error.message) from None


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("a time needs its UTC offset, e.g. 2026-11-28T09:00:00+09:00")
    return value


Gln = Annotated[str, AfterValidator(_gln)]
Gtin = Annotated[str, AfterValidator(_gtin)]
LotId = Annotated[str, AfterValidator(_lgtin)]
AwareDatetime = Annotated[datetime, AfterValidator(_aware)]
Name = Annotated[str, Field(min_length=1, max_length=200)]
Code = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:\-]*$")]
Quantity = Annotated[float, Field(gt=0, allow_inf_nan=False)]
Uom = Annotated[str, Field(min_length=1, max_length=10)]
Limit = Annotated[float, Field(allow_inf_nan=False)]
# a device (sensor or gateway channel) id as its gateway names it; the readings table keys on it
DeviceId = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/\-]*$")]
MonitoringInterval = Annotated[int, Field(ge=1, le=7 * 24 * 3600)]
MAX_CCP_DEVICES = 100


class Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True, str_strip_whitespace=True)

    def row(self) -> dict[str, Any]:
        """The record as Cypher parameters (camelCase keys as stored on the graph).

        Times travel as ISO-8601 strings that the write queries turn into DateTime with ``datetime()``: the
        driver's own encoding of a time zone-aware datetime costs about 50 µs each, which dominated bulk loads.
        """
        return self.model_dump(by_alias=True, mode="json")


class FirmRecord(Record):
    id: Code
    name: Name
    name_ko: Name | None = Field(default=None, alias="nameKo")
    roles: Annotated[list[FirmRole], Field(min_length=1)]


class SiteRecord(Record):
    gln: Gln
    firm_id: Code = Field(alias="firmId")
    name: Name
    kind: SiteKind
    region: Name | None = None


class CertificationRecord(Record):
    id: Code
    firm_id: Code = Field(alias="firmId")
    site_gln: Gln | None = Field(default=None, alias="siteGln")
    kind: CertificationKind
    number: Name
    valid_from: AwareDatetime = Field(alias="validFrom")
    valid_until: AwareDatetime = Field(alias="validUntil")

    @model_validator(mode="after")
    def _period(self) -> CertificationRecord:
        if self.valid_until <= self.valid_from:
            raise ValueError("validUntil must be after validFrom")
        return self


class ProductRecord(Record):
    gtin: Gtin
    owner_firm_id: Code = Field(alias="ownerFirmId")
    name: Name
    name_ko: Name | None = Field(default=None, alias="nameKo")
    category: Name
    uom: Uom


class LotRecord(Record):
    """A commissioned lot: one traceability lot of one product, made at a site of its owner."""

    id: LotId
    owner_firm_id: Code = Field(alias="ownerFirmId")
    site_gln: Gln = Field(alias="siteGln")
    quantity: Quantity
    uom: Uom
    produced_at: AwareDatetime = Field(alias="producedAt")
    expires_at: AwareDatetime | None = Field(default=None, alias="expiresAt")
    status: LotStatus = LotStatus.ACTIVE

    @property
    def product_gtin(self) -> str:
        return gtin_of_lot(self.id)

    @property
    def lot_number(self) -> str:
        return parse_lgtin(self.id).lot

    def row(self) -> dict[str, Any]:
        return {**super().row(), "productGtin": self.product_gtin, "lotNumber": self.lot_number}


class LotQuantity(Record):
    lot_id: LotId = Field(alias="lotId")
    quantity: Quantity
    uom: Uom


class TransformationRecord(Record):
    """Input lots consumed into output lots at one site, e.g. soybean and coagulant lots into a tofu lot."""

    id: Code
    firm_id: Code = Field(alias="firmId")
    site_gln: Gln = Field(alias="siteGln")
    occurred_at: AwareDatetime = Field(alias="occurredAt")
    inputs: Annotated[list[LotQuantity], Field(min_length=1)]
    outputs: Annotated[list[LotQuantity], Field(min_length=1)]

    @model_validator(mode="after")
    def _distinct(self) -> TransformationRecord:
        inputs = {item.lot_id for item in self.inputs}
        outputs = {item.lot_id for item in self.outputs}
        if len(inputs) != len(self.inputs) or len(outputs) != len(self.outputs):
            raise ValueError("a lot may appear only once among the inputs and once among the outputs")
        if inputs & outputs:
            raise ValueError(f"lot {sorted(inputs & outputs)[0]} cannot be both an input and an output")
        return self


class ShipmentRecord(Record):
    """Lots moved from one site to another, with its reference document (despatch advice, bill of lading)."""

    id: Code
    from_gln: Gln = Field(alias="fromGln")
    to_gln: Gln = Field(alias="toGln")
    shipped_at: AwareDatetime = Field(alias="shippedAt")
    received_at: AwareDatetime | None = Field(default=None, alias="receivedAt")
    doc_type: Name | None = Field(default=None, alias="docType")
    doc_number: Name | None = Field(default=None, alias="docNumber")
    items: Annotated[list[LotQuantity], Field(min_length=1)]

    @model_validator(mode="after")
    def _consistent(self) -> ShipmentRecord:
        if self.from_gln == self.to_gln:
            raise ValueError("a shipment must go from one site to another (fromGln equals toGln)")
        if self.received_at is not None and self.received_at < self.shipped_at:
            raise ValueError("receivedAt is before shippedAt")
        if len({item.lot_id for item in self.items}) != len(self.items):
            raise ValueError("a lot may appear only once in a shipment")
        return self


class InventoryRecord(Record):
    """Quantity of a lot held at a site, as of a time."""

    lot_id: LotId = Field(alias="lotId")
    site_gln: Gln = Field(alias="siteGln")
    quantity: Annotated[float, Field(ge=0, allow_inf_nan=False)]
    uom: Uom
    as_of: AwareDatetime = Field(alias="asOf")


class SalesChannelRecord(Record):
    id: Code
    operator_firm_id: Code = Field(alias="operatorFirmId")
    name: Name
    kind: SalesChannelKind
    store_glns: list[Gln] = Field(default_factory=list, alias="storeGlns")
    listed_gtins: list[Gtin] = Field(default_factory=list, alias="listedGtins")


class CcpRecord(Record):
    """A HACCP critical control point at a plant, e.g. CCP-1B heating or CCP-2P metal detection.

    A pass/fail check (a metal detector's test pieces) reports 0 or 1 against a limit like any other reading.
    """

    site_gln: Gln = Field(alias="siteGln")
    firm_id: Code | None = Field(default=None, alias="firmId")  # the site's firm; the write takes it from the site
    code: Code
    name: Name
    hazard: Name | None = None
    limit_low: Limit | None = Field(default=None, alias="limitLow")
    limit_high: Limit | None = Field(default=None, alias="limitHigh")
    unit: Uom
    monitoring_interval_seconds: MonitoringInterval | None = Field(default=None, alias="monitoringIntervalSeconds")
    devices: Annotated[list[DeviceId], Field(max_length=MAX_CCP_DEVICES)] = Field(default_factory=list)
    # the products of the line the CCP guards; empty: every product made at the site
    product_gtins: Annotated[list[Gtin], Field(max_length=1000)] = Field(default_factory=list, alias="productGtins")
    # last: registerCcp makes it from the site and code, whose own errors should be the ones reported
    id: Code

    @model_validator(mode="after")
    def _limits(self) -> CcpRecord:
        if self.limit_low is None and self.limit_high is None:
            raise ValueError("a CCP needs a critical limit: limitLow, limitHigh or both")
        if self.limit_low is not None and self.limit_high is not None and self.limit_low > self.limit_high:
            raise ValueError(f"limitLow {self.limit_low} lies above limitHigh {self.limit_high}")
        if len(set(self.devices)) != len(self.devices):
            raise ValueError("a device is listed twice")
        return self


R = TypeVar("R", bound=Record)


def parse_records(model: type[R], items: Iterable[dict[str, Any]], *, path: str = "input") -> list[R]:
    """Validate every item before anything is written; the first error names the item and field."""
    records: list[R] = []
    for index, item in enumerate(items):
        records.append(parse_record(model, item, path=f"{path}[{index}]"))
    return records


def parse_record(model: type[R], item: dict[str, Any], *, path: str = "input") -> R:
    """Validate one record, turning pydantic's report into a HubError naming the field."""
    try:
        return model.model_validate(item)
    except ValidationError as error:
        raise validation_error(error, path=path) from None


def validation_error(error: ValidationError, *, path: str) -> HubError:
    """Describe the first problem of a pydantic ValidationError as a BAD_USER_INPUT HubError."""
    first = error.errors(include_url=False)[0]
    location = ".".join(str(part) for part in first["loc"])
    field = f"{path}.{location}" if location else path
    message = str(first["msg"])
    # identifier errors raised inside validators arrive wrapped as "Value error, ..."
    message = message.removeprefix("Value error, ")
    return HubError(f"{field}: {message}", field=field)


def unique_ids(records: Sequence[Record], key: str, *, path: str) -> None:
    """Reject a batch that names the same natural key twice (an ambiguous write)."""
    seen: set[Any] = set()
    for index, record in enumerate(records):
        value = getattr(record, key)
        if value in seen:
            raise HubError(
                f"{path}[{index}]: {key} {value!r} appears more than once in this batch", field=f"{path}[{index}].{key}"
            )
        seen.add(value)
