"""From a deviation to a recall: a ready proposal (the mock recall's drill of the lots made during it) and the
mutation that declares it. The impact is the recall workflow's own (graph_schema/recall_impact.py)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import strawberry

from auth.decisions import require_recall_coordinator
from graph_schema import recall_impact, recalls
from graph_schema.db import Row
from graph_schema.errors import HubError, NotFound
from graph_schema.haccp import deviations
from resolvers.context import Info
from resolvers.permissions import AUTHENTICATED
from resolvers.sharing import MAX_REASON
from resolvers.types.deviation import Deviation
from resolvers.types.mock_recall import MockRecallReport
from resolvers.types.recall import Recall
from resolvers.types.recall_impact import owners_counted
from resolvers.types.values import DeviationKind, LotHold, RecallClass


@strawberry.type(description="A recall ready to declare for the lots made during a deviation")
class RecallProposal:
    deviation: Deviation
    lot_ids: list[strawberry.ID] = strawberry.field(description="The deviation's lots you may see: the lots to recall")
    reason: str = strawberry.field(description="A suggested reason, naming the CCP and the window")
    recall_class: RecallClass = strawberry.field(
        description="A suggested class: I for a CCP out of its limits, II for missed monitoring"
    )
    drill: MockRecallReport = strawberry.field(
        description="The recall's trace and impact as a drill: affected lots downstream and upstream, quantities, "
        "firms, sites, channels and stock (nothing is held or opened)"
    )


def _suggested(row: Row) -> tuple[str, RecallClass]:
    end = row["windowEnd"] or "now"
    if row["kind"] == DeviationKind.OUT_OF_LIMITS.value:
        reason = (
            f"CCP {row['ccpId']} out of its critical limits from {row['windowStart']} to {end} "
            f"(worst reading {row['worstValue']}): lots made in that window are not known to be safe"
        )
        return reason, RecallClass.I
    reason = f"CCP {row['ccpId']} not monitored from {row['windowStart']} to {end}: lots made then are unverified"
    return reason, RecallClass.II


async def _deviation_lots(info: Info, deviation_id: str) -> tuple[Row, list[str]]:
    """The deviation (visible in detail to the caller) and its lots the caller may see, or NOT_FOUND."""
    _, viewer = info.context.require_principal()
    [row] = await deviations.deviations_by_id(info.context.graph, viewer, [deviation_id])
    if row is None:
        raise NotFound(f"deviation {deviation_id!r} is not recorded, or not visible to your firm", field="deviationId")
    lots = [lot for lot in await info.context.loaders.lot.load_many(sorted(row["lotIds"])) if lot is not None]
    if not lots:
        raise HubError(
            f"deviation {deviation_id!r} touched no lot that you may see: there is nothing to recall",
            field="deviationId",
        )
    return row, [lot["id"] for lot in lots]


@strawberry.type
class RecallProposalQuery:
    @strawberry.field(
        permission_classes=AUTHENTICATED,
        description="A ready recall proposal for a deviation (recall_coordinator): its lots, a suggested reason "
        "and class, and the drill of their trace and impact",
    )
    async def recall_proposal(self, info: Info, deviation_id: strawberry.ID) -> RecallProposal:
        principal, decision = info.context.require_decision()
        require_recall_coordinator(principal, what="prepare a recall")
        row, lot_ids = await _deviation_lots(info, str(deviation_id))
        reason, recall_class = _suggested(row)
        started_at = datetime.now(UTC)
        run = await recall_impact.mock_recall(
            info.context.graph, decision.viewer, lot_ids=lot_ids, overseer=decision.overseer
        )
        info.context.note_access(owners_counted(run.impact))
        info.context.note_access(a["lot"]["ownerFirmId"] for a in run.affected if a["lot"] is not None)
        drill = MockRecallReport.from_run(
            run,
            started_at=started_at,
            reason=reason,
            recall_class=recall_class,
            hold=LotHold.ON_HOLD,
            redactor=info.context.redactor,
        )
        return RecallProposal(
            deviation=Deviation.from_record(row),
            lot_ids=[strawberry.ID(i) for i in lot_ids],
            reason=reason,
            recall_class=recall_class,
            drill=drill,
        )


@strawberry.type
class RecallProposalMutation:
    @strawberry.mutation(
        permission_classes=AUTHENTICATED,
        description="Declare the recall a deviation proposes (recall_coordinator), as declareRecall would: the "
        "deviation's lots you may see, your reason and class or the suggested ones",
    )
    async def declare_recall_from_deviation(
        self,
        info: Info,
        deviation_id: strawberry.ID,
        reason: str | None = None,
        recall_class: RecallClass | None = None,
        hold: LotHold = LotHold.ON_HOLD,
    ) -> Recall:
        principal, decision = info.context.require_decision()
        require_recall_coordinator(principal, what="declare a recall")
        if reason is not None and not 1 <= len(reason.strip()) <= MAX_REASON:
            raise HubError(f"reason must be 1 to {MAX_REASON} characters", field="reason")
        row, lot_ids = await _deviation_lots(info, str(deviation_id))
        suggested_reason, suggested_class = _suggested(row)
        declared = await recalls.declare_recall(
            info.context.graph,
            decision.viewer,
            recall_id=f"recall-{uuid.uuid4()}",
            lot_ids=lot_ids,
            reason=reason.strip() if reason is not None else suggested_reason,
            recall_class=(recall_class or suggested_class).value,
            overseer=decision.overseer,
            now=datetime.now(UTC),
            hold=hold,
        )
        return Recall.from_record(declared)
