"""EPCIS 2.0 query subscriptions by webhook: a named query's new matching events POSTed to the subscriber.

A subscription is a webhook of the notification machinery (``graph_schema.notifications``) listening to
``EPCIS_EVENTS_CAPTURED``, with its definition kept in the webhook's ``subscription`` column: the named query it
follows and the firm that subscribed. So the outbox, the fan-out, the signed and retried deliveries and their log
are the ones every other notification uses; the rule that renders a capture for a subscription
(``resolvers/epcis_subscriptions.py``) runs the subscriber's query, with the subscriber's own permission decision
taken at each push, over the events that capture wrote.

The standard's ``signatureToken`` (chosen by the subscriber) keys the HMAC-SHA256 of each body
(``GS1-Signature: sha256=<hex>``, also sent as ``Hub-Signature``); without one, the hub makes a secret and shows
it once in the answer that created the subscription.
"""

from __future__ import annotations

import json
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from sqlalchemy import BigInteger, Column, func, update
from sqlalchemy.engine import CursorResult, Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, Session, SQLModel, col, select

from graph_schema.epcis.schedule import Schedule, parse_schedule
from graph_schema.epcis.standard import parse_date_time
from graph_schema.errors import HubError
from graph_schema.notifications import EventKind, Webhook, cancel_deliveries, now_ms

KIND: Final = EventKind.EPCIS_EVENTS_CAPTURED.value
MAX_SUBSCRIPTIONS_PER_FIRM: Final = 20
MAX_SIGNATURE_TOKEN: Final = 100
MIN_SIGNATURE_TOKEN: Final = 16  # an HMAC key shorter than this is guessable
SCHEDULE_KEYS: Final = ("second", "minute", "hour", "dayOfMonth", "month", "dayOfWeek")
SUBSCRIPTION_KEYS: Final = frozenset(
    {"dest", "signatureToken", "stream", "reportIfEmpty", "initialRecordTime", "schedule", "@context"}
)


class SubscriptionError(HubError):
    """A subscription request the hub cannot take as given."""


class SubscriptionLimit(HubError):
    """The firm holds as many subscriptions as it may."""

    code = "LIMIT_EXCEEDED"


@dataclass(frozen=True)
class Subscription:
    """A firm's subscription to one of its named queries: streamed (each capture's matching events) or scheduled
    (the query's events recorded since its last run, at each time its schedule gives)."""

    id: str
    firm_id: str
    query_name: str
    dest: str
    created_at_ms: int
    created_by: str
    signature_token: str | None = None  # only in the answer that created it, when the hub made it
    schedule: dict[str, str] | None = None
    report_if_empty: bool = False
    initial_record_time: str | None = None  # ISO 8601, UTC: where its first push or run starts

    @property
    def scheduled(self) -> Schedule | None:
        """The schedule it runs on (None: streamed)."""
        return parse_schedule(self.schedule) if self.schedule else None

    def document(self) -> dict[str, Any]:
        """As the REST binding shows a subscription."""
        body: dict[str, Any] = {
            "subscriptionID": self.id,
            "queryName": self.query_name,
            "dest": self.dest,
            "stream": self.schedule is None,
            "reportIfEmpty": self.report_if_empty,
            "createdAt": datetime.fromtimestamp(self.created_at_ms / 1000, UTC).isoformat(),
        }
        if self.schedule is not None:
            body["schedule"] = dict(self.schedule)
        if self.initial_record_time is not None:
            body["initialRecordTime"] = self.initial_record_time
        if self.signature_token is not None:
            body["signatureToken"] = self.signature_token
        return body


@dataclass(frozen=True)
class SubscriptionRequest:
    """A POST .../subscriptions body, checked."""

    dest: str
    signature_token: str | None
    schedule: Schedule | None
    report_if_empty: bool
    initial_record_time: str | None


def initial_record_time(value: object, *, now: datetime, field: str = "initialRecordTime") -> str | None:
    """An ``initialRecordTime`` as the store compares record times (UTC), not in the future; None when not given."""
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > 100:
        raise SubscriptionError(f"{field} must be a date-time such as 2026-11-01T00:00:00Z", field=field)
    try:
        moment = parse_date_time(value).astimezone(UTC)
    except ValueError as error:
        raise SubscriptionError(f"{field}: {error}", field=field) from None
    if moment > now:
        raise SubscriptionError(f"{field} is in the future; events are pushed from then on anyway", field=field)
    return moment.isoformat()


