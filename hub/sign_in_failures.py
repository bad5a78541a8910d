"""Failed client authentications counted for all hub processes together, in the SQL store.

The token endpoint locks a (client id, source address) pair out after too many wrong secrets
(``hub.oauth.FailedAttempts`` counts them in one process's memory). Behind a balancer, an attacker spreading
guesses over several hub processes would get that many guesses from each; kept here, the count is one for the
whole cluster. Only failures are written (a few rows per attacker and window), so the cost is one indexed read
per token request.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from typing import Final

import anyio
from sqlalchemy import BigInteger, Column, text
from sqlalchemy.engine import Engine
from sqlmodel import Field, SQLModel

log = logging.getLogger(__name__)


class SignInFailure(SQLModel, table=True):
    """One refused client authentication from one source (a hash of client id and address)."""

    __tablename__ = "sign_in_failure"

    id: int | None = Field(default=None, primary_key=True)
    source_hash: str = Field(max_length=64, index=True)
    at_ms: int = Field(sa_column=Column(BigInteger, nullable=False, index=True))


RECENT: Final = text(
    "SELECT at_ms FROM sign_in_failure WHERE source_hash = :source AND at_ms > :since ORDER BY at_ms DESC LIMIT :limit"
)
ADD: Final = text("INSERT INTO sign_in_failure (source_hash, at_ms) VALUES (:source, :at)")
FORGET: Final = text("DELETE FROM sign_in_failure WHERE at_ms <= :before")
CLEAR: Final = text("DELETE FROM sign_in_failure WHERE source_hash = :source")


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class SharedFailedAttempts:
    """``hub.oauth.FailedAttempts``'s rule (``limit`` failures within ``window_seconds`` lock the key out until
    the oldest of them leaves the window), counted in the SQL store shared by every hub process."""

    def __init__(
        self,
        engine: Callable[[], Engine],
        *,
        limit: int = 10,
        window_seconds: float = 300.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.engine = engine
        self.limit = limit
        self.window_seconds = window_seconds
        self.clock = clock

    def _wait(self, key: str) -> float | None:
        now_ms = int(self.clock() * 1000)
        window_ms = int(self.window_seconds * 1000)
        with self.engine().connect() as connection:
            recent = [
                int(at)
                for (at,) in connection.execute(
                    RECENT, {"source": _hash(key), "since": now_ms - window_ms, "limit": self.limit}
                )
            ]
        if len(recent) < self.limit:
            return None
        return (recent[-1] + window_ms - now_ms) / 1000

    def _fail(self, key: str) -> None:
        now_ms = int(self.clock() * 1000)
        with self.engine().begin() as connection:
            connection.execute(ADD, {"source": _hash(key), "at": now_ms})
            connection.execute(FORGET, {"before": now_ms - int(self.window_seconds * 1000)})

    async def wait_for(self, key: str) -> float | None:
        """Seconds until this key may try again, or None when it may try now."""
        try:
            return await anyio.to_thread.run_sync(self._wait, key)
        except Exception:  # the client table is in the same store: the authentication itself will say it is down
            log.warning("could not read the sign-in failures from the SQL store", exc_info=True)
            return None

    async def failed(self, key: str) -> None:
        """Count one failed authentication of this key."""
        await anyio.to_thread.run_sync(self._fail, key)

    def _clear(self, key: str) -> None:
        with self.engine().begin() as connection:
            connection.execute(CLEAR, {"source": _hash(key)})

    async def succeeded(self, key: str) -> None:
        """Forget this key's failures (a person who mistyped, then signed in, starts afresh)."""
        await anyio.to_thread.run_sync(self._clear, key)
