"""Smart HACCP deviations: the list a plant and its grantees see, and the corrective actions that close them."""

from __future__ import annotations

import re
from collections.abc import AsyncGenerator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import strawberry

from auth.decisions import Decision, require_editor
from graph_schema import lots as lot_reads
from graph_schema.db import Graph
from graph_schema.errors import HubError
from graph_schema.haccp import deviations
from graph_schema.identifiers import validate_gln
from graph_schema.notifications import EventKind
from resolvers.broadcast import register_event_kind
from resolvers.context import Info
from resolvers.permissions import AUTHENTICATED
from resolvers.types.ccp_compliance import CcpCompliance, load_compliance
from resolvers.types.connection import Connection
from resolvers.types.deviation import Deviation, deviation_connection
from resolvers.types.values import DeviationStatus

MAX_ACTION_LENGTH = 2000
# a corrective action is taken, not planned: a small allowance for clocks only
CLOCK_SKEW = timedelta(minutes=5)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@strawberry.input(description="A corrective action on a deviation: what was done and when; closes it by default")
class CorrectiveActionInput:
    deviation_id: strawberry.ID
    action: str
    taken_at: datetime
    closes: bool = True


def _checked(input: CorrectiveActionInput, *, now: datetime) -> tuple[str, str, datetime]:
    deviation_id = str(input.deviation_id).strip()
    if not deviation_id or len(deviation_id) > 100:
        raise HubError("input.deviationId: give the id of a deviation", field="input.deviationId")
    action = input.action.strip()
    if not action:
        raise HubError("input.action: say what was done", field="input.action")
    if len(action) > MAX_ACTION_LENGTH:
        raise HubError(f"input.action: at most {MAX_ACTION_LENGTH} characters, got {len(action)}", field="input.action")
    if _CONTROL.search(action):
        raise HubError("input.action: control characters are not allowed", field="input.action")
    taken_at = input.taken_at
    if taken_at.tzinfo is None:
        raise HubError("input.takenAt: a time needs its UTC offset", field="input.takenAt")
    if taken_at > now + CLOCK_SKEW:
        raise HubError("input.takenAt: a corrective action cannot be taken in the future", field="input.takenAt")
    return deviation_id, action, taken_at


@strawberry.type
class DeviationQuery:
    @strawberry.field(
        permission_classes=AUTHENTICATED,
        description="CCP deviations you may see in detail (your plants', those shared with you at DETAIL, and "
        "those touching lots of a recall you coordinate), optionally of one site and status",
    )
    async def deviations(
        self,
        info: Info,
        site_gln: str | None = None,
        status: DeviationStatus | None = None,
        first: int = 20,
        after: str | None = None,
    ) -> Connection[Deviation]:
        gln = validate_gln(site_gln, field="siteGln") if site_gln is not None else None
        return await deviation_connection(info, site_gln=gln, ccp_id=None, status=status, first=first, after=after)


@strawberry.type
class ComplianceQuery:
    @strawberry.field(
        permission_classes=AUTHENTICATED,
        description="A CCP's compliance figures over [from, to): for its plant's firm, firms it shares CCP with "
        "(DETAIL or SUMMARY) and the agency; null otherwise",
    )
    async def ccp_compliance(
        self,
        info: Info,
        ccp_id: strawberry.ID,
        start: Annotated[datetime, strawberry.argument(name="from")],
        end: Annotated[datetime, strawberry.argument(name="to")],
    ) -> CcpCompliance | None:
        return await load_compliance(info, str(ccp_id), start, end)


@strawberry.type
class DeviationMutation:
    @strawberry.mutation(
        permission_classes=AUTHENTICATED,
        description="Record what was done about a deviation (the plant's admin or editor); append-only, and "
        "closes the deviation unless closes is false, releasing the lots it held",
    )
    async def record_corrective_action(self, info: Info, input: CorrectiveActionInput) -> Deviation:
        principal, viewer = info.context.require_principal()
        now = datetime.now(UTC)
        deviation_id, action, taken_at = _checked(input, now=now)

        def may_act(firm_id: str) -> None:
            require_editor(principal, firm_id=firm_id, what="record corrective actions")

        row = await deviations.record_corrective_action(
            info.context.graph,
            viewer,
            deviation_id=deviation_id,
            action=action,
            taken_at=taken_at,
            by=principal.subject,
            closes=input.closes,
            now=now,
            may_act=may_act,
        )
        return Deviation.from_record(row)


# --- live alerts: DEVIATION_OPENED --------------------------------------------------------------------------


async def render_deviation(graph: Graph, decision: Decision, payload: Mapping[str, Any]) -> dict[str, Any] | None:
    """The deviation as the firm of ``decision`` may be told it (DEVIATION_IN_DETAIL, as ``deviations`` answers
    now); its lots only those the firm may see in detail. None: the firm is told nothing."""
    [row] = await deviations.deviations_by_id(graph, decision.viewer, [str(payload["deviationId"])])
    if row is None:
        return None
    seen = await lot_reads.lots_by_id(graph, decision.viewer, sorted(row["lotIds"]))
    return {
        "deviation": {
            "id": row["id"],
            "ccpId": row["ccpId"],
            "siteGln": row["siteGln"],
            "kind": row["kind"],
            "status": row["status"],
            "openedAt": row["openedAt"],
            "windowStart": row["windowStart"],
            "windowEnd": row["windowEnd"],
            "worstValue": row["worstValue"],
            "lotIds": [lot["id"] for lot in seen if lot is not None],
        }
    }


# who may see a deviation depends on each firm's CCP grants and recalls: no audience read once, each firm decided
register_event_kind(EventKind.DEVIATION_OPENED, render=render_deviation)


@strawberry.type
class DeviationSubscription:
    @strawberry.subscription(
        permission_classes=AUTHENTICATED,
        description="Deviations opened from now on at sites whose CCP data you may see in detail (of one site)",
    )
    async def deviation_opened(self, info: Info, site_gln: str | None = None) -> AsyncGenerator[Deviation, None]:
        info.context.require_principal()
        gln = validate_gln(site_gln, field="siteGln") if site_gln is not None else None
        notifier = info.context.notifier
        if notifier is None:
            raise HubError("subscriptions are not served here", code="UNAVAILABLE")
        async with notifier.broadcast.listen(frozenset({EventKind.DEVIATION_OPENED.value})) as queue:
            while True:
                notice = await queue.get()
                if gln is not None and notice.event.payload.get("siteGln") != gln:
                    continue
                await info.context.decide()  # decided at delivery, as a query would be now
                _, viewer = info.context.require_principal()
                deviation_id = str(notice.event.payload.get("deviationId", ""))
                [row] = await deviations.deviations_by_id(info.context.graph, viewer, [deviation_id])
                if row is not None:
                    info.context.note_access([row["firmId"]])
                    yield Deviation.from_record(row)
