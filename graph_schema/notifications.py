"""Events people are told about: an outbox in the SQL store, webhooks and their deliveries.

The API other parts use (pinned):

- ``await publish(engine, *, kind, payload, key=None) -> int`` writes one event to the outbox and returns its
  id. ``kind`` is an ``EventKind`` (``RECALL_DECLARED``, ``RECALL_CLOSED``, ``RECALL_UPDATED``,
  ``DEVIATION_OPENED``); ``payload`` is a JSON-serialisable dict naming what happened by id (``{"recallId": ...}``,
  ``{"deviationId": ...}``),
  never what a receiver may see. ``key`` makes the publish idempotent: a second publish with the same key
  writes nothing and returns the first event's id (a sweep that publishes again what a crash left unmarked
  uses it). The event is committed when ``publish`` returns.
- What each firm is told is rendered per receiving firm at delivery time, by the rule registered for the kind
  with ``resolvers.broadcast.register_event_kind(kind, render=..., audience=..., render_many=...)`` (the recall
  kinds' rules are in ``resolvers/notifications.py``): ``render`` is ``async (graph, decision of the receiving
  firm, payload) -> dict | None`` returning the fields the firm may see (merged into the webhook body, e.g.
  ``{"recall": {...}}``), or None when it may see nothing: then nothing is delivered to it.
- The hub's dispatcher (``hub/notifications.py``) tails the outbox in every process: it hands each event to
  the process's websocket subscribers, and one process (whichever claims the event first) renders it for each
  webhook of the kind and writes one delivery per webhook; deliveries are then claimed one at a time with a
  lease, sent, and retried with backoff, so each goes out once across processes and at least once in all.

Times are integer milliseconds since the Unix epoch (UTC), as in ``graph_schema/haccp/readings.py``.
"""

from __future__ import annotations

import ipaddress
import json
import secrets
import socket
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final
from urllib.parse import urlsplit

import anyio
from sqlalchemy import BigInteger, Column, Index, Text, UniqueConstraint, and_, case, func, or_, update
from sqlalchemy.engine import Engine
from sqlmodel import Field, Session, SQLModel, col, select

from graph_schema.errors import HubError


class EventKind(StrEnum):
    """What a member can be told about (the contract's ``WebhookEvent``)."""

    RECALL_DECLARED = "RECALL_DECLARED"
    RECALL_CLOSED = "RECALL_CLOSED"
    RECALL_UPDATED = "RECALL_UPDATED"  # lots joined an open recall after it was declared
    DEVIATION_OPENED = "DEVIATION_OPENED"
    # told to a recall's coordinator and the agency only (its desk), never a webhook event
    RECALL_ANSWERED = "RECALL_ANSWERED"  # a consignee acknowledged, or reported a disposition
    RECALL_NOTIFIED = "RECALL_NOTIFIED"  # consignees' webhooks took the recall's notice
    EPCIS_EVENTS_CAPTURED = "EPCIS_EVENTS_CAPTURED"  # a capture committed: pushed to EPCIS query subscriptions


class DeliveryStatus(StrEnum):
    """Where a webhook delivery stands."""

    PENDING = "PENDING"  # waiting for its next attempt (or being attempted, under a lease)
    DELIVERED = "DELIVERED"  # the receiver answered 2xx
    FAILED = "FAILED"  # every attempt failed: given up
    CANCELLED = "CANCELLED"  # the webhook was deleted before it was delivered


MAX_WEBHOOKS_PER_FIRM: Final = 20
MAX_URL_LENGTH: Final = 2000
MAX_ERROR_LENGTH: Final = 500


def now_ms() -> int:
    """The current time in milliseconds since the epoch."""
    return int(time.time() * 1000)


# --- tables ----------------------------------------------------------------------------------------------------


class OutboxEvent(SQLModel, table=True):
    """One event, written once; ``fanned_out_at_ms`` is set once its webhook deliveries are written."""

    __tablename__ = "outbox_event"

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=40)
    key: str | None = Field(default=None, max_length=200, unique=True)  # idempotent publish
    payload: str = Field(sa_column=Column(Text, nullable=False))  # JSON
    created_at_ms: int = Field(sa_column=Column(BigInteger, nullable=False))
    fanned_out_at_ms: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True, index=True))
    # a process rendering its deliveries holds this lease; another may take over once it has run out
    fanout_lease_until_ms: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))


