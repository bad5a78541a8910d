"""Pydantic models of the GS1 EPCIS 2.0 JSON binding (the standard's JSON schema), written for this hub.

Types are as strict as the schema: a quantity is a JSON number (not the text "10"), times are RFC 3339
date-times with an offset, ``action`` is ADD, OBSERVE or DELETE. The models allow extra keys because the standard
allows user extensions almost everywhere; whether an extra key is a properly namespaced extension or an unknown
field is decided in ``graph_schema.epcis.validation``, which knows the document's namespaces. The rules that
couple fields (an ObjectEvent needs an epcList or a quantityList, ilmd only with ADD, ...) are checked there too,
on the raw event, so that one event's every problem is reported at once.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Final, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, Strict, TypeAdapter
from pydantic_core import PydanticCustomError

from graph_schema.epcis.vocabulary import is_absolute_uri

# RFC 3339 date-time (xsd:dateTimeStamp): the offset is mandatory, fractions of any length are allowed.
_DATE_TIME: Final = re.compile(r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(Z|z|[+\-]\d{2}:\d{2})")
TIME_ZONE_OFFSET: Final = re.compile(r"[+\-](?:(?:0\d|1[0-3]):[0-5]\d|14:00)")
_UOM: Final = re.compile(r"[A-Z0-9]{2,3}")
_HEX: Final = re.compile(r"[A-Fa-f0-9]+")


def describe_value(value: object) -> str:
    """How a JSON value reads in an error message: "the text '10'", "the number 10", "an object"."""
    if isinstance(value, str):
        return f"the text '{value}'"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if value is None:
        return "null"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def parse_date_time(value: object) -> datetime:
    """Parse an RFC 3339 date-time with its offset into an aware datetime, or raise a PydanticCustomError."""
    if not isinstance(value, str):
        raise PydanticCustomError(
            "date_time",
            "must be a date-time text such as '2026-07-22T06:45:00+02:00', got {got}",
            {"got": describe_value(value)},
        )
    match = _DATE_TIME.fullmatch(value)
    if match is None:
        raise PydanticCustomError(
            "date_time",
            "must be a date-time with a time zone such as '2026-07-22T06:45:00+02:00' or '2026-07-22T04:45:00Z', "
            "got '{value}'",
            {"value": value},
        )
    fraction = match[7] or ""
    # Python keeps microseconds: longer fractions are cut, which only matters below a microsecond.
    normalised = f"{value[:19]}{'.' + fraction[:6].ljust(6, '0') if fraction else ''}{match[8].upper()}"
    try:
        return datetime.fromisoformat(normalised.replace("Z", "+00:00"))
    except ValueError:
        raise PydanticCustomError("date_time", "is not a real date and time: '{value}'", {"value": value}) from None


def _uri(value: str) -> str:
    if not is_absolute_uri(value):
        raise PydanticCustomError(
            "uri", "must be a URI such as 'urn:epc:id:sgtin:...' or 'https://...', got '{value}'", {"value": value}
        )
    return value


def _offset(value: str) -> str:
    if TIME_ZONE_OFFSET.fullmatch(value) is None:
        raise PydanticCustomError(
            "time_zone_offset",
            "must be an offset from -14:00 to +14:00 such as '+09:00', got '{value}'",
            {"value": value},
        )
    return value


def _uom(value: str) -> str:
    if _UOM.fullmatch(value) is None:
        raise PydanticCustomError(
            "uom",
            "must be a UN/CEFACT unit code of 2-3 capital letters or digits such as 'KGM', got '{value}'",
            {"value": value},
        )
    return value


def _hex(value: str) -> str:
    if _HEX.fullmatch(value) is None:
        raise PydanticCustomError("hex", "must be hexadecimal digits, got '{value}'", {"value": value})
    return value


StrictText = Annotated[str, Strict()]
Uri = Annotated[str, Strict(), AfterValidator(_uri)]
DateTime = Annotated[datetime, BeforeValidator(parse_date_time)]
Number = Annotated[float, Strict()]  # a JSON number: strict floats take ints too, but neither text nor booleans
Offset = Annotated[str, Strict(), AfterValidator(_offset)]
Uom = Annotated[str, Strict(), AfterValidator(_uom)]
HexBinary = Annotated[str, Strict(), AfterValidator(_hex)]
Action = Literal["ADD", "OBSERVE", "DELETE"]


class _Element(BaseModel):
    # Extra keys are kept for the extension check in validation.py; they are not errors here.
    model_config = ConfigDict(extra="allow", strict=True)


class QuantityElement(_Element):
    epc_class: Uri = Field(alias="epcClass")
    quantity: Number | None = None
    uom: Uom | None = None


class BizTransactionElement(_Element):
    type: StrictText | None = None
    biz_transaction: Uri = Field(alias="bizTransaction")


class SourceElement(_Element):
    type: StrictText
    source: Uri


class DestinationElement(_Element):
    type: StrictText
    destination: Uri


class Location(_Element):
    """readPoint and bizLocation."""

    id: Uri


class ErrorDeclaration(_Element):
    declaration_time: DateTime = Field(alias="declarationTime")
    reason: StrictText | None = None
    corrective_event_ids: list[Uri] | None = Field(default=None, alias="correctiveEventIDs")


class PersistentDisposition(_Element):
    set: list[StrictText] | None = None
    unset: list[StrictText] | None = None


class SensorMetadata(_Element):
    time: DateTime | None = None
    device_id: Uri | None = Field(default=None, alias="deviceID")
    device_metadata: Uri | None = Field(default=None, alias="deviceMetadata")
    raw_data: Uri | None = Field(default=None, alias="rawData")
    start_time: DateTime | None = Field(default=None, alias="startTime")
    end_time: DateTime | None = Field(default=None, alias="endTime")
    data_processing_method: Uri | None = Field(default=None, alias="dataProcessingMethod")
    biz_rules: Uri | None = Field(default=None, alias="bizRules")


class SensorReport(_Element):
    type: StrictText | None = None
    exception: StrictText | None = None
    device_id: Uri | None = Field(default=None, alias="deviceID")
    device_metadata: Uri | None = Field(default=None, alias="deviceMetadata")
    raw_data: Uri | None = Field(default=None, alias="rawData")
    data_processing_method: Uri | None = Field(default=None, alias="dataProcessingMethod")
    biz_rules: Uri | None = Field(default=None, alias="bizRules")
    time: DateTime | None = None
    microorganism: Uri | None = None
    chemical_substance: Uri | None = Field(default=None, alias="chemicalSubstance")
    value: Number | None = None
    component: StrictText | None = None
    string_value: StrictText | None = Field(default=None, alias="stringValue")
    boolean_value: bool | None = Field(default=None, alias="booleanValue")
    hex_binary_value: HexBinary | None = Field(default=None, alias="hexBinaryValue")
    uri_value: Uri | None = Field(default=None, alias="uriValue")
    min_value: Number | None = Field(default=None, alias="minValue")
    max_value: Number | None = Field(default=None, alias="maxValue")
    mean_value: Number | None = Field(default=None, alias="meanValue")
    s_dev: Number | None = Field(default=None, alias="sDev")
    perc_rank: Number | None = Field(default=None, alias="percRank")
    perc_value: Number | None = Field(default=None, alias="percValue")
    uom: StrictText | None = None
    coordinate_reference_system: Uri | None = Field(default=None, alias="coordinateReferenceSystem")


class SensorElement(_Element):
    sensor_metadata: SensorMetadata | None = Field(default=None, alias="sensorMetadata")
    sensor_report: Annotated[list[SensorReport], Field(min_length=1)] = Field(alias="sensorReport")


class _Event(_Element):
    """The fields every event type has (EPCIS 2.0 section 7.4.1 and the schema's ``Event``)."""

    context: Any = Field(default=None, alias="@context")
    event_time: DateTime = Field(alias="eventTime")
    record_time: DateTime | None = Field(default=None, alias="recordTime")
    event_time_zone_offset: Offset = Field(alias="eventTimeZoneOffset")
    event_id: Uri | None = Field(default=None, alias="eventID")
    error_declaration: ErrorDeclaration | None = Field(default=None, alias="errorDeclaration")
    # A URI or a list of URIs; checked in validation.py, where one message can name both forms.
    certification_info: Any = Field(default=None, alias="certificationInfo")
    biz_step: StrictText | None = Field(default=None, alias="bizStep")
    disposition: StrictText | None = None
    persistent_disposition: PersistentDisposition | None = Field(default=None, alias="persistentDisposition")
    read_point: Location | None = Field(default=None, alias="readPoint")
    biz_location: Location | None = Field(default=None, alias="bizLocation")
    biz_transaction_list: list[BizTransactionElement] | None = Field(default=None, alias="bizTransactionList")
    source_list: list[SourceElement] | None = Field(default=None, alias="sourceList")
    destination_list: list[DestinationElement] | None = Field(default=None, alias="destinationList")
    sensor_element_list: list[SensorElement] | None = Field(default=None, alias="sensorElementList")


class ObjectEvent(_Event):
    type: Literal["ObjectEvent"]
    action: Action
    epc_list: list[Uri] | None = Field(default=None, alias="epcList")
    quantity_list: list[QuantityElement] | None = Field(default=None, alias="quantityList")
    ilmd: dict[str, Any] | None = None


class AggregationEvent(_Event):
    type: Literal["AggregationEvent"]
    action: Action
    parent_id: Uri | None = Field(default=None, alias="parentID")
    child_epcs: list[Uri] | None = Field(default=None, alias="childEPCs")
    child_quantity_list: list[QuantityElement] | None = Field(default=None, alias="childQuantityList")


class AssociationEvent(_Event):
    type: Literal["AssociationEvent"]
    action: Action
    parent_id: Uri = Field(alias="parentID")
    child_epcs: list[Uri] | None = Field(default=None, alias="childEPCs")
    child_quantity_list: list[QuantityElement] | None = Field(default=None, alias="childQuantityList")


class TransactionEvent(_Event):
    type: Literal["TransactionEvent"]
    action: Action
    biz_transaction_list: Annotated[list[BizTransactionElement], Field(min_length=1)] = Field(
        alias="bizTransactionList"
    )
    parent_id: Uri | None = Field(default=None, alias="parentID")
    epc_list: list[Uri] | None = Field(default=None, alias="epcList")
    quantity_list: list[QuantityElement] | None = Field(default=None, alias="quantityList")


class TransformationEvent(_Event):
    type: Literal["TransformationEvent"]
    input_epc_list: list[Uri] | None = Field(default=None, alias="inputEPCList")
    input_quantity_list: list[QuantityElement] | None = Field(default=None, alias="inputQuantityList")
    output_epc_list: list[Uri] | None = Field(default=None, alias="outputEPCList")
    output_quantity_list: list[QuantityElement] | None = Field(default=None, alias="outputQuantityList")
    transformation_id: Uri | None = Field(default=None, alias="transformationID")
    ilmd: dict[str, Any] | None = None


StandardEvent = ObjectEvent | AggregationEvent | AssociationEvent | TransactionEvent | TransformationEvent
EVENT_ADAPTER: Final[TypeAdapter[StandardEvent]] = TypeAdapter(Annotated[StandardEvent, Field(discriminator="type")])
EVENT_MODELS: Final[dict[str, type[_Event]]] = {
    "ObjectEvent": ObjectEvent,
    "AggregationEvent": AggregationEvent,
    "AssociationEvent": AssociationEvent,
    "TransactionEvent": TransactionEvent,
    "TransformationEvent": TransformationEvent,
}


def json_names(model: type[BaseModel]) -> frozenset[str]:
    """The JSON keys a model defines (its aliases)."""
    return frozenset(field.alias or name for name, field in model.model_fields.items())


class DocumentHeader(BaseModel):
    """The header of an EPCISDocument (everything but epcisBody), as the document reader collects it."""

    model_config = ConfigDict(extra="allow", strict=True)

    context: Any = Field(alias="@context")
    type: Literal["EPCISDocument"]
    schema_version: StrictText = Field(alias="schemaVersion")
    creation_date: DateTime = Field(alias="creationDate")
    id: Uri | None = None
    instance_identifier: StrictText | None = Field(default=None, alias="instanceIdentifier")
    sender: StrictText | None = None
    receiver: StrictText | None = None
    epcis_header: dict[str, Any] | None = Field(default=None, alias="epcisHeader")
