"""Answering a recall: acknowledgeRecall and reportRecallDisposition, by the firms holding its lots."""

from __future__ import annotations

import math
import uuid
from datetime import UTC, datetime

import strawberry

from auth.decisions import require_recall_answerer
from graph_schema import recall_answers
from graph_schema.errors import HubError
from graph_schema.identifiers import parse_lgtin, validate_gln
from graph_schema.model import RecallDispositionKind
from resolvers.context import Info
from resolvers.permissions import AUTHENTICATED
from resolvers.recall_activity import RecallActivityKind, publish_recall_answer
from resolvers.types.recall import Recall
from resolvers.types.recall_answer import RecallDispositionReport

MAX_NOTE = 1000
MAX_QUANTITY = 1e12


def _note(note: str | None, *, field: str) -> str | None:
    if note is None:
        return None
    note = note.strip()
    if len(note) > MAX_NOTE:
        raise HubError(f"note must be at most {MAX_NOTE} characters", field=field)
    return note or None


@strawberry.input(
    description="A quantity of a recalled lot your firm removed, destroyed or returned at one of its sites"
)
class RecallDispositionInput:
    recall_id: strawberry.ID
    lot_id: strawberry.ID
    site_gln: str
    quantity: float = strawberry.field(description="In the lot's unit of measure; more than 0")
    disposition: RecallDispositionKind
    note: str | None = None


@strawberry.type
class RecallAnswerMutation:
    @strawberry.mutation(
        permission_classes=AUTHENTICATED,
        description="Confirm that your firm, holding or having received lots the recall pulls, acted on it "
        "(admin, editor or recall_coordinator); the first acknowledgement stands",
    )
    async def acknowledge_recall(self, info: Info, id: strawberry.ID, note: str | None = None) -> Recall:
        principal, decision = info.context.require_decision()
        require_recall_answerer(principal, what="acknowledge a recall")
        row = await recall_answers.acknowledge_recall(
            info.context.graph,
            decision.viewer,
            recall_id=str(id),
            note=_note(note, field="note"),
            subject=principal.subject,
            overseer=decision.overseer,
            now=datetime.now(UTC),
        )
        await publish_recall_answer(
            info.context.sql_engine,
            recall_id=str(id),
            firm_id=principal.firm_id,
            answer=RecallActivityKind.ACKNOWLEDGED,
        )
        return Recall.from_record(row)

    @strawberry.mutation(
        permission_classes=AUTHENTICATED,
        description="Report a quantity of a recalled lot removed, destroyed or returned at one of your sites; "
        "reports add up and cannot exceed what your firm holds of the lot",
    )
    async def report_recall_disposition(self, info: Info, input: RecallDispositionInput) -> RecallDispositionReport:
        principal, decision = info.context.require_decision()
        require_recall_answerer(principal, what="report a recall disposition")
        if not math.isfinite(input.quantity) or not 0 < input.quantity <= MAX_QUANTITY:
            raise HubError(f"quantity must be more than 0 and at most {MAX_QUANTITY:g}", field="input.quantity")
        row = await recall_answers.report_disposition(
            info.context.graph,
            decision.viewer,
            disposition_id=f"disposition-{uuid.uuid4()}",
            recall_id=str(input.recall_id),
            lot_id=parse_lgtin(str(input.lot_id), field="input.lotId").uri,
            site_gln=validate_gln(input.site_gln, field="input.siteGln"),
            quantity=float(input.quantity),
            disposition=RecallDispositionKind(input.disposition).value,
            note=_note(input.note, field="input.note"),
            subject=principal.subject,
            overseer=decision.overseer,
            now=datetime.now(UTC),
        )
        await publish_recall_answer(
            info.context.sql_engine,
            recall_id=str(input.recall_id),
            firm_id=principal.firm_id,
            answer=RecallActivityKind.DISPOSITION_REPORTED,
        )
        return RecallDispositionReport.from_row(row)
