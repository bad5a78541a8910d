"""Events handed to this process's subscribers, and the rules that say who is told what about each kind.

The registry: ``register_event_kind(kind, render=..., audience=...)`` once per kind, at import of the module
that owns the kind (``resolvers/notifications.py`` registers the recall kinds; a module registering another
kind must be imported by ``resolvers/schema.py``, as every resolver module is).

- ``render(graph, decision, payload) -> dict | None``: what the firm of ``decision`` (``auth.decisions.Decision``,
  the same decision a query of that firm gets) may be told about the event, as the fields merged into its
  webhook body (``{"recall": {...}}``); None when it may be told nothing, and then nothing is delivered to it.
- ``audience(graph, payload) -> frozenset[str] | None`` (optional): the firms the event concerns, read once per
  event; only their webhooks and subscribers are considered. Without it every firm listening is rendered for.
- ``render_many(graph, firm_ids, payload) -> {firm id: dict}`` (optional): the same as ``render`` for many firms
  in one read, for a kind whose body depends on the receiving firm alone (not on what it was granted); the
  webhook fan-out uses it when given, and a firm left out of the answer is told nothing.
- ``render_webhook(graph, engine, decision, payload, webhook) -> [body, ...] | None`` (optional): for a kind whose body
  depends on the webhook itself (an EPCIS query subscription: its own query), the whole bodies to deliver to that
  webhook, each one delivery (the hub sets each body's ``id``, the delivery's idempotency key); used instead of
  ``render`` when given.

``Broadcast`` hands each event to the subscriptions open in this process (the hub's dispatcher feeds it from
the outbox, so an event published by any process reaches the subscribers of every process).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Engine

from auth.decisions import Decision
from graph_schema.db import Graph
from graph_schema.notifications import Event, EventKind, WebhookRecord

log = logging.getLogger(__name__)

Renderer = Callable[[Graph, Decision, Mapping[str, Any]], Awaitable[dict[str, Any] | None]]
Audience = Callable[[Graph, Mapping[str, Any]], Awaitable[frozenset[str] | None]]
ManyRenderer = Callable[[Graph, frozenset[str], Mapping[str, Any]], Awaitable[dict[str, dict[str, Any]]]]
WebhookRenderer = Callable[
    [Graph, Engine, Decision, Mapping[str, Any], WebhookRecord], Awaitable[list[dict[str, Any]] | None]
]


@dataclass(frozen=True)
class EventKindRule:
    """Who is told about events of one kind, and what."""

    render: Renderer
    audience: Audience | None = None
    render_many: ManyRenderer | None = None
    render_webhook: WebhookRenderer | None = None


_RULES: dict[str, EventKindRule] = {}


def register_event_kind(
    kind: EventKind | str,
    *,
    render: Renderer,
    audience: Audience | None = None,
    render_many: ManyRenderer | None = None,
    render_webhook: WebhookRenderer | None = None,
) -> None:
    """Register how events of ``kind`` are rendered per receiving firm (see the module docstring)."""
    _RULES[EventKind(kind).value] = EventKindRule(
        render=render, audience=audience, render_many=render_many, render_webhook=render_webhook
    )


def event_kind_rule(kind: str) -> EventKindRule | None:
    """The rule registered for ``kind`` (None: nobody can be told about it yet)."""
    return _RULES.get(kind)


@dataclass(frozen=True)
class Notice:
    """An event as this process's subscribers get it, with the firms it concerns (None: decided per firm)."""

    event: Event
    audience: frozenset[str] | None
    # what one subscriber read about the event and every other may reuse (e.g. the recall's own fields)
    shared: dict[str, Any] = field(default_factory=dict, compare=False)

    def concerns(self, firm_id: str) -> bool:
        """Whether the event's audience rule names ``firm_id``."""
        return self.audience is None or firm_id in self.audience


@dataclass(eq=False)
class _Listener:
    kinds: frozenset[str]
    queue: asyncio.Queue[Notice]


class Broadcast:
    """Fan-out to the subscriptions of this process; each subscription has a bounded queue of its own.

    A subscriber that does not keep up loses the oldest notices past ``queue_size`` (memory stays flat);
    webhooks are the delivery that is retried until it succeeds.
    """

    def __init__(self, *, queue_size: int = 256) -> None:
        self.queue_size = queue_size
        self._listeners: set[_Listener] = set()

    @asynccontextmanager
    async def listen(self, kinds: frozenset[str]) -> AsyncIterator[asyncio.Queue[Notice]]:
        """A queue receiving every notice of ``kinds`` sent while the block runs."""
        listener = _Listener(kinds=kinds, queue=asyncio.Queue(self.queue_size))
        self._listeners.add(listener)
        try:
            yield listener.queue
        finally:
            self._listeners.discard(listener)

    def listening(self, kind: str) -> bool:
        """Whether any subscription of this process waits for ``kind``."""
        return any(kind in listener.kinds for listener in self._listeners)

    def send(self, notice: Notice) -> None:
        """Hand ``notice`` to every subscription waiting for its kind."""
        for listener in list(self._listeners):
            if notice.event.kind not in listener.kinds:
                continue
            if listener.queue.full():
                log.warning("a subscriber fell %d notices behind: dropping its oldest", self.queue_size)
                listener.queue.get_nowait()
            listener.queue.put_nowait(notice)


@dataclass
class Notifier:
    """What the request context needs of the notification machinery."""

    broadcast: Broadcast = field(default_factory=Broadcast)
    # outside production a webhook may point at a loopback or private address (a receiver on the same machine)
    allow_private_webhook_urls: bool = True