def check_request(body: object, *, now: datetime | None = None) -> SubscriptionRequest:
    """A POST .../subscriptions body, checked (the URL itself is checked by
    ``graph_schema.notifications.check_webhook_url``); SubscriptionError naming the field otherwise."""
    if not isinstance(body, dict):
        raise SubscriptionError('the body must be a JSON object {"dest": ..., "stream": true}', field="body")
    unknown = sorted(set(body) - SUBSCRIPTION_KEYS - set(SCHEDULE_KEYS))
    if unknown:
        raise SubscriptionError(f"{unknown[0][:100]!r} is not part of a query subscription", field=unknown[0][:100])
    loose = [key for key in SCHEDULE_KEYS if key in body]
    if loose:
        raise SubscriptionError(f'{loose[0]} belongs in "schedule": {{"{loose[0]}": ...}}', field=loose[0])
    schedule = parse_schedule(body["schedule"]) if "schedule" in body else None
    if schedule is None and body.get("stream") is not True:
        raise SubscriptionError(
            'give "stream": true (each new matching event pushed as it is captured) or a "schedule"', field="stream"
        )
    if schedule is not None and body.get("stream") not in (None, False):
        raise SubscriptionError('a scheduled subscription is not streamed: leave "stream" out', field="stream")
    report_if_empty = body.get("reportIfEmpty", False)
    if not isinstance(report_if_empty, bool):
        raise SubscriptionError("reportIfEmpty must be true or false", field="reportIfEmpty")
    if report_if_empty and schedule is None:
        raise SubscriptionError("reportIfEmpty applies to scheduled subscriptions only", field="reportIfEmpty")
    initial = initial_record_time(body.get("initialRecordTime"), now=now or datetime.now(UTC))
    dest = body.get("dest")
    if not isinstance(dest, str):
        raise SubscriptionError("dest must be the URL the events are POSTed to", field="dest")
    token = body.get("signatureToken")
    if token is not None and (
        not isinstance(token, str) or not MIN_SIGNATURE_TOKEN <= len(token) <= MAX_SIGNATURE_TOKEN
    ):
        raise SubscriptionError(
            f"signatureToken must be a text of {MIN_SIGNATURE_TOKEN} to {MAX_SIGNATURE_TOKEN} characters (the "
            "key of the HMAC-SHA256 that signs each body)",
            field="signatureToken",
        )
    return SubscriptionRequest(
        dest=dest,
        signature_token=token,
        schedule=schedule,
        report_if_empty=report_if_empty,
        initial_record_time=initial,
    )


def _subscription(row: Webhook, *, token: str | None = None) -> Subscription:
    definition = json.loads(row.subscription or "{}")
    return Subscription(
        id=row.id,
        firm_id=row.firm_id,
        query_name=str(definition.get("queryName", "")),
        dest=row.url,
        created_at_ms=row.created_at_ms,
        created_by=row.created_by,
        signature_token=token,
        schedule=definition.get("schedule"),
        report_if_empty=bool(definition.get("reportIfEmpty", False)),
        initial_record_time=definition.get("initialRecordTime"),
    )


def subscribe(
    engine: Engine,
    *,
    firm_id: str,
    query_name: str,
    query: dict[str, Any],
    dest: str,
    signature_token: str | None,
    created_by: str,
    schedule: Schedule | None = None,
    report_if_empty: bool = False,
    initial_record_time: str | None = None,
) -> Subscription:
    """Subscribe a firm to one of its named queries (``dest`` already checked; ``query`` the named query's
    parameters, kept with the subscription: a named query is never changed, only deleted with its subscriptions);
    at most ``MAX_SUBSCRIPTIONS_PER_FIRM`` per firm."""
    with Session(engine) as session:
        held = select(func.count()).select_from(Webhook)
        held = held.where(Webhook.firm_id == firm_id, col(Webhook.subscription).is_not(None))
        if session.exec(held).one() >= MAX_SUBSCRIPTIONS_PER_FIRM:
            raise SubscriptionLimit(
                f"your firm holds {MAX_SUBSCRIPTIONS_PER_FIRM} query subscriptions, the most it may; delete one",
                field="dest",
            )
        made = signature_token is None
        token = signature_token if signature_token is not None else f"whsec_{secrets.token_urlsafe(32)}"
        row = Webhook(
            id=f"subscription-{uuid.uuid4()}",
            firm_id=firm_id,
            url=dest,
            events=KIND,
            secret=token,
            created_at_ms=now_ms(),
            created_by=created_by[:300],
            subscription=json.dumps(
                {
                    "queryName": query_name,
                    "query": query,
                    "schedule": schedule.document() if schedule is not None else None,
                    "reportIfEmpty": report_if_empty,
                    "initialRecordTime": initial_record_time,
                }
            ),
        )
        session.add(row)
        session.commit()
        session.refresh(row)
        return _subscription(row, token=token if made else None)


