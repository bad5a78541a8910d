"""Changes seen by every hub process: a counter in the SQL store that each write moves and each process watches.

A process keeps permission decisions and profiles for a few seconds (auth.decisions.DecisionCache,
resolvers.loaders.ProfileCache) and drops them after a write through itself. With several processes (``hub serve
--workers N``, or several hosts sharing one PostgreSQL) a grant, a revoke or a recall made through one of them
must count in the others too: the writer moves the counter in the shared SQL store, and every process reads it
at most once per ``check_seconds`` before using what it keeps, dropping everything when it moved.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Final

import anyio
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, SQLModel

log = logging.getLogger(__name__)


class ChangeCounter(SQLModel, table=True):
    """One row: how many writes that kept decisions or profiles depend on all hub processes have made."""

    __tablename__ = "hub_change_counter"

    id: int = Field(primary_key=True)
    value: int = 0


BUMP: Final = text("UPDATE hub_change_counter SET value = value + 1 WHERE id = 1")
FIRST: Final = text("INSERT INTO hub_change_counter (id, value) VALUES (1, 1)")
READ: Final = text("SELECT value FROM hub_change_counter WHERE id = 1")


def bump(engine: Engine) -> None:
    """Move the shared counter (after a write that grants, revokes, recalls, admits or renames)."""
    with engine.begin() as connection:
        if connection.execute(BUMP).rowcount:
            return
        try:
            with connection.begin_nested():
                connection.execute(FIRST)
        except IntegrityError:  # another process wrote the first row at the same moment
            connection.execute(BUMP)


def _read(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(READ).scalar() or 0)


class SharedChanges:
    """This process's view of the shared counter: ``announce`` after a write, ``moved`` before using kept data."""

    def __init__(self, engine: Engine, *, check_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.engine = engine
        self.check_seconds = check_seconds
        self._clock = clock
        self._seen: int | None = None
        self._checked_at = float("-inf")
        self.reads = 0

    async def announce(self) -> None:
        """Tell the other processes that what they keep may be out of date."""
        await anyio.to_thread.run_sync(bump, self.engine)

    async def moved(self) -> bool:
        """True when any process wrote since this process last looked (looks at most once per check_seconds)."""
        now = self._clock()
        if now - self._checked_at < self.check_seconds:
            return False
        self._checked_at = now
        self.reads += 1
        try:
            value = await anyio.to_thread.run_sync(_read, self.engine)
        except Exception:  # the SQL store is down: what is kept may be stale, and nothing says otherwise
            log.warning("could not read the shared change counter; dropping what this process keeps")
            self._seen = None
            return True
        moved = self._seen is not None and value != self._seen
        self._seen = value
        return moved
