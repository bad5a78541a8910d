"""The dispatcher: tails the outbox, hands events to this process's subscribers, and delivers webhooks.

Every hub process runs one, started by the app's lifespan; they share the work through the SQL store alone:
- each process tails the outbox (``graph_schema.notifications``) for its own websocket subscribers: woken at
  once by a publish in the same process, by its poll (``HUB_NOTIFICATIONS_POLL_SECONDS``) for the others';
- an event's webhook deliveries are written by the one process that claims the event (an UPDATE with a
  lease), after rendering it for each listening firm with that firm's own permission decision;
- each delivery is claimed by one process at a time (an UPDATE with a lease; ``FOR UPDATE SKIP LOCKED`` on
  PostgreSQL), POSTed with its signature, and retried with exponential backoff until a 2xx or the last attempt;
- a sweep picks up what a process that died left behind: events never fanned out, and recall events
  never published (``resolvers.notifications.publish_unnotified_recalls``), and lots that joined an open recall
  unannounced (``publish_recall_joins``).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import random
import uuid
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from typing import Any
from urllib.parse import urlsplit

import anyio
import httpx
from sqlalchemy.engine import Engine

from auth.decisions import decide_for_request
from auth.principal import Principal, Role
from graph_schema import notifications
from graph_schema.db import Graph
from graph_schema.notifications import ClaimedDelivery, Event, EventKind, Outcome, WebhookRecord
from hub.settings import Environment, Settings
from resolvers.broadcast import Broadcast, EventKindRule, Notice, event_kind_rule
from resolvers.notifications import publish_recall_joins, publish_unnotified_recalls
from resolvers.recall_activity import recall_notified_payloads

log = logging.getLogger(__name__)

EPCIS_KIND = notifications.EventKind.EPCIS_EVENTS_CAPTURED.value

USER_AGENT = "food-cluster-hub-webhooks/1"
GAP_PATIENCE_SECONDS = 30.0  # how long a tail waits for an id left out by a transaction still committing
RENDER_CONCURRENCY = 4


def signature(secret: str, body: bytes) -> str:
    """The ``Hub-Signature`` header of ``body``: ``sha256=`` and the hex HMAC-SHA256 keyed by the secret."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def backoff_seconds(attempts: int, *, base: float, cap: float, jitter: Callable[[], float] = random.random) -> float:
    """The wait before the next attempt after ``attempts`` failed ones: doubling from ``base`` up to ``cap``,
    with up to a tenth more at random so receivers that came back are not hit by every hub at once."""
    wait: float = min(cap, base * 2 ** max(0, attempts - 1))
    return wait * (1 + 0.1 * jitter())


