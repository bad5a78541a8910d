"""Small conversions from graph values to GraphQL values, and the graph's enums exposed to GraphQL."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry

from graph_schema.lot_filters import LotSort
from graph_schema.model import (
    CertificationKind,
    DeviationKind,
    DeviationStatus,
    FirmRole,
    LotHold,
    LotStatus,
    RecallClass,
    RecallStatus,
    SalesChannelKind,
    SharingLevel,
    SharingScope,
    SiteKind,
    TraceDirection,
)

# strawberry.enum registers the graph's own enums in place, so GraphQL and Cypher share one definition
for _enum in (
    FirmRole,
    SiteKind,
    LotStatus,
    CertificationKind,
    TraceDirection,
    SharingScope,
    SharingLevel,
    RecallClass,
    RecallStatus,
    LotHold,
    SalesChannelKind,
    LotSort,
    DeviationKind,
    DeviationStatus,
):
    strawberry.enum(_enum)

__all__ = [
    "CertificationKind",
    "DeviationKind",
    "DeviationStatus",
    "FirmRole",
    "LotHold",
    "LotSort",
    "LotStatus",
    "RecallClass",
    "RecallStatus",
    "SalesChannelKind",
    "SharingLevel",
    "SharingScope",
    "SiteKind",
    "TraceDirection",
    "native_datetime",
]


def native_datetime(value: Any) -> datetime | None:
    """A Neo4j DateTime, or its ISO 8601 text from Cypher's toString() (or None), as a Python datetime."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value
    if isinstance(value, str):
        # a zoned DateTime's text ends with its zone id after the offset; the offset alone fixes the instant and
        # prints as to_native() would (microseconds, digits beyond them dropped alike)
        return datetime.fromisoformat(value.partition("[")[0])
    converted: datetime = value.to_native()
    return converted
