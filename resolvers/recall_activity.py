"""A recall's desk, live: ``recallActivity(recallId)`` tells its coordinator and the agency as consignees answer.

What happens to an open recall after its declaration reaches the desk as it happens: a consignee acknowledges or
reports a disposition (``RECALL_ANSWERED``, published by ``resolvers/recall_answers.py``), consignees' webhooks
take the recall's notice (``RECALL_NOTIFIED``, published by the hub's delivery loop once the receivers answered
2xx), lots join the recall (``RECALL_UPDATED``) and it is closed (``RECALL_CLOSED``). These are events of the
outbox like the others, so a desk open on any hub process sees what any process did.

Only the recall's coordinator firm and the agency (who read its answers in full: ``Recall.consignees``) may
subscribe; the check is made when subscribing and again, with a fresh decision, before each event is told.
The two new kinds are never webhook events: they are the desk's, not the members' business.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from enum import Enum
from typing import Any, Final

import strawberry
from graphql import GraphQLError

from auth.decisions import Decision
from graph_schema import notifications, recalls
from graph_schema.db import Graph
from graph_schema.errors import HubError, NotFound
from graph_schema.notifications import EventKind
from resolvers.broadcast import Notice, register_event_kind
from resolvers.context import Info
from resolvers.permissions import AUTHENTICATED
from resolvers.types.firm import Firm, load_firm
from resolvers.types.recall import Recall

log = logging.getLogger(__name__)

MAX_RECALL_ID: Final = 200


@strawberry.enum(description="What happened to a recall after its declaration")
class RecallActivityKind(Enum):
    WATCHING = "WATCHING"  # the first event: the subscription listens from now on; the recall as it stands
    ACKNOWLEDGED = "ACKNOWLEDGED"
    DISPOSITION_REPORTED = "DISPOSITION_REPORTED"
    NOTIFIED = "NOTIFIED"
    LOTS_JOINED = "LOTS_JOINED"
    CLOSED = "CLOSED"


_ANSWERS: Final = {"ACKNOWLEDGED", "DISPOSITION_REPORTED"}
_WATCHED: Final = frozenset(
    {
        EventKind.RECALL_ANSWERED.value,
        EventKind.RECALL_NOTIFIED.value,
        EventKind.RECALL_UPDATED.value,
        EventKind.RECALL_CLOSED.value,
    }
)


@strawberry.type(description="One thing that happened to a recall, as its coordinator and the agency see it")
class RecallActivity:
    kind: RecallActivityKind
    at: datetime = strawberry.field(description="When the hub recorded it")
    firm_ids: list[strawberry.ID] = strawberry.field(
        description="The consignees concerned: the firm that answered, the firms whose webhooks took the notice "
        "(empty for lots joining and for the closing)"
    )
    lot_ids: list[strawberry.ID] = strawberry.field(description="The lots that joined (LOTS_JOINED), else empty")
    recall: Recall = strawberry.field(description="The recall as it stands now: read its answers again from it")

    @strawberry.field(description="The consignees concerned, as firms")
    async def firms(self, info: Info) -> list[Firm]:
        found = [await load_firm(info, str(firm_id)) for firm_id in self.firm_ids]
        return [firm for firm in found if firm is not None]


def activity_of(kind: str, payload: Mapping[str, Any]) -> tuple[RecallActivityKind, list[str], list[str]] | None:
    """The activity an outbox event of a watched kind stands for (kind, firms, lots); None for any other."""
    if kind == EventKind.RECALL_ANSWERED.value and payload.get("answer") in _ANSWERS:
        return RecallActivityKind(payload["answer"]), [str(payload.get("firmId", ""))], []
    if kind == EventKind.RECALL_NOTIFIED.value:
        return RecallActivityKind.NOTIFIED, sorted(str(f) for f in payload.get("firmIds", [])), []
    if kind == EventKind.RECALL_UPDATED.value:
        return RecallActivityKind.LOTS_JOINED, [], sorted(str(i) for i in payload.get("lotIds", []))
    if kind == EventKind.RECALL_CLOSED.value:
        return RecallActivityKind.CLOSED, [], []
    return None


def coded(error: HubError) -> GraphQLError:
    """The error with its code: a subscription's errors do not pass the schema's ErrorCodes extension."""
    extensions = {"code": error.code, **({"field": error.field} if error.field is not None else {})}
    return GraphQLError(error.message, extensions=extensions)


@asynccontextmanager
async def _nothing() -> AsyncIterator[asyncio.Queue[Notice]]:
    yield asyncio.Queue()


async def _desk_recall(info: Info, recall_id: str) -> Recall | None:
    """The recall, when the caller's firm coordinates it or is the agency (the caller's decision now)."""
    await info.context.decide()
    principal, decision = info.context.require_decision()
    row = await recalls.get_recall(info.context.graph, decision.viewer, recall_id=recall_id, overseer=decision.overseer)
    if row is None:
        return None
    if not (decision.overseer or row["coordinatorFirmId"] == principal.firm_id):
        return None
    return Recall.from_record(row)


@strawberry.type
class RecallActivitySubscription:
    @strawberry.subscription(
        permission_classes=AUTHENTICATED,
        description="What happens to one recall from now on: first WATCHING (listening; the recall as it stands), "
        "then consignees acknowledging and reporting dispositions, their webhooks taking its notice, lots joining "
        "it, its closing (its coordinator's firm and the agency)",
    )
    async def recall_activity(self, info: Info, recall_id: strawberry.ID) -> AsyncGenerator[RecallActivity, None]:
        wanted = str(recall_id)
        notifier = info.context.notifier
        # listening before the check: nothing that happens between the two is missed
        async with notifier.broadcast.listen(_WATCHED) if notifier is not None else _nothing() as queue:
            try:
                info.context.require_principal()
                if notifier is None:
                    raise HubError("subscriptions are not served here", code="UNAVAILABLE")
                if not 0 < len(wanted) <= MAX_RECALL_ID:
                    raise HubError(f"recallId must be 1 to {MAX_RECALL_ID} characters", field="recallId")
                current = await _desk_recall(info, wanted)
                if current is None:
                    # the same answer for an unknown recall and one the caller may not watch: ids are not disclosed
                    raise NotFound(
                        f"no recall {wanted!r} that your firm coordinates (or oversees as the agency)",
                        field="recallId",
                    )
            except HubError as error:
                raise coded(error) from None
            # told at once that it listens: a desk knows nothing from here on is missed, and starts from this state
            yield RecallActivity(
                kind=RecallActivityKind.WATCHING, at=datetime.now(UTC), firm_ids=[], lot_ids=[], recall=current
            )
            while True:
                notice = await queue.get()
                if notice.event.payload.get("recallId") != wanted:
                    continue
                activity = activity_of(notice.event.kind, notice.event.payload)
                if activity is None:
                    continue
                recall = await _desk_recall(info, wanted)  # decided again: a role or membership may have changed
                if recall is None:
                    continue
                kind, firm_ids, lot_ids = activity
                yield RecallActivity(
                    kind=kind,
                    at=datetime.fromtimestamp(notice.event.created_at_ms / 1000, UTC),
                    firm_ids=[strawberry.ID(f) for f in firm_ids if f],
                    lot_ids=[strawberry.ID(i) for i in lot_ids],
                    recall=recall,
                )


# --- publishing, and who is told ---------------------------------------------------------------------------------


async def publish_recall_answer(engine: Any, *, recall_id: str, firm_id: str, answer: RecallActivityKind) -> None:
    """Tell the recall's desk that ``firm_id`` answered; an outbox failure is logged, the answer stands."""
    try:
        await notifications.publish(
            engine,
            kind=EventKind.RECALL_ANSWERED,
            payload={"recallId": recall_id, "firmId": firm_id, "answer": answer.value},
        )
    except Exception:  # the desk reads the answers again from recall(id) when it reconnects
        log.exception("could not tell the desk of recall %s that %s answered", recall_id, firm_id)


