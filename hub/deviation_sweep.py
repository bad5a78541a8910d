"""Deviations from the hub's side: the check after each committed batch of readings, and the periodic sweep
that opens MISSED_MONITORING deviations for CCPs gone silent (a lifespan task)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy.engine import Engine

from graph_schema import notifications
from graph_schema.db import Graph
from graph_schema.haccp.deviations import Evaluation, evaluate, open_since, sweep_missed_monitoring
from graph_schema.haccp.readings import ReadingSpan
from hub.state import HubState

log = logging.getLogger(__name__)

# how far back a sweep looks for deviations opened but never told of
UNTOLD_WINDOW = timedelta(hours=24)


async def check_batch(state: HubState, spans: Sequence[ReadingSpan]) -> list[Evaluation]:
    """Open or adjust the deviations of the CCPs a committed batch touched.

    The readings are stored whatever happens here: a failure is logged, not the batch's (the gateway would send
    it again as duplicates, which touch nothing), and the next batch of the CCP or the sweep looks again.
    """
    if not spans:
        return []
    settings = state.settings
    try:
        found = await evaluate(
            Graph(state.driver, database=settings.neo4j_database),
            state.sql_engine,
            spans,
            now=datetime.now(UTC),
            hold=settings.haccp_hold_on_deviation,
            grace_seconds=settings.haccp_missed_grace_seconds,
        )
    except Exception:
        log.exception("deviations of %d CCP(s) could not be checked after their readings were stored", len(spans))
        return []
    await publish_opened(state, found)
    return found


async def publish_opened(state: HubState, found: Sequence[Evaluation]) -> None:
    """Tell of each deviation opened (DEVIATION_OPENED, once per deviation): subscribers and webhooks of the firms
    that may see it, decided per firm at delivery (resolvers/haccp.py renders it)."""
    for evaluation in found:
        deviation = evaluation.deviation
        if not evaluation.opened or deviation["status"] != "OPEN":
            continue
        payload = {"deviationId": deviation["id"], "ccpId": deviation["ccpId"], "siteGln": deviation["siteGln"]}
        try:
            await notifications.publish(
                state.sql_engine,
                kind=notifications.EventKind.DEVIATION_OPENED,
                payload=payload,
                key=opened_key(deviation["id"]),
            )
        except Exception:
            log.exception("could not publish the opening of deviation %s", deviation["id"])


def opened_key(deviation_id: str) -> str:
    """The outbox key of a deviation's DEVIATION_OPENED: one event per deviation, whoever publishes it."""
    return f"{notifications.EventKind.DEVIATION_OPENED.value}:{deviation_id}"


async def publish_untold(graph: Graph, engine: Engine, *, now: datetime) -> int:
    """DEVIATION_OPENED for each deviation still open, opened within UNTOLD_WINDOW, that the outbox lacks.

    The deviation is written in the graph and its event in the SQL store, not in one transaction: a hub process
    that stops between the two leaves the opening untold, and the next sweep of any process tells it (the key
    makes a race with the process that opened it one event). Returns how many it published."""
    rows = await open_since(graph, since=now - UNTOLD_WINDOW)
    keys = [opened_key(row["id"]) for row in rows]
    told = await asyncio.to_thread(notifications.published_keys, engine, keys)
    untold = [row for row, key in zip(rows, keys, strict=True) if key not in told]
    for row in untold:
        log.warning("deviation %s was opened but never told of: publishing it now", row["id"])
        payload = {"deviationId": row["id"], "ccpId": row["ccpId"], "siteGln": row["siteGln"]}
        await notifications.publish(
            engine, kind=notifications.EventKind.DEVIATION_OPENED, payload=payload, key=opened_key(row["id"])
        )
    return len(untold)


async def sweep_once(state: HubState, *, now: datetime | None = None) -> list[Evaluation]:
    """One sweep with the hub's settings."""
    settings = state.settings
    found = await sweep_missed_monitoring(
        Graph(state.driver, database=settings.neo4j_database),
        state.sql_engine,
        now=now or datetime.now(UTC),
        hold=settings.haccp_hold_on_deviation,
        grace_seconds=settings.haccp_missed_grace_seconds,
    )
    await publish_opened(state, found)
    await publish_untold(
        Graph(state.driver, database=settings.neo4j_database), state.sql_engine, now=now or datetime.now(UTC)
    )
    return found


async def sweep_forever(state: HubState) -> None:
    """Sweep every ``haccp_sweep_seconds`` until cancelled; a failed sweep is logged and the next one tried."""
    interval = state.settings.haccp_sweep_seconds
    while True:
        await asyncio.sleep(interval)
        try:
            opened = await sweep_once(state)
        except Exception:  # Neo4j or the SQL store away for a moment: the next sweep catches up
            log.exception("the missed-monitoring sweep failed")
            continue
        if opened:
            log.info("missed-monitoring sweep opened %d deviation(s)", sum(1 for e in opened if e.opened))