class Webhook(SQLModel, table=True):
    """A member's endpoint for events of some kinds; the secret signs each delivery's body."""

    __tablename__ = "webhook"

    id: str = Field(primary_key=True, max_length=60)
    firm_id: str = Field(index=True, max_length=100)
    url: str = Field(max_length=MAX_URL_LENGTH)
    events: str = Field(max_length=200)  # kinds, comma-separated
    secret: str = Field(max_length=100)  # kept in clear: the hub must sign with it (shown once to its firm)
    created_at_ms: int = Field(sa_column=Column(BigInteger, nullable=False))
    created_by: str = Field(max_length=300)
    # an EPCIS query subscription's definition (JSON): such a webhook is listed and deleted under its named query
    # (graph_schema/epcis/subscriptions.py), not among the firm's webhooks
    subscription: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class WebhookDelivery(SQLModel, table=True):
    """One event's body for one webhook, as sent on every attempt; its id is the idempotency key."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (
        UniqueConstraint("event_id", "webhook_id", name="uq_webhook_delivery_event_webhook"),
        Index("ix_webhook_delivery_due", "status", "next_attempt_at_ms"),
        Index("ix_webhook_delivery_webhook_time", "webhook_id", "created_at_ms"),
    )

    id: str = Field(primary_key=True, max_length=60)
    event_id: int = Field(index=True)
    webhook_id: str = Field(max_length=60)
    firm_id: str = Field(max_length=100)
    kind: str = Field(max_length=40)
    body: str = Field(sa_column=Column(Text, nullable=False))  # the exact bytes signed and sent (UTF-8 JSON)
    status: str = Field(max_length=20)
    attempts: int = 0
    created_at_ms: int = Field(sa_column=Column(BigInteger, nullable=False))
    next_attempt_at_ms: int = Field(sa_column=Column(BigInteger, nullable=False))
    lease_until_ms: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    lease_token: str | None = Field(default=None, max_length=40)
    last_attempt_at_ms: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    delivered_at_ms: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    last_status_code: int | None = None
    last_error: str | None = Field(default=None, max_length=MAX_ERROR_LENGTH)


# --- records handed out ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Event:
    """An event of the outbox."""

    id: int
    kind: str
    payload: dict[str, Any]
    created_at_ms: int


@dataclass(frozen=True)
class WebhookRecord:
    """A registered webhook; ``secret`` is only filled in the answer that registered it."""

    id: str
    firm_id: str
    url: str
    events: tuple[str, ...]
    created_at_ms: int
    secret: str | None = None
    subscription: dict[str, Any] | None = None  # an EPCIS query subscription's definition


@dataclass(frozen=True)
class DeliveryRecord:
    """A line of a webhook's delivery log."""

    id: str
    webhook_id: str
    event_id: int
    kind: str
    status: str
    attempts: int
    created_at_ms: int
    last_attempt_at_ms: int | None
    delivered_at_ms: int | None
    last_status_code: int | None
    last_error: str | None


@dataclass(frozen=True)
class ClaimedDelivery:
    """A delivery this process holds the lease on: what to send where, and the token to report back with."""

    id: str
    kind: str
    url: str
    secret: str
    body: str
    attempts: int  # including this one
    lease_token: str
    firm_id: str = ""  # the receiving firm


# --- publishing -------------------------------------------------------------------------------------------------


def _event(row: OutboxEvent) -> Event:
    assert row.id is not None
    return Event(id=row.id, kind=row.kind, payload=json.loads(row.payload), created_at_ms=row.created_at_ms)


def publish_sync(engine: Engine, *, kind: str, payload: Mapping[str, Any], key: str | None = None) -> int:
    """``publish`` for code that already runs in a worker thread."""
    kind = EventKind(kind).value
    body = json.dumps(dict(payload), separators=(",", ":"), sort_keys=True)
    with Session(engine) as session:
        if key is not None:
            existing = session.exec(select(OutboxEvent.id).where(OutboxEvent.key == key)).first()
            if existing is not None:
                return existing
        row = OutboxEvent(kind=kind, key=key, payload=body, created_at_ms=now_ms())
        session.add(row)
        try:
            session.commit()
        except Exception:
            session.rollback()
            if key is None:
                raise
            # another process published the same key between our look and our write
            existing = session.exec(select(OutboxEvent.id).where(OutboxEvent.key == key)).first()
            if existing is None:
                raise
            return existing
        assert row.id is not None
        _wake_local_listeners()
        return row.id


