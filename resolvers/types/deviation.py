"""Deviation: a CCP out of its critical limits or unmonitored for a while, with the lots made meanwhile."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from graph_schema.db import Row
from graph_schema.haccp import ccps, deviations
from resolvers.context import Info
from resolvers.types.connection import Connection, build_connection, check_page_size, decode_cursor
from resolvers.types.lot import Lot
from resolvers.types.site import Site, load_site
from resolvers.types.values import DeviationKind, DeviationStatus, native_datetime

if TYPE_CHECKING:
    from resolvers.types.ccp import Ccp


@strawberry.type(description="What the plant did about a deviation: who, what, when (append-only, never edited)")
class CorrectiveAction:
    action: str
    taken_at: datetime
    by: str = strawberry.field(description="The principal who recorded it (the token's subject)")
    recorded_at: datetime = strawberry.field(description="When the hub recorded it")

    @classmethod
    def from_record(cls, row: Row) -> CorrectiveAction:
        taken_at = native_datetime(row["takenAt"])
        recorded_at = native_datetime(row["recordedAt"])
        assert taken_at is not None
        assert recorded_at is not None
        return cls(action=row["action"], taken_at=taken_at, by=row["by"], recorded_at=recorded_at)


@strawberry.type(
    description="A CCP outside its critical limits (OUT_OF_LIMITS) or silent past its monitoring "
    "interval (MISSED_MONITORING); open until a corrective action closes it"
)
class Deviation:
    id: strawberry.ID
    ccp_id: strawberry.ID
    kind: DeviationKind
    status: DeviationStatus
    opened_at: datetime
    closed_at: datetime | None
    window_start: datetime = strawberry.field(
        description="The last in-limit reading before the excursion (for a silence: the last reading before it)"
    )
    window_end: datetime | None = strawberry.field(
        description="The first in-limit reading after the excursion (the first reading after a silence); "
        "null while it lasts"
    )
    worst_value: float | None = strawberry.field(description="The reading farthest outside the limits")
    corrective_actions: list[CorrectiveAction]
    _site_gln: strawberry.Private[str]
    _lot_ids: strawberry.Private[list[str]]

    @classmethod
    def from_record(cls, row: Row) -> Deviation:
        opened_at = native_datetime(row["openedAt"])
        window_start = native_datetime(row["windowStart"])
        assert opened_at is not None
        assert window_start is not None
        actions = sorted(row["actions"], key=lambda a: (a["recordedAt"], a["id"]))
        return cls(
            id=strawberry.ID(row["id"]),
            ccp_id=strawberry.ID(row["ccpId"]),
            kind=DeviationKind(row["kind"]),
            status=DeviationStatus(row["status"]),
            opened_at=opened_at,
            closed_at=native_datetime(row["closedAt"]),
            window_start=window_start,
            window_end=native_datetime(row["windowEnd"]),
            worst_value=row["worstValue"],
            corrective_actions=[CorrectiveAction.from_record(a) for a in actions],
            _site_gln=row["siteGln"],
            _lot_ids=sorted(row["lotIds"]),
        )

    @strawberry.field(description="The CCP that deviated")
    async def ccp(self, info: Info) -> Annotated[Ccp, strawberry.lazy("resolvers.types.ccp")]:
        from resolvers.types import ccp  # imports this module: not at the top

        _, viewer = info.context.require_principal()
        [row] = await ccps.ccps_by_id(info.context.graph, viewer, [str(self.ccp_id)])
        if row is None:  # a deviation shown through a recall: its CCP as the figures show it
            row = (await ccps.definitions_by_id(info.context.graph, [str(self.ccp_id)]))[0]
        assert row is not None  # a deviation's CCP is never deleted
        return ccp.Ccp.from_record(row)

    @strawberry.field(description="The CCP's plant")
    async def site(self, info: Info) -> Site | None:
        return await load_site(info, self._site_gln)

    @strawberry.field(description="The lots produced at the CCP's site within the window that you may see")
    async def lots(self, info: Info) -> list[Lot]:
        rows = [row for row in await info.context.loaders.lot.load_many(self._lot_ids) if row is not None]
        info.context.note_access(row["ownerFirmId"] for row in rows)
        return [Lot.from_record(row) for row in rows]


async def deviation_connection(
    info: Info,
    *,
    site_gln: str | None,
    ccp_id: str | None,
    status: DeviationStatus | None,
    first: int,
    after: str | None,
) -> Connection[Deviation]:
    """A page of the deviations the caller may see in detail (of one site or CCP, of one status)."""
    check_page_size(first, info.context.max_page_size)
    _, viewer = info.context.require_principal()
    graph = info.context.graph
    rows = await deviations.list_deviations(
        graph,
        viewer,
        site_gln=site_gln,
        ccp_id=ccp_id,
        status=status,
        after=decode_cursor("deviation", after),
        limit=first + 1,
    )
    info.context.note_access(row["firmId"] for row in rows[:first])
    return build_connection(
        [Deviation.from_record(row) for row in rows],
        kind="deviation",
        key=lambda d: str(d.id),
        first=first,
        after=after,
        count=lambda: deviations.count_deviations(graph, viewer, site_gln=site_gln, ccp_id=ccp_id, status=status),
    )
