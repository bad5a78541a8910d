"""Webhooks and subscriptions: registerWebhook, webhooks, deleteWebhook, the delivery log, recallDeclared.

Also the recall kinds' rules (who is told, and what: ``resolvers/broadcast.py``) and ``publish_recall_event``,
which the recall mutations and the hub's sweep call. A recall event is published after the recall is written
in the graph: the graph cannot share a transaction with the SQL outbox, so the recall is written with a
``declaredNotice`` / ``closedNotice`` of ``PENDING``, the event is published with an idempotency key, and the
notice is marked ``PUBLISHED``; the hub's sweep publishes what a crash left ``PENDING`` (the key makes a second
publish of the same event write nothing). Lots joining an open recall later (``RECALL_UPDATED``) are marked the
same way on their ``AFFECTS`` (``publish_recall_joins``).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import AsyncGenerator, Mapping
from datetime import UTC, datetime
from enum import Enum
from typing import Any, Final

import anyio
import strawberry

from auth.decisions import Decision, require_admin
from graph_schema import notifications, recalls
from graph_schema.db import Graph
from graph_schema.errors import HubError, NotFound
from graph_schema.notifications import DeliveryRecord, EventKind, WebhookRecord
from resolvers.broadcast import Notice, register_event_kind
from resolvers.context import Info
from resolvers.permissions import AUTHENTICATED
from resolvers.types.recall import Recall

log = logging.getLogger(__name__)

MAX_LOTS_IN_NOTICE: Final = 1000  # a receiver holding more reads the rest with recall(id) { affectedLots }
MAX_DELIVERIES_PAGE: Final = 100


@strawberry.enum(description="What a webhook can be told about")
class WebhookEvent(Enum):
    RECALL_DECLARED = "RECALL_DECLARED"
    RECALL_CLOSED = "RECALL_CLOSED"
    RECALL_UPDATED = "RECALL_UPDATED"
    DEVIATION_OPENED = "DEVIATION_OPENED"


@strawberry.enum(description="Where a webhook delivery stands")
class WebhookDeliveryStatus(Enum):
    PENDING = "PENDING"
    DELIVERED = "DELIVERED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


def _from_ms(ms: int | None) -> datetime | None:
    return datetime.fromtimestamp(ms / 1000, UTC) if ms is not None else None


@strawberry.type(description="One event sent (or being sent) to a webhook: the log its firm's admin reads")
class WebhookDelivery:
    id: strawberry.ID = strawberry.field(description="The delivery id: the body's id and the Hub-Delivery header")
    event: WebhookEvent
    status: WebhookDeliveryStatus
    attempts: int
    created_at: datetime
    last_attempt_at: datetime | None
    delivered_at: datetime | None
    last_status_code: int | None = strawberry.field(description="The receiver's HTTP status at the last attempt")
    last_error: str | None

    @classmethod
    def from_record(cls, record: DeliveryRecord) -> WebhookDelivery:
        created = _from_ms(record.created_at_ms)
        assert created is not None
        return cls(
            id=strawberry.ID(record.id),
            event=WebhookEvent(record.kind),
            status=WebhookDeliveryStatus(record.status),
            attempts=record.attempts,
            created_at=created,
            last_attempt_at=_from_ms(record.last_attempt_at_ms),
            delivered_at=_from_ms(record.delivered_at_ms),
            last_status_code=record.last_status_code,
            last_error=record.last_error,
        )


@strawberry.type(description="Your firm's endpoint for events; each delivery is signed with its secret")
class Webhook:
    id: strawberry.ID
    url: str
    events: list[WebhookEvent]
    created_at: datetime
    secret: str | None = strawberry.field(
        description="The key of the Hub-Signature HMAC: only in registerWebhook's answer, null everywhere else"
    )
    _firm_id: strawberry.Private[str]

    @classmethod
    def from_record(cls, record: WebhookRecord) -> Webhook:
        created = _from_ms(record.created_at_ms)
        assert created is not None
        return cls(
            id=strawberry.ID(record.id),
            url=record.url,
            events=[WebhookEvent(e) for e in record.events],
            created_at=created,
            secret=record.secret,
            _firm_id=record.firm_id,
        )

    @strawberry.field(description="Deliveries to this webhook, newest first")
    async def deliveries(self, info: Info, first: int = 20) -> list[WebhookDelivery]:
        if not 1 <= first <= MAX_DELIVERIES_PAGE:
            raise HubError(f"first must be 1 to {MAX_DELIVERIES_PAGE}", field="first")
        engine = info.context.sql_engine
        records = await anyio.to_thread.run_sync(
            lambda: notifications.webhook_deliveries(
                engine, firm_id=self._firm_id, webhook_id=str(self.id), limit=first
            )
        )
        return [WebhookDelivery.from_record(r) for r in records]


@strawberry.input(description="A webhook: where to post, and which events")
class WebhookInput:
    url: str
    events: list[WebhookEvent]


@strawberry.type
class WebhookQuery:
    @strawberry.field(permission_classes=AUTHENTICATED, description="Your firm's webhooks (your firm's admin)")
    async def webhooks(self, info: Info) -> list[Webhook]:
        principal, _ = info.context.require_principal()
        require_admin(principal, what="read your firm's webhooks")
        engine = info.context.sql_engine
        records = await anyio.to_thread.run_sync(lambda: notifications.firm_webhooks(engine, firm_id=principal.firm_id))
        return [Webhook.from_record(r) for r in records]


@strawberry.type
class WebhookMutation:
    @strawberry.mutation(
        permission_classes=AUTHENTICATED,
        description="Register a webhook for your firm (its admin); the answer shows the signing secret, once",
    )
    async def register_webhook(self, info: Info, input: WebhookInput) -> Webhook:
        principal, _ = info.context.require_principal()
        require_admin(principal, what="register a webhook")
        notifier = info.context.notifier
        allow_private = notifier.allow_private_webhook_urls if notifier is not None else False
        url = await anyio.to_thread.run_sync(
            lambda: notifications.check_webhook_url(input.url, allow_private=allow_private)
        )
        engine = info.context.sql_engine
        record = await anyio.to_thread.run_sync(
            lambda: notifications.register_webhook(
                engine,
                firm_id=principal.firm_id,
                url=url,
                events=[e.value for e in input.events],
                created_by=principal.subject,
            )
        )
        return Webhook.from_record(record)

    @strawberry.mutation(permission_classes=AUTHENTICATED, description="Delete one of your firm's webhooks")
    async def delete_webhook(self, info: Info, id: strawberry.ID) -> bool:
        principal, _ = info.context.require_principal()
        require_admin(principal, what="delete a webhook")
        engine = info.context.sql_engine
        deleted = await anyio.to_thread.run_sync(
            lambda: notifications.delete_webhook(engine, firm_id=principal.firm_id, webhook_id=str(id))
        )
        if not deleted:
            raise NotFound(f"your firm has no webhook {id!r}", field="id")
        return True


@strawberry.type
class RecallSubscription:
    @strawberry.subscription(
        permission_classes=AUTHENTICATED,
        description="Recalls declared from now on that reach lots your firm holds (owns or was shipped), and open "
        "recalls that reach more of them later (a lot made from a held lot joins the recall)",
    )
    async def recall_declared(self, info: Info) -> AsyncGenerator[Recall, None]:
        principal, _ = info.context.require_principal()
        notifier = info.context.notifier
        if notifier is None:
            raise HubError("subscriptions are not served here", code="UNAVAILABLE")
        # a recall reaching the firm's stock after its declaration is, to the firm, a recall newly declared on it
        kinds = frozenset({EventKind.RECALL_DECLARED.value, EventKind.RECALL_UPDATED.value})
        async with notifier.broadcast.listen(kinds) as queue:
            while True:
                notice = await queue.get()
                if not notice.concerns(principal.firm_id):
                    continue
                # decided at delivery, as a query would be now: the recall itself opened lots to some firms
                await info.context.decide()
                _, decision = info.context.require_decision()
                recall_id = str(notice.event.payload.get("recallId", ""))
                if notice.audience is None:  # the audience could not be read once for all: this firm's own check
                    if await render_recall(info.context.graph, decision, notice.event.payload) is None:
                        continue
                    row = await recalls.get_recall(
                        info.context.graph, decision.viewer, recall_id=recall_id, overseer=decision.overseer
                    )
                else:
                    # the audience holds affected lots, which lets it read the recall (RECALL_SEEN_BY): its own
                    # fields are read once for every subscriber; what each sees of its lots is decided per field
                    row = await _shared_recall_row(info.context.graph, notice, recall_id)
                if row is not None:
                    yield Recall.from_record(row)


async def _shared_recall_row(graph: Graph, notice: Notice, recall_id: str) -> Any:
    read = notice.shared.get("recall")
    if read is None:
        read = notice.shared["recall"] = asyncio.ensure_future(recalls.recall_fields(graph, recall_id=recall_id))
    return await asyncio.shield(read)  # one subscriber going away does not cancel the others' read


# --- the recall kinds -----------------------------------------------------------------------------------------


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    native = value if isinstance(value, datetime) else value.to_native()
    return str(native.isoformat())


async def recall_audience(graph: Graph, payload: Mapping[str, Any]) -> frozenset[str]:
    """The firms holding a lot the recall affects."""
    return await recalls.recall_audience(graph, recall_id=str(payload["recallId"]))


def _told(row: Mapping[str, Any]) -> dict[str, Any]:
    recall = row["recall"]
    held = int(row["heldByFirm"])
    return {
        "recall": {
            "id": recall["id"],
            "coordinatorFirmId": recall["coordinatorFirmId"],
            "reason": recall["reason"],
            "recallClass": recall["recallClass"],
            "status": recall["status"],
            "hold": recall.get("hold"),
            "declaredAt": _iso(recall.get("declaredAt")),
            "closedAt": _iso(recall.get("closedAt")),
            "lotIds": sorted(recall["lotIds"]),
            "affectedLotCount": int(recall["affectedCount"]),
            # the firm's own affected lots (owned, or shipped to it) in full; the others only counted
            "yourLots": row["lots"],
            "yourLotCount": held,
            "otherLotCount": int(recall["affectedCount"]) - held,
        }
    }


async def render_recalls(
    graph: Graph, firm_ids: frozenset[str], payload: Mapping[str, Any]
) -> dict[str, dict[str, Any]]:
    """The recall as each firm is told it: the recall, its own affected lots in full, the rest counted; a firm
    holding no affected lot is left out (told nothing)."""
    rows = await recalls.recall_notices(
        graph, recall_id=str(payload["recallId"]), firm_ids=sorted(firm_ids), max_lots=MAX_LOTS_IN_NOTICE
    )
    return {firm: _told(row) for firm, row in rows.items()}


async def render_recall(graph: Graph, decision: Decision, payload: Mapping[str, Any]) -> dict[str, Any] | None:
    """The recall as the receiving firm is told it (``render_recalls`` for one firm)."""
    firm = decision.viewer.firm_id
    return (await render_recalls(graph, frozenset({firm}), payload)).get(firm)


register_event_kind(
    EventKind.RECALL_DECLARED, render=render_recall, audience=recall_audience, render_many=render_recalls
)
register_event_kind(EventKind.RECALL_CLOSED, render=render_recall, audience=recall_audience, render_many=render_recalls)


async def joined_lots_audience(graph: Graph, payload: Mapping[str, Any]) -> frozenset[str]:
    """The firms holding a lot that joined the recall (the firms already told of the others are not told again)."""
    return await recalls.lot_holders(graph, lot_ids=[str(i) for i in payload.get("lotIds", [])])


# told as at declaration (its own affected lots in full, the others counted), but only the joined lots' holders
register_event_kind(
    EventKind.RECALL_UPDATED, render=render_recall, audience=joined_lots_audience, render_many=render_recalls
)


async def publish_recall_event(graph: Graph, engine: Any, *, recall_id: str, kind: EventKind) -> None:
    """Publish a recall's event (once: keyed by kind and recall) and mark the recall's notice published."""
    await notifications.publish(engine, kind=kind, payload={"recallId": recall_id}, key=f"{kind.value}:{recall_id}")
    await recalls.mark_recall_notified(graph, recall_id=recall_id, kind=kind.value)


async def publish_recall_event_or_leave_it(graph: Graph, engine: Any, *, recall_id: str, kind: EventKind) -> None:
    """As ``publish_recall_event``; when the SQL store or the graph fails, the hub's sweep publishes it later."""
    try:
        await publish_recall_event(graph, engine, recall_id=recall_id, kind=kind)
    except Exception:
        log.exception("could not publish %s for %s now; the sweep will", kind.value, recall_id)