class Dispatcher:
    """One per process: the outbox's tail, the webhook fan-out and the delivery loop."""

    def __init__(
        self,
        *,
        settings: Settings,
        graph: Graph,
        engine: Engine,
        broadcast: Broadcast,
        http: httpx.AsyncClient,
    ) -> None:
        self.settings = settings
        self.graph = graph
        self.engine = engine
        self.broadcast = broadcast
        self.http = http
        self.allow_private = settings.env is not Environment.PRODUCTION
        self.lease_ms = int((settings.webhook_timeout_seconds + 30) * 1000)
        self._tail_wake = asyncio.Event()
        self._delivery_wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None

    def _woken_by_publish(self) -> None:  # called from whichever thread published
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._tail_wake.set)

    async def run(self) -> None:
        """Run until cancelled."""
        self._loop = asyncio.get_running_loop()
        notifications.add_local_listener(self._woken_by_publish)
        try:
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(self._guarded, "tail", self._tail)
                tasks.start_soon(self._guarded, "deliveries", self._deliveries)
                tasks.start_soon(self._guarded, "sweep", self._sweep)
        finally:
            notifications.remove_local_listener(self._woken_by_publish)

    async def _guarded(self, name: str, loop: Callable[[], Any]) -> None:
        """Keep a loop alive through store outages: log, wait, start it again."""
        while True:
            try:
                await loop()
            except Exception:
                log.exception("notification %s loop failed; starting it again", name)
                await asyncio.sleep(min(5.0, self.settings.notifications_poll_seconds * 4))

    @staticmethod
    async def _wait(event: asyncio.Event, seconds: float) -> None:
        with anyio.move_on_after(seconds):
            await event.wait()
        event.clear()

    # --- the tail ---------------------------------------------------------------------------------------------

    async def _tail(self) -> None:
        last = await anyio.to_thread.run_sync(notifications.last_event_id, self.engine)
        gaps: dict[int, float] = {}  # ids skipped by the tail, perhaps still committing -> when first missed
        while True:
            waiting = sorted(gaps)
            events = await anyio.to_thread.run_sync(
                partial(notifications.events_after, self.engine, after_id=last, also=waiting)
            )
            clock = asyncio.get_running_loop().time()
            for event in events:
                gaps.pop(event.id, None)
                if event.id > last:
                    for missing in range(last + 1, event.id):
                        gaps.setdefault(missing, clock)
                    last = event.id
                await self._handle(event)
            for missing, since in list(gaps.items()):
                if clock - since > GAP_PATIENCE_SECONDS:
                    del gaps[missing]  # an id never used (a rolled-back insert), not one still committing
            if len(events) < 500:
                await self._wait(self._tail_wake, self.settings.notifications_poll_seconds)

    async def _handle(self, event: Event) -> None:
        rule = event_kind_rule(event.kind)
        if rule is None:
            log.warning("no rule for events of kind %s: nobody is told about event %d", event.kind, event.id)
            await self._settle_without_rule(event)
            return
        audience: frozenset[str] | None = None
        audience_read = False
        if self.broadcast.listening(event.kind):
            audience = await self._audience(rule, event)
            audience_read = True
            self.broadcast.send(Notice(event=event, audience=audience))
        claimed = await anyio.to_thread.run_sync(
            lambda: notifications.claim_fanout(self.engine, event_id=event.id, lease_ms=self.lease_ms)
        )
        if claimed:
            if not audience_read and rule.render_many is None:  # render_many leaves out whom it concerns not
                audience = await self._audience(rule, event)
            await self._fan_out(event, rule, audience)

    async def _audience(self, rule: EventKindRule, event: Event) -> frozenset[str] | None:
        if rule.audience is None:
            return None
        try:
            return await rule.audience(self.graph, event.payload)
        except Exception:  # each firm's renderer decides on its own then
            log.exception("could not read the audience of event %d", event.id)
            return None

    # --- fan-out: one delivery per webhook, rendered for its firm ----------------------------------------------

    async def _fan_out(self, event: Event, rule: EventKindRule, audience: frozenset[str] | None) -> None:
        """Render the event for every firm with a webhook for it and write the deliveries; an error leaves the
        event to the sweep once its lease has run out."""
        webhooks = await anyio.to_thread.run_sync(lambda: notifications.webhooks_for_kind(self.engine, kind=event.kind))
        by_firm: dict[str, list[WebhookRecord]] = defaultdict(list)
        for webhook in webhooks:
            if audience is None or webhook.firm_id in audience:
                by_firm[webhook.firm_id].append(webhook)
        limit = anyio.Semaphore(RENDER_CONCURRENCY)
        bodies: list[tuple[WebhookRecord, bytes]] = []
        occurred = datetime.fromtimestamp(event.created_at_ms / 1000, UTC).isoformat()

        def add(firm_webhooks: list[WebhookRecord], fields: dict[str, Any] | None) -> None:
            if fields is None:
                return
            for webhook in firm_webhooks:
                delivery_id = notifications.new_delivery_id()
                body = {"event": event.kind, "id": delivery_id, "occurredAt": occurred, **fields}
                bodies.append((webhook, json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()))

        async def render(firm_id: str, firm_webhooks: list[WebhookRecord]) -> None:
            async with limit:
                receiver = Principal(subject="hub:webhooks", firm_id=firm_id, roles=frozenset({Role.VIEWER}))
                # decided now, not kept: the write that caused the event may have changed what the firm sees
                decision = await decide_for_request(self.graph, receiver)
                if rule.render_webhook is not None:  # each webhook its own bodies (an EPCIS query subscription's)
                    for webhook in firm_webhooks:
                        for whole in (
                            await rule.render_webhook(self.graph, self.engine, decision, event.payload, webhook) or []
                        ):
                            whole = {**whole, "id": f"urn:uuid:{uuid.uuid4()}"}
                            bodies.append(
                                (webhook, json.dumps(whole, ensure_ascii=False, separators=(",", ":")).encode())
                            )
                    return
                fields = await rule.render(self.graph, decision, event.payload)
            add(firm_webhooks, fields)

        if rule.render_many is not None and rule.render_webhook is None and by_firm:
            told = await rule.render_many(self.graph, frozenset(by_firm), event.payload)
            for firm_id, firm_webhooks in by_firm.items():
                add(firm_webhooks, told.get(firm_id))
        else:
            async with anyio.create_task_group() as tasks:
                for firm_id, firm_webhooks in by_firm.items():
                    tasks.start_soon(render, firm_id, firm_webhooks)
        written = await anyio.to_thread.run_sync(
            lambda: notifications.record_fanout(self.engine, event=event, bodies=bodies)
        )
        if written:
            self._delivery_wake.set()

    async def _settle_without_rule(self, event: Event) -> None:
        """An event no rule renders is marked fanned out with no delivery, so sweeps do not carry it forever."""
        claimed = await anyio.to_thread.run_sync(
            lambda: notifications.claim_fanout(self.engine, event_id=event.id, lease_ms=self.lease_ms)
        )
        if claimed:
            await anyio.to_thread.run_sync(lambda: notifications.record_fanout(self.engine, event=event, bodies=[]))

    # --- deliveries -------------------------------------------------------------------------------------------

    async def _deliveries(self) -> None:
        """Keep up to ``webhook_concurrency`` attempts in flight, claiming more as each ends (a slow receiver holds
        one slot, not a whole round); outcomes are recorded in batches, one transaction for all that ended
        meanwhile (a commit per outcome was a third of a fan-out's delivery time)."""
        poll = self.settings.notifications_poll_seconds
        concurrency = self.settings.webhook_concurrency
        outcomes: list[Outcome] = []
        ended = asyncio.Event()  # an attempt ended: a slot is free and an outcome waits to be recorded
        in_flight = 0

        async def attempt(delivery: ClaimedDelivery) -> None:
            nonlocal in_flight
            try:
                await self._attempt(delivery, outcomes)
            finally:
                in_flight -= 1
                ended.set()

        async def record() -> None:
            while True:
                await ended.wait()
                ended.clear()
                batch, outcomes[:] = outcomes[:], []
                if batch:
                    await anyio.to_thread.run_sync(notifications.finish_deliveries, self.engine, batch)
                    self._delivery_wake.set()  # a retry may be due, and slots are free
                    await self._tell_recall_desks(batch)

        async with anyio.create_task_group() as tasks:
            tasks.start_soon(record)
            while True:
                free = concurrency - in_flight
                claimed = (
                    await anyio.to_thread.run_sync(
                        partial(notifications.claim_deliveries, self.engine, limit=free, lease_ms=self.lease_ms)
                    )
                    if free > 0
                    else []
                )
                in_flight += len(claimed)
                for delivery in claimed:
                    tasks.start_soon(attempt, delivery)
                if claimed and in_flight < concurrency:
                    continue  # there may be more due
                wait = poll
                if free > 0 and not claimed:
                    due = await anyio.to_thread.run_sync(notifications.next_due_ms, self.engine)
                    if due is not None:
                        wait = min(poll, max(0.0, due / 1000 - datetime.now(UTC).timestamp()))
                await self._wait(self._delivery_wake, max(wait, 0.01))

    async def _tell_recall_desks(self, batch: list[Outcome]) -> None:
        """Tell each recall's desk which consignees' webhooks just took its notice (resolvers/recall_activity.py)."""
        delivered = [(o.delivery.kind, o.delivery.firm_id, o.delivery.body) for o in batch if o.delivered]
        for payload in recall_notified_payloads(delivered):
            try:
                await notifications.publish(self.engine, kind=EventKind.RECALL_NOTIFIED, payload=payload)
            except Exception:  # the desk reads who was notified from recall(id) { consignees } as well
                log.exception("could not tell the desk of recall %s who was notified", payload["recallId"])

    async def _attempt(self, delivery: ClaimedDelivery, outcomes: list[Outcome]) -> None:
        """POST one delivery and note how it went in ``outcomes``."""
        body = delivery.body.encode()
        status: int | None = None
        error: str | None = None
        try:
            if not self.allow_private:
                parts = urlsplit(delivery.url)
                port = parts.port or (443 if parts.scheme == "https" else 80)
                refused = await anyio.to_thread.run_sync(notifications.refused_address, parts.hostname or "", port)
                if refused is not None:  # the name resolved to a public address when it was registered
                    raise PermissionError(f"the host now resolves to {refused}, not a public address")
            response = await self.http.post(
                delivery.url,
                content=body,
                headers={
                    "Content-Type": "application/json",
                    "User-Agent": USER_AGENT,
                    "Hub-Signature": signature(delivery.secret, body),
                    "Hub-Delivery": delivery.id,
                    "Hub-Event": delivery.kind,
                    # EPCIS 2.0 query subscriptions: the standard names the header that carries the signature
                    **({"GS1-Signature": signature(delivery.secret, body)} if delivery.kind == EPCIS_KIND else {}),
                },
                timeout=self.settings.webhook_timeout_seconds,
            )
            status = response.status_code
            if not 200 <= status < 300:
                error = f"the receiver answered HTTP {status}"
        except (httpx.HTTPError, PermissionError) as failure:
            error = f"{type(failure).__name__}: {failure}" if str(failure) else type(failure).__name__
        delivered = error is None
        retry_at: int | None = None
        if not delivered and delivery.attempts < self.settings.webhook_max_attempts:
            wait = backoff_seconds(
                delivery.attempts,
                base=self.settings.webhook_retry_base_seconds,
                cap=self.settings.webhook_retry_max_seconds,
            )
            retry_at = notifications.now_ms() + int(wait * 1000)
        outcomes.append(Outcome(delivery, delivered, status, error, retry_at))

    # --- the sweep --------------------------------------------------------------------------------------------

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(self.settings.notifications_sweep_seconds)
            await self.sweep_once()

    async def sweep_once(self) -> None:
        """Publish recall events a crash left unpublished, and fan out events whose fan-out was left unfinished."""
        try:
            await publish_unnotified_recalls(self.graph, self.engine, older_than_seconds=60.0)
        except Exception:
            log.exception("could not publish the recall events left unpublished")
        try:
            await publish_recall_joins(self.graph, self.engine)
        except Exception:
            log.exception("could not publish the recall joins left unpublished")
        before = notifications.now_ms() - self.lease_ms
        stale = await anyio.to_thread.run_sync(
            lambda: notifications.events_not_fanned_out(self.engine, before_ms=before)
        )
        for event_id in stale:
            event = await anyio.to_thread.run_sync(notifications.get_event, self.engine, event_id)
            if event is None:
                continue
            rule = event_kind_rule(event.kind)
            if rule is None:
                await self._settle_without_rule(event)
                continue
            claimed = await anyio.to_thread.run_sync(
                partial(notifications.claim_fanout, self.engine, event_id=event_id, lease_ms=self.lease_ms)
            )
            if claimed:
                await self._fan_out(event, rule, await self._audience(rule, event))
