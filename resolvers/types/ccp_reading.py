"""CcpReading: one point of a CCP's chart, a reading or (downsampled) a bucket of readings."""

from __future__ import annotations

from datetime import datetime

import strawberry

from graph_schema.haccp.readings import SeriesPoint, from_ms


@strawberry.type(
    description="A reading (count 1, no min or max), or, downsampled, a bucket of readings from its start: their "
    "mean as value, their min, max and count"
)
class CcpReading:
    at: datetime
    value: float
    min: float | None
    max: float | None
    count: int

    @classmethod
    def from_point(cls, point: SeriesPoint) -> CcpReading:
        return cls(at=from_ms(point.at_ms), value=point.value, min=point.min, max=point.max, count=point.count)