def _query_rows(session: Session, firm_id: str, query_name: str) -> list[Webhook]:
    rows = session.exec(
        select(Webhook)
        .where(Webhook.firm_id == firm_id, col(Webhook.subscription).is_not(None))
        .order_by(col(Webhook.created_at_ms), col(Webhook.id))
    ).all()
    return [row for row in rows if _subscription(row).query_name == query_name]


def subscriptions_of(engine: Engine, *, firm_id: str, query_name: str) -> list[Subscription]:
    """The firm's subscriptions to one of its named queries, oldest first."""
    with Session(engine) as session:
        return [_subscription(row) for row in _query_rows(session, firm_id, query_name)]


def get_subscription(engine: Engine, *, firm_id: str, query_name: str, subscription_id: str) -> Subscription | None:
    """One of the firm's subscriptions (another firm's are not disclosed)."""
    with Session(engine) as session:
        row = session.get(Webhook, subscription_id)
        if row is None or row.firm_id != firm_id or row.subscription is None:
            return None
        found = _subscription(row)
        return found if found.query_name == query_name else None


def unsubscribe(engine: Engine, *, firm_id: str, query_name: str, subscription_id: str) -> bool:
    """Delete one of the firm's subscriptions and cancel what it had not delivered; False when there is none."""
    with Session(engine) as session:
        row = session.get(Webhook, subscription_id)
        if row is None or row.firm_id != firm_id or row.subscription is None:
            return False
        if _subscription(row).query_name != query_name:
            return False
        cancel_deliveries(session, subscription_id)
        session.delete(row)
        run = session.get(EpcisScheduleRun, subscription_id)
        if run is not None:
            session.delete(run)
        session.commit()
        return True


def unsubscribe_query(engine: Engine, *, firm_id: str, query_name: str) -> int:
    """Delete every subscription to a named query (the query is being deleted); how many there were."""
    with Session(engine) as session:
        rows = _query_rows(session, firm_id, query_name)
        for row in rows:
            cancel_deliveries(session, row.id)
            session.delete(row)
        session.commit()
        return len(rows)


# --- scheduled runs -----------------------------------------------------------------------------------------------


class EpcisScheduleRun(SQLModel, table=True):
    """When a scheduled subscription last ran: the lease that lets one hub process, of however many, run it at each
    time its schedule gives (a compare-and-set on ``last_run_ms``), and where its next run's events start."""

    __tablename__ = "epcis_schedule_run"

    subscription_id: str = Field(primary_key=True, max_length=100)
    last_run_ms: int = Field(sa_column=Column(BigInteger, nullable=False))  # milliseconds: past 32 bits


def scheduled_subscriptions(engine: Engine) -> list[Subscription]:
    """Every scheduled subscription of every firm."""
    with Session(engine) as session:
        rows = session.exec(select(Webhook).where(col(Webhook.subscription).is_not(None))).all()
    return [found for row in rows if (found := _subscription(row)).schedule is not None]


def claim_run(engine: Engine, subscription: Subscription, *, run_ms: int) -> int | None:
    """Take the run of ``subscription`` at ``run_ms`` for this process: where its events start (its last run, else
    its initialRecordTime, else its creation), or None when another process (or this one) has taken it already."""
    with Session(engine) as session:
        row = session.get(EpcisScheduleRun, subscription.id)
        if row is None:
            start = subscription.created_at_ms
            if subscription.initial_record_time is not None:
                start = int(datetime.fromisoformat(subscription.initial_record_time).timestamp() * 1000)
            session.add(EpcisScheduleRun(subscription_id=subscription.id, last_run_ms=run_ms))
            try:
                session.commit()
            except IntegrityError:  # another process took this first run
                return None
            return start
        last = row.last_run_ms
        if last >= run_ms:
            return None
        taken: CursorResult[Any] = session.execute(  # type: ignore[assignment]
            update(EpcisScheduleRun)
            .where(col(EpcisScheduleRun.subscription_id) == subscription.id, col(EpcisScheduleRun.last_run_ms) == last)
            .values(last_run_ms=run_ms)
        )
        session.commit()
        return last if taken.rowcount == 1 else None