def published_keys(engine: Engine, keys: Sequence[str]) -> set[str]:
    """Which of ``keys`` the outbox already holds (keys of idempotent publishes)."""
    found: set[str] = set()
    with Session(engine) as session:
        for start in range(0, len(keys), 500):
            chunk = list(keys[start : start + 500])
            found.update(k for k in session.exec(select(OutboxEvent.key).where(col(OutboxEvent.key).in_(chunk))) if k)
    return found


async def publish(engine: Engine, *, kind: str, payload: Mapping[str, Any], key: str | None = None) -> int:
    """Write one event to the outbox (committed on return); returns its id. See the module docstring."""
    return await anyio.to_thread.run_sync(lambda: publish_sync(engine, kind=kind, payload=payload, key=key))


# A dispatcher in this process is woken at once by a publish here instead of at its next poll; other
# processes find the event at their next poll of the table.
_local_listeners: list[Any] = []


def add_local_listener(callback: Any) -> None:
    """Call ``callback()`` (thread-safe on the listener's side) after each publish in this process."""
    _local_listeners.append(callback)


def remove_local_listener(callback: Any) -> None:
    """Undo ``add_local_listener``."""
    if callback in _local_listeners:
        _local_listeners.remove(callback)


def _wake_local_listeners() -> None:
    for callback in list(_local_listeners):
        callback()


def events_after(engine: Engine, *, after_id: int, also: Sequence[int] = (), limit: int = 500) -> list[Event]:
    """Events with an id above ``after_id`` (and the ids in ``also``, gaps a tail still waits for), oldest first."""
    with Session(engine) as session:
        condition = col(OutboxEvent.id) > after_id
        if also:
            condition = or_(condition, col(OutboxEvent.id).in_(list(also)))
        rows = session.exec(select(OutboxEvent).where(condition).order_by(col(OutboxEvent.id)).limit(limit)).all()
        return [_event(row) for row in rows]


def last_event_id(engine: Engine) -> int:
    """The highest event id written so far (0 when none)."""
    with Session(engine) as session:
        rows = session.exec(select(OutboxEvent.id).order_by(col(OutboxEvent.id).desc()).limit(1)).all()
        return int(rows[0]) if rows and rows[0] is not None else 0


def get_event(engine: Engine, event_id: int) -> Event | None:
    """One event by id."""
    with Session(engine) as session:
        row = session.get(OutboxEvent, event_id)
        return _event(row) if row is not None else None


def events_not_fanned_out(engine: Engine, *, before_ms: int, limit: int = 100) -> list[int]:
    """Ids of events older than ``before_ms`` whose webhook deliveries were never written (their process died)."""
    with Session(engine) as session:
        rows = session.exec(
            select(OutboxEvent.id)
            .where(col(OutboxEvent.fanned_out_at_ms).is_(None), col(OutboxEvent.created_at_ms) < before_ms)
            .order_by(col(OutboxEvent.id))
            .limit(limit)
        ).all()
        return [int(i) for i in rows if i is not None]


def claim_fanout(engine: Engine, *, event_id: int, lease_ms: int) -> bool:
    """Take the job of writing an event's webhook deliveries; False when it is done or another process holds it.

    One UPDATE decides: SQLite runs it under its one write lock, PostgreSQL re-checks the condition on the
    row it locked, so two processes never both get True within a lease.
    """
    now = now_ms()
    statement = (
        update(OutboxEvent)
        .where(
            and_(
                col(OutboxEvent.id) == event_id,
                col(OutboxEvent.fanned_out_at_ms).is_(None),
                or_(col(OutboxEvent.fanout_lease_until_ms).is_(None), col(OutboxEvent.fanout_lease_until_ms) < now),
            )
        )
        .values(fanout_lease_until_ms=now + lease_ms)
    )
    with engine.begin() as connection:
        return connection.execute(statement).rowcount == 1


