"""Recall: declared by a coordinator for lots; while open, its trace is open to the coordinator and the agency."""

from __future__ import annotations

from datetime import datetime

import strawberry

from auth.decisions import Decision, decide_for_request
from graph_schema import mass_balance, recall_answers, recall_impact, recall_notices
from graph_schema.db import Row
from graph_schema.errors import HubError
from resolvers.context import Info
from resolvers.exports import ExportLanguage
from resolvers.recall_report import report_link
from resolvers.types.connection import Connection, build_connection, check_page_size, decode_cursor
from resolvers.types.firm import Firm, load_firm
from resolvers.types.lot import Lot
from resolvers.types.mass_balance import MassBalance
from resolvers.types.node import Node
from resolvers.types.recall_answer import RecallAcknowledgement, RecallConsignee, RecallEffectiveness
from resolvers.types.recall_impact import AffectedLot, RecallImpact, owners_counted
from resolvers.types.values import LotHold, RecallClass, RecallStatus, TraceDirection, native_datetime

AFFECTED_CURSOR = "affected"


@strawberry.type(description="A recall of lots, with its status")
class Recall(Node):
    id: strawberry.ID
    reason: str
    recall_class: RecallClass
    status: RecallStatus
    declared_at: datetime | None
    closed_at: datetime | None
    hold: LotHold | None = strawberry.field(
        description="What the recall did to the recalled lots and their downstream (null for recalls that held nothing)"
    )
    lot_ids: list[strawberry.ID] = strawberry.field(description="The recalled lots")
    affected_lot_count: int = strawberry.field(description="Lots upstream and downstream of the recalled lots")
    held_lot_count: int = strawberry.field(
        description="Affected lots the recall held: the recalled lots and all downstream"
    )
    _coordinator_firm_id: strawberry.Private[str]
    _decision: strawberry.Private[Decision | None] = None

    @classmethod
    def from_record(cls, row: Row) -> Recall:
        return cls(
            id=strawberry.ID(row["id"]),
            reason=row["reason"],
            recall_class=RecallClass(row["recallClass"]),
            status=RecallStatus(row["status"]),
            declared_at=native_datetime(row.get("declaredAt")),
            closed_at=native_datetime(row.get("closedAt")),
            hold=LotHold(row["hold"]) if row.get("hold") else None,
            lot_ids=[strawberry.ID(i) for i in sorted(row["lotIds"])],
            affected_lot_count=int(row["affectedCount"]),
            held_lot_count=int(row.get("heldCount") or 0),
            _coordinator_firm_id=row["coordinatorFirmId"],
        )

    async def _current(self, info: Info) -> Decision:
        """The caller's decision, taken again when this open recall is newer than the request's decision.

        A recall declared by this very request (declareRecall's answer) is not in the decision taken when the
        request began; the decision is auth's to take, so it is taken again rather than patched here.
        """
        principal, decision = info.context.require_decision()
        if self.status is RecallStatus.OPEN and str(self.id) not in decision.viewer.recall_ids:
            if self._decision is None:
                self._decision = await decide_for_request(info.context.graph, principal)
            return self._decision
        return decision

    @strawberry.field(description="The recalled lots you may see in detail")
    async def lots(self, info: Info) -> list[Lot]:
        rows = await info.context.loaders.lot.load_many([str(i) for i in self.lot_ids])
        visible = [row for row in rows if row is not None]
        info.context.note_access(row["ownerFirmId"] for row in visible)
        return [Lot.from_record(row) for row in visible]

    @strawberry.field(description="The firm that declared the recall")
    async def coordinator(self, info: Info) -> Firm | None:
        return await load_firm(info, self._coordinator_firm_id)

    @strawberry.field(
        description="Quantities per product, firms, sites, sales channels and stock of the affected lots you may see; "
        "direction DOWNSTREAM narrows it to the held lots (what the recall pulls), UPSTREAM to the ingredients"
    )
    async def impact(self, info: Info, direction: TraceDirection | None = None) -> RecallImpact | None:
        decision = await self._current(info)
        row = await recall_impact.recall_impact(
            info.context.graph,
            decision.viewer,
            recall_id=str(self.id),
            overseer=decision.overseer,
            direction=direction.value if direction is not None else None,
        )
        if row is None:
            return None
        info.context.note_access(owners_counted(row))
        return RecallImpact.from_row(row)

    @strawberry.field(
        description="The lots the recall reaches, held (downstream) first and nearest first; lots you may not see "
        "come back redacted"
    )
    async def affected_lots(
        self, info: Info, direction: TraceDirection | None = None, first: int = 20, after: str | None = None
    ) -> Connection[AffectedLot]:
        check_page_size(first, info.context.max_page_size)
        decision = await self._current(info)
        cursor = decode_cursor(AFFECTED_CURSOR, after)
        offset = _position(cursor) + 1 if cursor is not None else 0
        graph = info.context.graph
        recall_id = str(self.id)
        direction_value = direction.value if direction is not None else None
        rows = await recall_impact.recall_affected_lots(
            graph,
            decision.viewer,
            recall_id=recall_id,
            overseer=decision.overseer,
            direction=direction_value,
            offset=offset,
            limit=first + 1,
        )
        info.context.note_access(row["lot"]["ownerFirmId"] for row in rows[:first] if row["lot"] is not None)
        nodes = [
            AffectedLot.from_row(row, hidden_ref=row["hiddenRef"], redactor=info.context.redactor, position=offset + i)
            for i, row in enumerate(rows)
        ]
        return build_connection(
            nodes,
            kind=AFFECTED_CURSOR,
            key=lambda node: str(node._position),
            first=first,
            after=after,
            count=lambda: recall_impact.count_recall_affected_lots(
                graph, decision.viewer, recall_id=recall_id, overseer=decision.overseer, direction=direction_value
            ),
        )

    def _answers_in_full(self, info: Info) -> bool:
        """A recall's answers (who acknowledged, what each firm holds) are its coordinator's and the agency's."""
        principal, decision = info.context.require_decision()
        return principal.firm_id == self._coordinator_firm_id or decision.overseer

    @strawberry.field(
        description="The firms that acknowledged the recall, oldest first: all of them for its coordinator and the "
        "agency, your own firm's otherwise"
    )
    async def acknowledgements(self, info: Info) -> list[RecallAcknowledgement]:
        _, decision = info.context.require_decision()
        rows = await recall_answers.acknowledgements(
            info.context.graph, decision.viewer, recall_id=str(self.id), overseer=decision.overseer
        )
        return [RecallAcknowledgement.from_row(row) for row in rows]

    @strawberry.field(
        description="Per firm holding or having received the recalled lots: acknowledged, and per site the stock "
        "counted, reported and left (its coordinator and the agency only; empty for others)"
    )
    async def consignees(self, info: Info) -> list[RecallConsignee]:
        if not self._answers_in_full(info):
            return []
        rows = await recall_answers.consignees(info.context.graph, recall_id=str(self.id))
        notified = await recall_notices.notified_firms(info.context.sql_engine, recall_id=str(self.id))
        info.context.note_access(row["firmId"] for row in rows)
        return [RecallConsignee.from_row(row, notified_ms=notified.get(row["firmId"])) for row in rows]

    @strawberry.field(
        description="The effectiveness check: share of consignees that acknowledged and of the affected quantity "
        "accounted for, over time (its coordinator and the agency only; null for others)"
    )
    async def effectiveness(self, info: Info) -> RecallEffectiveness | None:
        if not self._answers_in_full(info):
            return None
        row = await recall_answers.effectiveness(info.context.graph, recall_id=str(self.id))
        return RecallEffectiveness.from_row(row) if row is not None else None

    @strawberry.field(
        description="Per held lot, site and product: made + received = used + shipped + in stock + destroyed or "
        "returned, each gap flagged where it sits (its coordinator and the agency only; null for others)"
    )
    async def mass_balance(self, info: Info) -> MassBalance | None:
        if not self._answers_in_full(info):
            return None
        rows = await mass_balance.recall_mass_balance(info.context.graph, recall_id=str(self.id))
        return MassBalance.from_rows(rows)

    @strawberry.field(
        description="Link (relative URL) to the recall's XLSX report: summary, timeline, consignees, affected lots, "
        "mass balance and FSMA 204 rows (its coordinator and the agency only; null for others); GET it with your "
        "bearer token"
    )
    def report_link(self, info: Info, lang: ExportLanguage = ExportLanguage.EN) -> str | None:
        if not self._answers_in_full(info):
            return None
        return report_link(recall_id=str(self.id), lang=lang.value)


def _position(key: str) -> int:
    if not key.isdigit():
        raise HubError("cursor is not one this API gave out for this list", field="after")
    return int(key)
