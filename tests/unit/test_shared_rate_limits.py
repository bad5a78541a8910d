"""Rate limits counted for all hub processes together, through one SQLite file as two processes would share it."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import Engine

from auth.audit import create_tables
from hub.rate_limits import InProcessBuckets, Rate
from hub.shared_rate_limits import SharedBuckets
from hub.sql_store import create_sql_engine

RATE = Rate(per_second=1.0, burst=5)  # 1 x 10 s + 5 = 15 requests per 10-second window, for everyone together
KEY = [("firm:plant", RATE)]


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def process(engine: Engine, clock: Clock) -> SharedBuckets:
    """One hub process: its own in-process buckets, the shared counts of the store."""
    return SharedBuckets(lambda: engine, window_seconds=10, clock=clock, local=InProcessBuckets(clock=clock))


def taken(buckets: SharedBuckets, count: int) -> int:
    return sum(buckets.take(KEY) == 0 for _ in range(count))


async def test_two_processes_together_allow_what_one_window_allows(tmp_path: Path) -> None:
    engine = create_sql_engine(f"sqlite:///{tmp_path / 'hub.db'}")
    create_tables(engine)
    clock = Clock(1000.0)
    a, b = process(engine, clock), process(engine, clock)
    assert taken(a, 10) == 5  # each process's own bucket: a burst of 5
    clock.now += 5  # five seconds on: five more tokens each
    assert taken(a, 5) == 5
    await a.flush()
    await b.flush()
    assert taken(b, 10) == 5  # b learned a's 10 from the store: 10 + 5 = 15, the window's share for everyone
    await b.flush()
    await a.flush()
    clock.now += 4  # a's own bucket has tokens again, but the window is spent by the two together
    wait = a.take(KEY)
    assert wait == 1.0  # until the next window, at 1010
    clock.now += 1
    assert a.take(KEY) == 0


async def test_without_sharing_each_process_allows_the_whole_rate(tmp_path: Path) -> None:
    clock = Clock(1000.0)
    a, b = InProcessBuckets(clock=clock), InProcessBuckets(clock=clock)
    allowed = sum(a.take(KEY) == 0 for _ in range(10)) + sum(b.take(KEY) == 0 for _ in range(10))
    clock.now += 5
    allowed += sum(a.take(KEY) == 0 for _ in range(10)) + sum(b.take(KEY) == 0 for _ in range(10))
    assert allowed == 20  # the control: two processes, twice what the rate allows over these 5 s


async def test_a_store_that_does_not_answer_leaves_the_in_process_limit_in_force(tmp_path: Path) -> None:
    engine = create_sql_engine(f"sqlite:///{tmp_path / 'hub.db'}")  # its table never created
    clock = Clock(1000.0)
    a = process(engine, clock)
    assert taken(a, 10) == 5
    await a.flush()  # fails, logged; the counts are kept for the next flush
    assert a.take(KEY) > 0
    create_tables(engine)
    await a.flush()
    with engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT rate_key, window_start, count FROM rate_count").all() == [
            ("firm:plant", 1000, 5)
        ]
