"""mockRecall: a recall's steps run on demand as a drill, changing nothing; decided like declareRecall."""

from __future__ import annotations

from datetime import UTC, datetime

import strawberry

from auth.decisions import require_recall_coordinator
from graph_schema import recall_impact
from graph_schema.errors import HubError
from graph_schema.identifiers import parse_lgtin
from resolvers.context import Info
from resolvers.inputs import RecallInput
from resolvers.permissions import AUTHENTICATED
from resolvers.sharing import MAX_REASON
from resolvers.types.mock_recall import MockRecallReport
from resolvers.types.recall_impact import owners_counted


def recall_request(data: RecallInput) -> tuple[list[str], str]:
    """The recall's lot codes (normalised, distinct, sorted) and reason, checked as declareRecall checks them."""
    reason = data.reason.strip()
    if not reason or len(reason) > MAX_REASON:
        raise HubError(f"reason must be 1 to {MAX_REASON} characters", field="input.reason")
    if not data.lot_ids:
        raise HubError("name at least one lot to recall", field="input.lotIds")
    return sorted({parse_lgtin(str(i), field="input.lotIds").uri for i in data.lot_ids}), reason


@strawberry.type
class MockRecallMutation:
    @strawberry.mutation(
        permission_classes=AUTHENTICATED,
        description="Run a recall's steps as a drill (recall_coordinator): trace, impact and FSMA 204 export "
        "readiness, timed; nothing is held, stored or opened",
    )
    async def mock_recall(self, info: Info, input: RecallInput) -> MockRecallReport:
        principal, decision = info.context.require_decision()
        require_recall_coordinator(principal, what="run a mock recall")
        lot_ids, reason = recall_request(input)
        started_at = datetime.now(UTC)
        run = await recall_impact.mock_recall(
            info.context.graph, decision.viewer, lot_ids=lot_ids, overseer=decision.overseer
        )
        info.context.note_access(owners_counted(run.impact))
        info.context.note_access(row["lot"]["ownerFirmId"] for row in run.affected if row["lot"] is not None)
        return MockRecallReport.from_run(
            run,
            started_at=started_at,
            reason=reason,
            recall_class=input.recall_class,
            hold=input.hold,
            redactor=info.context.redactor,
        )
