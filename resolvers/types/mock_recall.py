"""Mock recall report: an FSMA 204 drill's findings (which lots, how many firms, what is in stock) and its timings."""

from __future__ import annotations

from datetime import datetime

import strawberry

from graph_schema.db import Row
from graph_schema.recall_impact import MockRun
from resolvers.redaction import Redactor
from resolvers.types.recall_impact import AffectedLot, RecallImpact
from resolvers.types.values import LotHold, RecallClass


@strawberry.type(description="One timed step of a mock recall")
class MockRecallStep:
    name: str = strawberry.field(description="traceUpstream, traceDownstream, impactAggregation or exportReadiness")
    millis: float
    row_count: int


@strawberry.type(description="A critical tracking event that lacks key data elements the FSMA 204 spreadsheet needs")
class ExportProblem:
    event: str
    missing: list[str]


@strawberry.type(description="Whether the FSMA 204 spreadsheet of the lots you see could be produced complete")
class ExportReadiness:
    ready: bool
    event_count: int = strawberry.field(description="Critical tracking events of the lots you may see")
    incomplete_event_count: int
    problems: list[ExportProblem] = strawberry.field(description="The first incomplete events, by event")

    @classmethod
    def from_row(cls, row: Row) -> ExportReadiness:
        return cls(
            ready=int(row["incomplete"]) == 0,
            event_count=int(row["events"]),
            incomplete_event_count=int(row["incomplete"]),
            problems=[ExportProblem(event=p["event"], missing=list(p["missing"])) for p in row["problems"]],
        )


@strawberry.type(
    description="A mock recall: the steps of a recall run on demand, read-only. Nothing was held, stored or opened, "
    "so the figures are those of your own visibility: lots a declared recall would open to you count as hidden"
)
class MockRecallReport:
    mock: bool = strawberry.field(description="Always true: this report changed nothing")
    started_at: datetime
    reason: str
    recall_class: RecallClass
    hold: LotHold = strawberry.field(description="What a declared recall would do to the downstream lots")
    lot_ids: list[strawberry.ID] = strawberry.field(description="The lots named for the drill")
    affected_lot_count: int
    upstream_lot_count: int = strawberry.field(description="Lots upstream only (traced, not held)")
    downstream_lot_count: int = strawberry.field(description="The named lots and every lot downstream (would be held)")
    hidden_lot_count: int = strawberry.field(description="Affected lots hidden from you")
    firm_count: int = strawberry.field(description="Firms reached, among what you may see")
    total_millis: float
    steps: list[MockRecallStep]
    affected_lots: list[AffectedLot]
    impact: RecallImpact
    export_readiness: ExportReadiness

    @classmethod
    def from_run(
        cls,
        run: MockRun,
        *,
        started_at: datetime,
        reason: str,
        recall_class: RecallClass,
        hold: LotHold,
        redactor: Redactor,
    ) -> MockRecallReport:
        impact = RecallImpact.from_row(run.impact)
        downstream = sum(1 for row in run.affected if row["held"])
        return cls(
            mock=True,
            started_at=started_at,
            reason=reason,
            recall_class=recall_class,
            hold=hold,
            lot_ids=[strawberry.ID(i) for i in sorted(run.lot_ids)],
            affected_lot_count=len(run.affected),
            upstream_lot_count=len(run.affected) - downstream,
            downstream_lot_count=downstream,
            hidden_lot_count=impact.hidden_lot_count,
            firm_count=impact.firm_count,
            total_millis=round(run.total_millis, 2),
            steps=[MockRecallStep(name=s.name, millis=round(s.millis, 2), row_count=s.rows) for s in run.steps],
            affected_lots=[
                AffectedLot.from_row(row, hidden_ref=row["ref"], redactor=redactor, position=i)
                for i, row in enumerate(run.affected)
            ],
            impact=impact,
            export_readiness=ExportReadiness.from_row(run.readiness),
        )
