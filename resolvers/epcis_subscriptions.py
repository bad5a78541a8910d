"""EPCIS query subscriptions: what a capture pushes to each subscriber of a named query, decided at each push.

Every committed capture publishes one ``EPCIS_EVENTS_CAPTURED`` event (its id, firm and record time). For each
subscription (a webhook, ``graph_schema.epcis.subscriptions``, or an open websocket, ``hub/epcis_subscriptions.py``)
the subscriber's named query runs again, with the subscriber firm's permission decision taken now, restricted to the
events of that capture (their record time, which a capture gives all its events); the matching events it may see
go out as EPCISQueryDocuments of at most ``MAX_EVENTS_PER_DOCUMENT`` events, at most ``MAX_DOCUMENTS_PER_PUSH`` of
them per capture: one push's work is bounded by the capture's own size, whatever the query.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, Final

import anyio
import orjson
from sqlalchemy.engine import Engine

from auth.audit import record_access
from auth.decisions import Decision
from graph_schema.access import Viewer
from graph_schema.db import Graph
from graph_schema.epcis.capture import CaptureOutcome
from graph_schema.epcis.event_reads import Position, position_after, query_events, recent_captures
from graph_schema.epcis.named_queries import query_items
from graph_schema.epcis.query import parse_simple_event_query
from graph_schema.notifications import EventKind, WebhookRecord, publish, published_keys
from resolvers.broadcast import register_event_kind

log = logging.getLogger(__name__)

KIND: Final = EventKind.EPCIS_EVENTS_CAPTURED.value
MAX_EVENTS_PER_DOCUMENT: Final = 1000
MAX_DOCUMENTS_PER_PUSH: Final = 10
EPCIS_CONTEXT: Final = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
OPERATION: Final = "EPCIS query subscription"


def captured_payload(*, capture_id: str, firm_id: str, record_time: datetime, captured: int) -> dict[str, Any]:
    """What a capture publishes: which capture, whose, when it was recorded (every event of it shares the time)."""
    return {"captureId": capture_id, "firmId": firm_id, "recordTime": record_time.isoformat(), "captured": captured}


def _later(first: str | None, second: str) -> str:
    if first is None:
        return second
    return max(first, second, key=datetime.fromisoformat)


def _earlier(first: str | None, second: str) -> str:
    if first is None:
        return second
    return min(first, second, key=datetime.fromisoformat)


async def matching_documents(
    graph: Graph,
    engine: Engine | None,
    viewer: Viewer,
    *,
    firm_id: str,
    subject: str,
    query_name: str,
    query: Mapping[str, Any],
    subscription_id: str | None,
    payload: Mapping[str, Any],
) -> list[dict[str, Any]]:
    """The EPCISQueryDocuments of one push: the capture's events matching ``query`` that ``viewer`` may see now.

    Other firms' events go out only once their reading is in the access log (as GET /events); when it cannot be
    written, nothing goes out.
    """
    parsed = parse_simple_event_query(query_items(dict(query)))
    if "recordTime" in payload:
        # the capture's events, and no others: they share its record time to the microsecond
        recorded = datetime.fromisoformat(str(payload["recordTime"]))
        start, end = recorded.isoformat(), (recorded + timedelta(microseconds=1)).isoformat()
    else:  # one subscription's own window: its initialRecordTime, or a scheduled run since the one before
        start, end = str(payload["from"]), str(payload["to"])
    report_if_empty = bool(payload.get("reportIfEmpty", False))
    window = dataclasses.replace(
        parsed.filter,
        ge_record_time=_later(parsed.filter.ge_record_time, start),
        lt_record_time=_earlier(parsed.filter.lt_record_time, end),
    )
    # the query's own recordTime bounds may leave the whole window out
    empty = datetime.fromisoformat(window.ge_record_time or start) >= datetime.fromisoformat(
        window.lt_record_time or end
    )
    pages: list[list[dict[str, Any]]] = []
    counts: dict[str, int] = {}
    after: Position | None = None
    for _ in range(0 if empty else MAX_DOCUMENTS_PER_PUSH):
        rows = await query_events(graph, viewer, window, after=after, limit=MAX_EVENTS_PER_DOCUMENT)
        if not rows:
            break
        pages.append([orjson.loads(row["json"]) for row in rows])
        for row in rows:
            if row["capturedBy"] != firm_id:
                counts[row["capturedBy"]] = counts.get(row["capturedBy"], 0) + 1
        if len(rows) < MAX_EVENTS_PER_DOCUMENT:
            break
        after = position_after(rows[-1])
    if counts and engine is not None:
        await record_access(
            engine,
            accessor_firm_id=firm_id,
            accessor_subject=subject,
            accessor_issuer="hub",
            operation=OPERATION,
            counts=counts,
        )
    if not pages and report_if_empty:
        pages = [[]]  # a scheduled run tells that it ran and found nothing
    created = datetime.now(UTC).isoformat()
    documents: list[dict[str, Any]] = []
    for events in pages:
        results: dict[str, Any] = {"queryName": query_name}
        if subscription_id is not None:
            results["subscriptionID"] = subscription_id
        results["resultsBody"] = {"eventList": events}
        documents.append(
            {
                "@context": [EPCIS_CONTEXT],
                "type": "EPCISQueryDocument",
                "schemaVersion": "2.0",
                "creationDate": created,
                "epcisBody": {"queryResults": results},
            }
        )
    return documents


async def publish_captured(
    engine: Engine, *, capture_id: str, firm_id: str, record_time: datetime, outcome: CaptureOutcome
) -> None:
    """Tell the query subscriptions that a capture wrote events (once per capture); a failure is logged, the
    capture stays as it is (its events are then not pushed)."""
    if not outcome.captured:
        return
    payload = captured_payload(
        capture_id=capture_id, firm_id=firm_id, record_time=record_time, captured=outcome.captured
    )
    try:
        await publish(engine, kind=KIND, payload=payload, key=f"EPCIS:{capture_id}")
    except Exception:
        log.exception("could not tell the query subscriptions of capture %s", capture_id)


SWEEP_HOURS: Final = 24
SWEEP_CAPTURES: Final = 10_000


async def publish_unpublished(graph: Graph, engine: Engine, *, now: datetime | None = None) -> int:
    """Publish each capture of the last day whose publish a dying process never made (the outbox keeps one event per
    capture by its key: a capture already published is left alone); how many were published now."""
    since = (now or datetime.now(UTC)) - timedelta(hours=SWEEP_HOURS)
    captures = await recent_captures(graph, since=since.isoformat(), limit=SWEEP_CAPTURES)
    keys = [f"EPCIS:{row['captureId']}" for row in captures if row["captureId"] is not None]
    done = await anyio.to_thread.run_sync(partial(published_keys, engine, keys))
    published = 0
    for row in captures:
        key = f"EPCIS:{row['captureId']}"
        if row["captureId"] is None or key in done:
            continue
        payload = captured_payload(
            capture_id=str(row["captureId"]),
            firm_id=str(row["firmId"]),
            record_time=row["recordTime"].to_native(),
            captured=int(row["captured"]),
        )
        await publish(engine, kind=KIND, payload=payload, key=key)
        published += 1
    if published:
        log.warning("%d captures' events had not been pushed to the query subscriptions; pushed now", published)
    return published


async def publish_window(
    engine: Engine, *, subscription_id: str, start: str, end: str, report_if_empty: bool, key: str
) -> None:
    """Push one subscription the query's events recorded from ``start`` to ``end`` (its initialRecordTime, or a
    scheduled run): an outbox event only that subscription renders, once per ``key`` whichever process asks."""
    payload = {"subscriptionId": subscription_id, "from": start, "to": end, "reportIfEmpty": report_if_empty}
    await publish(engine, kind=KIND, payload=payload, key=key)


async def render_subscription(
    graph: Graph, engine: Engine, decision: Decision, payload: Mapping[str, Any], webhook: WebhookRecord
) -> list[dict[str, Any]] | None:
    """The documents one webhook subscription is sent for a capture (none: nothing it may see matched)."""
    definition = webhook.subscription
    if definition is None:
        return None  # a plain webhook does not listen to this kind
    own = payload.get("subscriptionId")
    if own is not None and own != webhook.id:
        return None  # another subscription's initial push or scheduled run
    if own is None and definition.get("schedule"):
        return None  # a scheduled subscription is sent its runs, not each capture
    return await matching_documents(
        graph,
        engine,
        decision.viewer,
        firm_id=webhook.firm_id,
        subject=f"subscription:{webhook.id}",
        query_name=str(definition["queryName"]),
        query=definition["query"],
        subscription_id=webhook.id,
        payload=payload,
    )


async def _nothing_firm_wide(graph: Graph, decision: Decision, payload: Mapping[str, Any]) -> dict[str, Any] | None:
    return None  # each subscription is rendered on its own (render_webhook)


register_event_kind(KIND, render=_nothing_firm_wide, render_webhook=render_subscription)
