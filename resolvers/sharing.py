"""Sharing grants and recalls: the operations that widen what a firm sees, each decided in auth/."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import strawberry

from auth.decisions import require_admin, require_recall_coordinator
from graph_schema import grants, recalls
from graph_schema.errors import HubError, NotFound
from graph_schema.identifiers import parse_lgtin
from graph_schema.notifications import EventKind
from resolvers.context import Info
from resolvers.inputs import RecallInput, SharingGrantInput
from resolvers.notifications import publish_recall_event_or_leave_it
from resolvers.permissions import AUTHENTICATED
from resolvers.types.recall import Recall
from resolvers.types.sharing import SharingGrant

MAX_REASON = 2000


def _grant_row(owner_firm_id: str, data: SharingGrantInput, now: datetime) -> dict[str, object]:
    grantees = [g for g in (data.to_firm_id, data.to_role, data.to_cluster or None) if g is not None]
    if len(grantees) != 1:
        raise HubError("name exactly one grantee: toFirmId, toRole or toCluster: true", field="input")
    if data.to_firm_id is not None and str(data.to_firm_id) == owner_firm_id:
        raise HubError("your firm sees its own data already; name another firm", field="input.toFirmId")
    if data.until is not None and (data.until.tzinfo is None or data.until <= now):
        raise HubError("until must be a future time with its UTC offset", field="input.until")
    return {
        "id": f"grant-{uuid.uuid4()}",
        "ownerFirmId": owner_firm_id,
        "scope": data.scope.value,
        "level": data.level.value,
        "toFirmId": str(data.to_firm_id) if data.to_firm_id is not None else None,
        "toRole": data.to_role.value if data.to_role is not None else None,
        "toCluster": bool(data.to_cluster),
        "until": data.until,
        "createdAt": now,
    }


@strawberry.type
class SharingQuery:
    @strawberry.field(permission_classes=AUTHENTICATED, description="Grants your firm has given and not revoked")
    async def sharing_grants_given(self, info: Info) -> list[SharingGrant]:
        principal, _ = info.context.require_principal()
        rows = await grants.grants_given(info.context.graph, firm_id=principal.firm_id)
        return [SharingGrant.from_record(row) for row in rows]

    @strawberry.field(permission_classes=AUTHENTICATED, description="Grants in force that other firms gave yours")
    async def sharing_grants_received(self, info: Info) -> list[SharingGrant]:
        principal, decision = info.context.require_decision()
        rows = await grants.grants_received(
            info.context.graph, firm_id=principal.firm_id, firm_roles=sorted(decision.firm_roles), now=datetime.now(UTC)
        )
        return [SharingGrant.from_record(row) for row in rows]

    @strawberry.field(
        permission_classes=AUTHENTICATED,
        description="A recall your firm coordinates or has lots in (the agency sees all)",
    )
    async def recall(self, info: Info, id: strawberry.ID) -> Recall | None:
        _, decision = info.context.require_decision()
        row = await recalls.get_recall(
            info.context.graph, decision.viewer, recall_id=str(id), overseer=decision.overseer
        )
        return Recall.from_record(row) if row else None


@strawberry.type
class SharingMutation:
    @strawberry.mutation(permission_classes=AUTHENTICATED, description="Share a scope of your firm's data (admin)")
    async def grant_sharing(self, info: Info, input: SharingGrantInput) -> SharingGrant:
        principal, _ = info.context.require_principal()
        require_admin(principal, what="grant sharing")
        row = _grant_row(principal.firm_id, input, datetime.now(UTC))
        if row["toFirmId"] is not None and await info.context.loaders.firm.load(str(row["toFirmId"])) is None:
            raise NotFound(f"firm {row['toFirmId']!r} is not a member of the cluster", field="input.toFirmId")
        return SharingGrant.from_record(await grants.create_grant(info.context.graph, row))

    @strawberry.mutation(
        permission_classes=AUTHENTICATED,
        description="Revoke one of your firm's grants; it stops on the next request (admin)",
    )
    async def revoke_sharing(self, info: Info, id: strawberry.ID) -> bool:
        principal, _ = info.context.require_principal()
        require_admin(principal, what="revoke sharing")
        await grants.revoke_grant(
            info.context.graph, grant_id=str(id), owner_firm_id=principal.firm_id, now=datetime.now(UTC)
        )
        return True

    @strawberry.mutation(
        permission_classes=AUTHENTICATED,
        description="Declare a recall of lots (recall_coordinator); opens their trace to you and holds the "
        "recalled lots and everything downstream (input.hold: ON_HOLD or RECALLED)",
    )
    async def declare_recall(self, info: Info, input: RecallInput) -> Recall:
        principal, decision = info.context.require_decision()
        require_recall_coordinator(principal, what="declare a recall")
        reason = input.reason.strip()
        if not reason or len(reason) > MAX_REASON:
            raise HubError(f"reason must be 1 to {MAX_REASON} characters", field="input.reason")
        if not input.lot_ids:
            raise HubError("name at least one lot to recall", field="input.lotIds")
        lot_ids = sorted({parse_lgtin(str(i), field="input.lotIds").uri for i in input.lot_ids})
        row = await recalls.declare_recall(
            info.context.graph,
            decision.viewer,
            recall_id=f"recall-{uuid.uuid4()}",
            lot_ids=lot_ids,
            reason=reason,
            recall_class=input.recall_class.value,
            overseer=decision.overseer,
            now=datetime.now(UTC),
            hold=input.hold,
        )
        await publish_recall_event_or_leave_it(
            info.context.graph, info.context.sql_engine, recall_id=row["id"], kind=EventKind.RECALL_DECLARED
        )
        return Recall.from_record(row)

    @strawberry.mutation(permission_classes=AUTHENTICATED, description="Close a recall your firm declared")
    async def close_recall(self, info: Info, id: strawberry.ID) -> Recall:
        principal, _ = info.context.require_principal()
        require_recall_coordinator(principal, what="close a recall")
        row = await recalls.close_recall(
            info.context.graph, recall_id=str(id), firm_id=principal.firm_id, now=datetime.now(UTC)
        )
        await publish_recall_event_or_leave_it(
            info.context.graph, info.context.sql_engine, recall_id=row["id"], kind=EventKind.RECALL_CLOSED
        )
        return Recall.from_record(row)