def record_fanout(engine: Engine, *, event: Event, bodies: Sequence[tuple[WebhookRecord, bytes]]) -> int:
    """Write one delivery per (webhook, body) and mark the event fanned out, in one transaction.

    Returns how many deliveries were written: 0 when another process marked the event first (after this
    one's lease ran out), in which case nothing is written.
    """
    now = now_ms()
    with Session(engine) as session:
        marked = session.execute(
            update(OutboxEvent)
            .where(and_(col(OutboxEvent.id) == event.id, col(OutboxEvent.fanned_out_at_ms).is_(None)))
            .values(fanned_out_at_ms=now)
        )
        if marked.rowcount != 1:  # type: ignore[attr-defined]
            session.rollback()
            return 0
        for webhook, body in bodies:
            session.add(
                WebhookDelivery(
                    id=delivery_id_from_body(body),
                    event_id=event.id,
                    webhook_id=webhook.id,
                    firm_id=webhook.firm_id,
                    kind=event.kind,
                    body=body.decode(),
                    status=DeliveryStatus.PENDING.value,
                    created_at_ms=now,
                    next_attempt_at_ms=now,
                )
            )
        session.commit()
        return len(bodies)


def new_delivery_id() -> str:
    """An idempotency key for one delivery: the body's ``id`` and the ``Hub-Delivery`` header."""
    return f"delivery-{uuid.uuid4()}"


def delivery_id_from_body(body: bytes) -> str:
    """The delivery id a rendered body carries."""
    delivery_id = json.loads(body)["id"]
    if not isinstance(delivery_id, str):
        raise ValueError("a delivery body needs its id")
    return delivery_id


# --- deliveries -------------------------------------------------------------------------------------------------


def claim_deliveries(engine: Engine, *, limit: int, lease_ms: int) -> list[ClaimedDelivery]:
    """Take up to ``limit`` due deliveries under a lease, counting the attempt; each goes to one process only.

    The claim is one UPDATE per delivery with the due-and-free condition in its WHERE: SQLite serialises
    writers, PostgreSQL re-checks the WHERE on the locked row, so a delivery is never claimed twice within a
    lease. Candidates are picked with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL so processes do not queue on
    each other's rows.
    """
    now = now_ms()
    token = uuid.uuid4().hex
    free = or_(col(WebhookDelivery.lease_until_ms).is_(None), col(WebhookDelivery.lease_until_ms) < now)
    due = and_(
        col(WebhookDelivery.status) == DeliveryStatus.PENDING.value,
        col(WebhookDelivery.next_attempt_at_ms) <= now,
        free,
    )
    claimed: list[ClaimedDelivery] = []
    with Session(engine) as session:
        candidates = select(WebhookDelivery.id).where(due).order_by(col(WebhookDelivery.next_attempt_at_ms))
        if engine.dialect.name == "postgresql":
            candidates = candidates.with_for_update(skip_locked=True)
        ids = list(session.exec(candidates.limit(limit)).all())
        for delivery_id in ids:
            taken = session.execute(
                update(WebhookDelivery)
                .where(and_(col(WebhookDelivery.id) == delivery_id, due))
                .values(
                    lease_until_ms=now + lease_ms,
                    lease_token=token,
                    attempts=col(WebhookDelivery.attempts) + 1,
                    last_attempt_at_ms=now,
                )
            )
            if taken.rowcount != 1:  # type: ignore[attr-defined]
                continue
        session.commit()
        if not ids:
            return []
        rows = session.exec(
            select(WebhookDelivery, Webhook)
            .join(Webhook, col(Webhook.id) == col(WebhookDelivery.webhook_id))
            .where(col(WebhookDelivery.lease_token) == token, col(WebhookDelivery.id).in_(ids))
        ).all()
        for delivery, webhook in rows:
            claimed.append(
                ClaimedDelivery(
                    id=delivery.id,
                    kind=delivery.kind,
                    url=webhook.url,
                    secret=webhook.secret,
                    body=delivery.body,
                    attempts=delivery.attempts,
                    lease_token=token,
                    firm_id=delivery.firm_id,
                )
            )
    return claimed


@dataclass(frozen=True)
class Outcome:
    """How one attempt went: delivered, to be retried at ``retry_at_ms``, or given up (neither)."""

    delivery: ClaimedDelivery
    delivered: bool
    status_code: int | None
    error: str | None
    retry_at_ms: int | None


