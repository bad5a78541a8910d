"""Recall: declared by a coordinator for lots; while open, its trace is open to the coordinator and the agency."""

from __future__ import annotations

from datetime import datetime

import strawberry

from graph_schema.db import Row
from resolvers.context import Info
from resolvers.types.firm import Firm, load_firm
from resolvers.types.lot import Lot
from resolvers.types.values import RecallClass, RecallStatus, native_datetime


@strawberry.type(description="A recall of lots, with its status")
class Recall:
    id: strawberry.ID
    reason: str
    recall_class: RecallClass
    status: RecallStatus
    declared_at: datetime | None
    closed_at: datetime | None
    lot_ids: list[strawberry.ID] = strawberry.field(description="The recalled lots")
    affected_lot_count: int = strawberry.field(description="Lots upstream and downstream of the recalled lots")
    _coordinator_firm_id: strawberry.Private[str]

    @classmethod
    def from_record(cls, row: Row) -> Recall:
        return cls(
            id=strawberry.ID(row["id"]),
            reason=row["reason"],
            recall_class=RecallClass(row["recallClass"]),
            status=RecallStatus(row["status"]),
            declared_at=native_datetime(row.get("declaredAt")),
            closed_at=native_datetime(row.get("closedAt")),
            lot_ids=[strawberry.ID(i) for i in sorted(row["lotIds"])],
            affected_lot_count=int(row["affectedCount"]),
            _coordinator_firm_id=row["coordinatorFirmId"],
        )

    @strawberry.field(description="The recalled lots you may see in detail")
    async def lots(self, info: Info) -> list[Lot]:
        rows = await info.context.loaders.lot.load_many([str(i) for i in self.lot_ids])
        visible = [row for row in rows if row is not None]
        info.context.note_access(row["ownerFirmId"] for row in visible)
        return [Lot.from_record(row) for row in visible]

    @strawberry.field(description="The firm that declared the recall")
    async def coordinator(self, info: Info) -> Firm | None:
        return await load_firm(info, self._coordinator_firm_id)
