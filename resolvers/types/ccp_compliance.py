"""CcpCompliance: one CCP's compliance figures over a time range (counts and rates, no records)."""

from __future__ import annotations

from datetime import datetime, timedelta

import strawberry

from graph_schema.errors import HubError
from graph_schema.haccp import compliance
from graph_schema.haccp.compliance import Compliance
from resolvers.context import Info

MAX_RANGE = timedelta(days=400)


@strawberry.type(
    description="A CCP's figures over a time range: readings within limits, monitoring intervals covered, "
    "deviations and the time to their first corrective action; shown to SUMMARY grantees and the agency too"
)
class CcpCompliance:
    ccp_id: strawberry.ID
    start: datetime = strawberry.field(name="from")
    end: datetime = strawberry.field(name="to")
    reading_count: int
    in_limit_count: int
    interval_count: int | None = strawberry.field(
        description="Monitoring intervals in the range (null when the CCP has no monitoring interval)"
    )
    covered_interval_count: int | None = strawberry.field(description="Intervals with at least one reading")
    deviation_count: int = strawberry.field(description="Deviations whose window overlaps the range")
    out_of_limits_count: int
    missed_monitoring_count: int
    open_deviation_count: int
    corrected_count: int = strawberry.field(description="Deviations with at least one corrective action")
    mean_seconds_to_corrective_action: float | None = strawberry.field(
        description="From a deviation's opening to its first corrective action, on average"
    )
    max_seconds_to_corrective_action: float | None

    @strawberry.field(description="Share of the readings within the critical limits (null without readings)")
    def reading_compliance_rate(self) -> float | None:
        return self.in_limit_count / self.reading_count if self.reading_count else None

    @strawberry.field(description="Share of the monitoring intervals with at least one reading")
    def monitoring_coverage_rate(self) -> float | None:
        if not self.interval_count or self.covered_interval_count is None:
            return None
        return self.covered_interval_count / self.interval_count

    @classmethod
    def from_figures(cls, figures: Compliance, *, start: datetime, end: datetime) -> CcpCompliance:
        return cls(
            ccp_id=strawberry.ID(figures.ccp_id),
            start=start,
            end=end,
            reading_count=figures.reading_count,
            in_limit_count=figures.in_limit_count,
            interval_count=figures.interval_count,
            covered_interval_count=figures.covered_interval_count,
            deviation_count=figures.deviation_count,
            out_of_limits_count=figures.out_of_limits_count,
            missed_monitoring_count=figures.missed_monitoring_count,
            open_deviation_count=figures.open_deviation_count,
            corrected_count=figures.corrected_count,
            mean_seconds_to_corrective_action=figures.mean_seconds_to_action,
            max_seconds_to_corrective_action=figures.max_seconds_to_action,
        )


def check_range(start: datetime, end: datetime) -> None:
    """A time range of figures: both ends with their UTC offset, ``to`` after ``from``, at most MAX_RANGE."""
    if start.tzinfo is None:
        raise HubError("from: a time needs its UTC offset", field="from")
    if end.tzinfo is None:
        raise HubError("to: a time needs its UTC offset", field="to")
    if end <= start:
        raise HubError("to must be after from", field="to")
    if end - start > MAX_RANGE:
        raise HubError(f"a range spans at most {MAX_RANGE.days} days", field="to")


async def load_compliance(info: Info, ccp_id: str, start: datetime, end: datetime) -> CcpCompliance | None:
    """The CCP's figures over ``start .. end`` when the caller may see them (CCP_IN_SUMMARY), else None."""
    _, viewer = info.context.require_principal()
    check_range(start, end)
    figures = await compliance.ccp_compliance(
        info.context.graph, info.context.sql_engine, viewer, ccp_id=ccp_id, start=start, end=end
    )
    return CcpCompliance.from_figures(figures, start=start, end=end) if figures is not None else None
