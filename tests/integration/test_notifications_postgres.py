"""The outbox and webhook deliveries on a real PostgreSQL: claims by several processes never overlap."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from functools import partial

import pytest
from sqlalchemy.engine import Engine

from auth.audit import create_tables
from graph_schema import notifications
from graph_schema.epcis import subscriptions
from graph_schema.epcis.schedule import parse_schedule
from hub.sql_store import create_sql_engine
from tests.postgres import scratch_postgres


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    with scratch_postgres() as url:
        engine = create_sql_engine(url)
        create_tables(engine)
        engine.dispose()
        yield url


@pytest.fixture
def engine(url: str) -> Iterator[Engine]:
    engine = create_sql_engine(url)
    yield engine
    engine.dispose()


def test_a_keyed_publish_is_written_once_even_when_processes_race(url: str, engine: Engine) -> None:
    engines = [create_sql_engine(url) for _ in range(4)]
    start = threading.Barrier(len(engines))
    ids: list[int] = []

    def publish(n: int) -> None:
        start.wait()
        ids.append(notifications.publish_sync(engines[n], kind="RECALL_CLOSED", payload={"recallId": "r9"}, key="k9"))

    threads = [threading.Thread(target=publish, args=(n,)) for n in range(len(engines))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(ids) == 4
    assert len(set(ids)) == 1
    keyed = [e for e in notifications.events_after(engine, after_id=0) if e.payload == {"recallId": "r9"}]
    assert [e.id for e in keyed] == ids[:1]
    for other in engines:
        other.dispose()


def test_deliveries_are_claimed_by_one_process_each_with_skip_locked(url: str, engine: Engine) -> None:
    event_id = notifications.publish_sync(engine, kind="RECALL_DECLARED", payload={"recallId": "pg"})
    event = notifications.get_event(engine, event_id)
    assert event is not None
    hooks = [
        notifications.register_webhook(
            engine, firm_id=f"pg{i % 10}", url=f"https://example.org/{i}", events=["RECALL_DECLARED"], created_by="t"
        )
        for i in range(150)
    ]
    bodies = [(h, json.dumps({"id": notifications.new_delivery_id()}).encode()) for h in hooks]
    engines = [create_sql_engine(url) for _ in range(4)]
    assert sum(notifications.claim_fanout(e, event_id=event_id, lease_ms=60_000) for e in engines) == 1
    assert notifications.record_fanout(engine, event=event, bodies=bodies) == 150
    claimed: list[list[str]] = [[] for _ in engines]
    start = threading.Barrier(len(engines))

    def claim(n: int) -> None:
        start.wait()
        deadline = time.monotonic() + 30
        while sum(len(ids) for ids in claimed) < 150 and time.monotonic() < deadline:
            claimed[n].extend(d.id for d in notifications.claim_deliveries(engines[n], limit=5, lease_ms=60_000))

    threads = [threading.Thread(target=claim, args=(n,)) for n in range(len(engines))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    every = [i for ids in claimed for i in ids]
    assert len(every) == 150
    assert len(set(every)) == 150
    for other in engines:
        other.dispose()


def test_a_scheduled_subscriptions_run_is_taken_by_one_process_of_several(url: str, engine: Engine) -> None:
    query = {"EQ_bizStep": ["shipping"]}
    made = subscriptions.subscribe(
        engine,
        firm_id="pg-dc",
        query_name="nightly",
        query=query,
        dest="https://example.com/epcis",
        signature_token=None,
        created_by="admin@pg-dc",
        schedule=parse_schedule({"hour": "1"}),
    )
    (subscription,) = [s for s in subscriptions.scheduled_subscriptions(engine) if s.id == made.id]
    engines = [create_sql_engine(url) for _ in range(4)]
    windows = (
        (made.created_at_ms + 60_000, made.created_at_ms),
        (made.created_at_ms + 120_000, made.created_at_ms + 60_000),
    )
    for run_ms, expected_start in windows:
        # one process takes the run, and its window starts where the run before ended (or at the creation)
        taken = _race(engines, partial(_claim, subscription=subscription, run_ms=run_ms))
        assert sorted(taken, key=lambda t: t is not None) == [None, None, None, expected_start]
    assert subscriptions.claim_run(engine, subscription, run_ms=made.created_at_ms + 90_000) is None  # not backwards
    assert subscriptions.unsubscribe(engine, firm_id="pg-dc", query_name="nightly", subscription_id=made.id)
    for other in engines:
        other.dispose()


def _race(engines: list[Engine], work: Callable[[Engine], int | None]) -> list[int | None]:
    """``work`` run at once in a thread per engine; what each returned."""
    start = threading.Barrier(len(engines))
    taken: list[int | None] = []

    def one(each: Engine) -> None:
        start.wait()
        taken.append(work(each))

    threads = [threading.Thread(target=one, args=(each,)) for each in engines]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return taken


def _claim(each: Engine, *, subscription: subscriptions.Subscription, run_ms: int) -> int | None:
    return subscriptions.claim_run(each, subscription, run_ms=run_ms)