def finish_deliveries(engine: Engine, outcomes: Sequence[Outcome]) -> int:
    """Record attempts' outcomes in one transaction; returns how many counted (an outcome whose lease was lost
    meanwhile, because another process took the delivery over, does not)."""
    now = now_ms()
    counted = 0
    with engine.begin() as connection:
        for outcome in outcomes:
            if outcome.delivered:
                values: dict[str, Any] = {"status": DeliveryStatus.DELIVERED.value, "delivered_at_ms": now}
            elif outcome.retry_at_ms is not None:
                values = {"next_attempt_at_ms": outcome.retry_at_ms}
            else:
                values = {"status": DeliveryStatus.FAILED.value}
            values.update(
                lease_until_ms=None,
                lease_token=None,
                last_status_code=outcome.status_code,
                last_error=outcome.error[:MAX_ERROR_LENGTH] if outcome.error else None,
            )
            result = connection.execute(
                update(WebhookDelivery)
                .where(
                    and_(
                        col(WebhookDelivery.id) == outcome.delivery.id,
                        col(WebhookDelivery.lease_token) == outcome.delivery.lease_token,
                        col(WebhookDelivery.status) == DeliveryStatus.PENDING.value,
                    )
                )
                .values(**values)
            )
            counted += result.rowcount
    return counted


def finish_delivery(
    engine: Engine,
    *,
    delivery: ClaimedDelivery,
    delivered: bool,
    status_code: int | None,
    error: str | None,
    retry_at_ms: int | None,
) -> bool:
    """Record one attempt's outcome (``finish_deliveries``); False if the lease was lost meanwhile."""
    outcome = Outcome(delivery, delivered, status_code, error, retry_at_ms)
    return finish_deliveries(engine, [outcome]) == 1


def next_due_ms(engine: Engine) -> int | None:
    """When the earliest pending delivery can next be claimed (None when nothing is pending): its next attempt,
    or the end of the lease a process holds on it (the attempt under way may fail and leave it to be retried)."""
    claimable = case(
        (col(WebhookDelivery.lease_until_ms) > col(WebhookDelivery.next_attempt_at_ms), WebhookDelivery.lease_until_ms),
        else_=WebhookDelivery.next_attempt_at_ms,
    )
    with Session(engine) as session:
        value = session.execute(
            select(func.min(claimable)).where(col(WebhookDelivery.status) == DeliveryStatus.PENDING.value)
        ).scalar()
        return int(value) if value is not None else None


# --- webhooks ---------------------------------------------------------------------------------------------------


def _webhook(row: Webhook, *, with_secret: bool = False) -> WebhookRecord:
    return WebhookRecord(
        id=row.id,
        firm_id=row.firm_id,
        url=row.url,
        events=tuple(k for k in row.events.split(",") if k),
        created_at_ms=row.created_at_ms,
        secret=row.secret if with_secret else None,
        subscription=json.loads(row.subscription) if row.subscription else None,
    )


class WebhookUrlError(HubError):
    """A webhook URL the hub will not post to."""


def check_webhook_url(url: str, *, allow_private: bool, field: str = "input.url") -> str:
    """The URL, checked: http or https with a host, no credentials; unless ``allow_private``, a host that is
    or resolves to a loopback, private, link-local, reserved or unspecified address is refused (the hub must
    not be made to post into its own network). Resolves names: run it in a worker thread."""
    url = url.strip()
    if not url or len(url) > MAX_URL_LENGTH:
        raise WebhookUrlError(f"url must be 1 to {MAX_URL_LENGTH} characters", field=field)
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise WebhookUrlError(f"url is not a valid URL: {error}", field=field) from None
    if parts.scheme not in ("http", "https"):
        raise WebhookUrlError("url must start with http:// or https://", field=field)
    if not parts.hostname:
        raise WebhookUrlError("url has no host", field=field)
    if parts.username is not None or parts.password is not None:
        raise WebhookUrlError("url must not carry a user name or password", field=field)
    if parts.fragment:
        raise WebhookUrlError("url must not have a #fragment", field=field)
    if not allow_private:
        refused = refused_address(parts.hostname, port or (443 if parts.scheme == "https" else 80))
        if refused is not None:
            raise WebhookUrlError(
                f"url's host {parts.hostname} is or resolves to {refused}, a loopback, private, link-local or "
                "unspecified address: webhooks must reach a public address",
                field=field,
            )
    return url


