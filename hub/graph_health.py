"""The watchdog that asks Neo4j "RETURN 1" every second on a connection of its own and drives the breaker.

A frozen Neo4j (stopped, swapping, a network that drops packets) accepts connections and never answers, so
neither the driver nor the server's transaction timeout ends a call waiting on it. The watchdog notices within
one probe timeout; the breaker (graph_schema.db.Breaker) then fails new graph calls at once and lets go of the
waiting ones, and resets at the first probe answered: recovery needs no restart.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

from neo4j import AsyncDriver

from graph_schema.db import Breaker, breaker_for

log = logging.getLogger(__name__)

PROBE = "RETURN 1 AS ok"


@dataclass
class GraphWatchdog:
    """Probes Neo4j through ``probe_driver`` (its own small pool) and trips the breaker of ``driver``."""

    driver: AsyncDriver
    probe_driver: AsyncDriver
    database: str
    interval: float
    timeout: float
    last_answer_seconds: float | None = None  # how long the last probe took, when it answered

    @property
    def breaker(self) -> Breaker:
        """The breaker every graph call of the hub's driver goes through."""
        return breaker_for(self.driver)

    async def probe(self) -> str | None:
        """One probe: None when Neo4j answered within the timeout, else what went wrong."""
        started = time.monotonic()
        try:
            async with asyncio.timeout(self.timeout):
                await self.probe_driver.execute_query(PROBE, database_=self.database)
        except TimeoutError:
            return f"no answer to a probe within {self.timeout:g} s"
        except Exception as error:  # any failure to answer is the same fact for the breaker
            return f"{type(error).__name__}: {error}"
        self.last_answer_seconds = time.monotonic() - started
        return None

    async def run(self) -> None:
        """Probe until cancelled: trip the breaker on the first failure, reset it on the first answer."""
        while True:
            problem = await self.probe()
            if problem is not None and not self.breaker.down:
                log.warning("Neo4j stopped answering: %s", problem)
                self.breaker.trip(problem)
            elif problem is None and self.breaker.down:
                log.warning("Neo4j answers again")
                self.breaker.reset()
            elif problem is not None:
                self.breaker.down_reason = problem
            await asyncio.sleep(self.interval)
