"""Rate limits that hold for all hub processes together: counts shared through the SQL store.

``InProcessBuckets`` (hub/rate_limits.py) lets each process allow the configured rate, so N processes behind a
balancer would allow N times as much. ``SharedBuckets`` keeps the in-process token buckets as the fast path and
adds a cap over every process: requests are counted per key in fixed windows of ``window_seconds``; each
process adds its counts to a table of the SQL store every ``flush_seconds`` and reads back the totals of every
key counted in the current window (a key this process has not met yet may already be near its cap), and
refuses a request once the known total plus its own not yet added counts reaches what the rate allows in one
window (``per_second x window + burst``). A request never waits for the SQL store: the cap lags the other
processes by at most one flush, and a store that does not answer leaves the in-process limit in force.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Final

import anyio
from sqlalchemy import BigInteger, Column, text
from sqlalchemy.engine import Engine
from sqlmodel import Field, SQLModel

from hub.rate_limits import InProcessBuckets, Rate

log = logging.getLogger(__name__)


class RateCount(SQLModel, table=True):
    """Requests counted for one key in one window, by every hub process together."""

    __tablename__ = "rate_count"

    rate_key: str = Field(primary_key=True, max_length=400)
    window_start: int = Field(sa_column=Column(BigInteger, primary_key=True, index=True))  # seconds since epoch
    count: int = 0


ADD: Final = text(
    "INSERT INTO rate_count (rate_key, window_start, count) VALUES (:key, :window, :count) "
    "ON CONFLICT (rate_key, window_start) DO UPDATE SET count = rate_count.count + excluded.count"
)
FORGET: Final = text("DELETE FROM rate_count WHERE window_start < :before")
TOTALS: Final = text("SELECT rate_key, count FROM rate_count WHERE window_start = :window")


class SharedBuckets:
    """In-process token buckets, under a cap over all hub processes counted in the SQL store."""

    def __init__(
        self,
        engine: Callable[[], Engine],
        *,
        window_seconds: int = 10,
        flush_seconds: float = 0.25,
        clock: Callable[[], float] = time.time,
        local: InProcessBuckets | None = None,
    ) -> None:
        self.engine = engine
        self.window_seconds = window_seconds
        self.flush_seconds = flush_seconds
        self.clock = clock
        self.local = local or InProcessBuckets()
        self._pending: defaultdict[tuple[str, int], int] = defaultdict(int)  # counted here, not yet added
        self._known: dict[tuple[str, int], int] = {}  # totals of every process as last read
        self._forgot_before = -1  # the window whose predecessors' rows this process last deleted

    def _window(self, now: float) -> int:
        return int(now // self.window_seconds) * self.window_seconds

    def take(self, buckets: Sequence[tuple[str, Rate]]) -> float:
        """0 when the request may go on (counted here and, at the next flush, for everyone), else seconds to wait."""
        now = self.clock()
        window = self._window(now)
        active = [(key, rate) for key, rate in buckets if rate.per_second > 0]
        for key, rate in active:
            allowed = rate.per_second * self.window_seconds + rate.burst
            used = self._known.get((key, window), 0) + self._pending[(key, window)]
            if used + 1 > allowed:
                return window + self.window_seconds - now
        wait = self.local.take(buckets)
        if wait > 0:
            return wait
        for key, _ in active:
            self._pending[(key, window)] += 1
        return 0.0

    def _exchange(self, pending: dict[tuple[str, int], int], window: int) -> dict[tuple[str, int], int]:
        # a write only when this process counted something: an idle hub must not take SQLite's write lock four
        # times a second from the requests that need it (the access log, mutations)
        if pending:
            with self.engine().begin() as connection:
                connection.execute(ADD, [{"key": k, "window": w, "count": c} for (k, w), c in pending.items()])
                if window != self._forgot_before:
                    connection.execute(FORGET, {"before": window - self.window_seconds})
            self._forgot_before = window
        with self.engine().connect() as connection:
            # every key counted in this window, by any process: one this process has not met yet may be near its cap
            rows = connection.execute(TOTALS, {"window": window})
            return {(str(key), window): int(count) for key, count in rows}

    async def flush(self) -> None:
        """Add this process's counts to the shared table and read back everyone's totals of the current window."""
        pending, self._pending = dict(self._pending), defaultdict(int)
        window = self._window(self.clock())
        try:
            totals = await anyio.to_thread.run_sync(self._exchange, pending, window)
        except Exception:
            for key, count in pending.items():  # counted again at the next flush
                self._pending[key] += count
            log.warning("could not share the rate-limit counts through the SQL store", exc_info=True)
            return
        self._known = totals

    async def run(self) -> None:
        """Flush every ``flush_seconds`` for as long as the app runs."""
        while True:
            await asyncio.sleep(self.flush_seconds)
            await self.flush()
