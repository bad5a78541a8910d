"""Scheduled EPCIS query subscriptions: each runs at the times its schedule gives, once, whatever the hub processes.

Every hub process ticks once a second and looks at each second since its last tick (at most a minute back: a
process that stalled longer leaves those runs to the others, or to the next run's window). For a subscription whose
schedule matches that second, the process takes the run by a compare-and-set on the subscription's lease row in
the SQL store (``graph_schema.epcis.subscriptions.claim_run``): one process wins, and it publishes one outbox event
for that subscription alone with the window from the run before (or its initialRecordTime, or its creation) to this
one. The dispatcher renders it as a capture's push is rendered, with the subscriber's permission decision of that
moment, and delivers it signed and retried; with ``reportIfEmpty`` an empty result is sent too. A run missed while
no process was up is not run late: the next run's window starts where the last one ended, so no event is lost.

At its start, each process also publishes the captures of the last day that a dying process committed but never
published to the subscriptions (``resolvers.epcis_subscriptions.publish_unpublished``; once per capture).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Final

import anyio
from sqlalchemy.engine import Engine

from graph_schema.db import Graph
from graph_schema.epcis import subscriptions
from resolvers.epcis_subscriptions import publish_unpublished, publish_window

log = logging.getLogger(__name__)

TICK_SECONDS: Final = 1.0
CATCH_UP_SECONDS: Final = 60
RELOAD_SECONDS: Final = 5.0  # how long the list of scheduled subscriptions is kept


class SubscriptionScheduler:
    """The runs of scheduled subscriptions that fall to this process."""

    def __init__(self, engine: Engine, *, graph: Graph | None = None) -> None:
        self.engine = engine
        self.graph = graph  # given: the captures a dying process left unpublished are published at the first tick
        self._last_tick: datetime | None = None
        self._loaded_at: datetime | None = None
        self._subscriptions: list[subscriptions.Subscription] = []

    async def _scheduled(self, now: datetime) -> list[subscriptions.Subscription]:
        if self._loaded_at is None or (now - self._loaded_at).total_seconds() >= RELOAD_SECONDS:
            self._subscriptions = await anyio.to_thread.run_sync(
                lambda: subscriptions.scheduled_subscriptions(self.engine)
            )
            self._loaded_at = now
        return self._subscriptions

    async def fire_due(self, moment: datetime) -> int:
        """Run every subscription due at this second that no other process has run; how many this process ran."""
        second = moment.astimezone(UTC).replace(microsecond=0)
        run_ms = int(second.timestamp() * 1000)
        fired = 0
        for subscription in await self._scheduled(second):
            schedule = subscription.scheduled
            if schedule is None or not schedule.matches(second):
                continue
            start_ms = await anyio.to_thread.run_sync(
                partial(subscriptions.claim_run, self.engine, subscription, run_ms=run_ms)
            )
            if start_ms is None:
                continue  # another process runs it
            await publish_window(
                self.engine,
                subscription_id=subscription.id,
                start=datetime.fromtimestamp(start_ms / 1000, UTC).isoformat(),
                end=second.isoformat(),
                report_if_empty=subscription.report_if_empty,
                key=f"EPCIS-SCHEDULE:{subscription.id}:{run_ms}",
            )
            fired += 1
        return fired

    async def tick(self, now: datetime) -> int:
        """Every second from the last tick to ``now`` (at most a minute of them); how many runs this process made."""
        now = now.astimezone(UTC).replace(microsecond=0)
        first = (
            now
            if self._last_tick is None
            else max(self._last_tick + timedelta(seconds=1), now - timedelta(seconds=CATCH_UP_SECONDS))
        )
        fired = 0
        moment = first
        while moment <= now:
            fired += await self.fire_due(moment)
            moment += timedelta(seconds=1)
        self._last_tick = now
        return fired

    async def run(self) -> None:
        """Tick once a second until cancelled; a failing tick is logged and the next one tried."""
        if self.graph is not None:
            try:
                await publish_unpublished(self.graph, self.engine)
            except Exception:
                log.exception("could not look for captures left unpublished to the query subscriptions")
        while True:
            try:
                await self.tick(datetime.now(UTC))
            except Exception:
                log.exception("the scheduled EPCIS query subscriptions could not be run this second")
            await anyio.sleep(TICK_SECONDS)