def recall_notified_payloads(delivered: Sequence[tuple[str, str, str]]) -> list[dict[str, Any]]:
    """Per recall, the firms whose webhooks took its notice, from delivered (kind, firm id, body) triples."""
    firms: dict[str, set[str]] = {}
    for kind, firm_id, body in delivered:
        if kind not in (EventKind.RECALL_DECLARED.value, EventKind.RECALL_UPDATED.value) or not firm_id:
            continue
        try:
            recall_id = json.loads(body)["recall"]["id"]
        except (ValueError, KeyError, TypeError):
            continue
        firms.setdefault(str(recall_id), set()).add(firm_id)
    return [{"recallId": recall_id, "firmIds": sorted(f)} for recall_id, f in sorted(firms.items())]


async def _desk_fields(graph: Graph, decision: Decision, payload: Mapping[str, Any]) -> dict[str, Any] | None:
    """The desk's kinds for a receiving firm: the coordinator's and the agency's only (no webhook takes them)."""
    recall_id = str(payload.get("recallId", ""))
    row = await recalls.recall_fields(graph, recall_id=recall_id)
    if row is None or not (decision.overseer or row["coordinatorFirmId"] == decision.viewer.firm_id):
        return None
    return {"recall": {"id": recall_id}, "activity": dict(payload)}


register_event_kind(EventKind.RECALL_ANSWERED, render=_desk_fields)
register_event_kind(EventKind.RECALL_NOTIFIED, render=_desk_fields)