def _joins_key(recall_id: str, notice_key: str) -> str:
    # the transformation id is the caller's (up to the id limit); hashed so the key fits the outbox column
    digest = hashlib.sha256(notice_key.encode()).hexdigest()[:40]
    return f"{EventKind.RECALL_UPDATED.value}:{recall_id}:{digest}"


async def publish_recall_joins(graph: Graph, engine: Any) -> int:
    """Publish one RECALL_UPDATED per recall and transformation whose lots joined it unannounced; how many.

    Called after every write that may make lots join a recall, and by the hub's sweep for what a crash left
    pending: both may publish the same joins, and the key (recall, transformation) makes that one event."""
    published = 0
    for row in await recalls.pending_joins(graph):
        recall_id, notice_key = str(row["recallId"]), str(row["noticeKey"])
        payload = {"recallId": recall_id, "lotIds": sorted(row["lotIds"])}
        await notifications.publish(
            engine, kind=EventKind.RECALL_UPDATED, payload=payload, key=_joins_key(recall_id, notice_key)
        )
        await recalls.mark_joins_notified(graph, recall_id=recall_id, notice_key=notice_key)
        published += 1
    return published


async def publish_recall_joins_or_leave_them(graph: Graph, engine: Any) -> None:
    """As ``publish_recall_joins``; when the SQL store or the graph fails, the hub's sweep publishes them later."""
    try:
        await publish_recall_joins(graph, engine)
    except Exception:
        log.exception("could not tell the holders of lots that joined a recall now; the sweep will")


async def publish_unnotified_recalls(graph: Graph, engine: Any, *, older_than_seconds: float) -> int:
    """Publish the recall events a crash left unpublished (declared or closed before the cutoff); how many."""
    before = datetime.fromtimestamp(datetime.now(UTC).timestamp() - older_than_seconds, UTC)
    published = 0
    for row in await recalls.unnotified_recalls(graph, before=before):
        if row["declared"]:
            await publish_recall_event(graph, engine, recall_id=row["id"], kind=EventKind.RECALL_DECLARED)
            published += 1
        if row["closed"]:
            await publish_recall_event(graph, engine, recall_id=row["id"], kind=EventKind.RECALL_CLOSED)
            published += 1
    return published