def refused_address(host: str, port: int) -> str | None:
    """The first non-public address ``host`` is or resolves to (None when every address is public).

    A name that does not resolve is refused too (it cannot be checked)."""
    try:
        addresses = [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError:
            return "no address (it does not resolve)"
        addresses = [ipaddress.ip_address(info[4][0]) for info in infos]
    for address in addresses:
        mapped = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) else None
        candidate = mapped or address
        if not candidate.is_global or candidate.is_multicast:
            return str(address)
    return None


def _check_events(events: Sequence[str]) -> tuple[str, ...]:
    if not events:
        raise HubError("name at least one event", field="input.events")
    return tuple(sorted({EventKind(e).value for e in events}))


def register_webhook(
    engine: Engine, *, firm_id: str, url: str, events: Sequence[str], created_by: str
) -> WebhookRecord:
    """Register a checked URL for a firm; the answer carries the signing secret, the only time it is shown."""
    kinds = _check_events(events)
    with Session(engine) as session:
        mine = select(Webhook.id).where(Webhook.firm_id == firm_id, col(Webhook.subscription).is_(None))
        count = len(session.exec(mine).all())
        if count >= MAX_WEBHOOKS_PER_FIRM:
            raise HubError(f"a firm may register at most {MAX_WEBHOOKS_PER_FIRM} webhooks", field="input")
        row = Webhook(
            id=f"webhook-{uuid.uuid4()}",
            firm_id=firm_id,
            url=url,
            events=",".join(kinds),
            secret=f"whsec_{secrets.token_urlsafe(32)}",
            created_at_ms=now_ms(),
            created_by=created_by[:300],
        )
        session.add(row)
        session.commit()
        session.refresh(row)
        return _webhook(row, with_secret=True)


def firm_webhooks(engine: Engine, *, firm_id: str) -> list[WebhookRecord]:
    """A firm's webhooks, oldest first, without their secrets."""
    with Session(engine) as session:
        rows = session.exec(
            select(Webhook)
            .where(Webhook.firm_id == firm_id, col(Webhook.subscription).is_(None))
            .order_by(col(Webhook.created_at_ms), col(Webhook.id))
        ).all()
        return [_webhook(row) for row in rows]


def webhooks_for_kind(engine: Engine, *, kind: str) -> list[WebhookRecord]:
    """Every webhook listening to ``kind``, with the secret it signs with."""
    with Session(engine) as session:
        rows = session.exec(select(Webhook).where(col(Webhook.events).contains(kind))).all()
        return [_webhook(row, with_secret=True) for row in rows if kind in row.events.split(",")]


def delete_webhook(engine: Engine, *, firm_id: str, webhook_id: str) -> bool:
    """Delete a firm's webhook and cancel what it had not yet delivered; False when the firm has no such webhook."""
    with Session(engine) as session:
        row = session.get(Webhook, webhook_id)
        if row is None or row.firm_id != firm_id or row.subscription is not None:
            return False
        cancel_deliveries(session, webhook_id)
        session.delete(row)
        session.commit()
        return True


def cancel_deliveries(session: Session, webhook_id: str) -> None:
    """Cancel what a webhook had not delivered yet (in the caller's session, before it deletes the webhook)."""
    pending = and_(
        col(WebhookDelivery.webhook_id) == webhook_id, col(WebhookDelivery.status) == DeliveryStatus.PENDING.value
    )
    session.execute(
        update(WebhookDelivery)
        .where(pending)
        .values(status=DeliveryStatus.CANCELLED.value, lease_token=None, lease_until_ms=None)
    )


def webhook_deliveries(engine: Engine, *, firm_id: str, webhook_id: str, limit: int) -> list[DeliveryRecord]:
    """A firm's webhook's delivery log, newest first."""
    with Session(engine) as session:
        rows = session.exec(
            select(WebhookDelivery)
            .where(WebhookDelivery.webhook_id == webhook_id, WebhookDelivery.firm_id == firm_id)
            .order_by(col(WebhookDelivery.created_at_ms).desc(), col(WebhookDelivery.id))
            .limit(limit)
        ).all()
        return [
            DeliveryRecord(
                id=row.id,
                webhook_id=row.webhook_id,
                event_id=row.event_id,
                kind=row.kind,
                status=row.status,
                attempts=row.attempts,
                created_at_ms=row.created_at_ms,
                last_attempt_at_ms=row.last_attempt_at_ms,
                delivered_at_ms=row.delivered_at_ms,
                last_status_code=row.last_status_code,
                last_error=row.last_error,
            )
            for row in rows
        ]
