"""Per-client and per-firm rate limits: a member's runaway script slows itself down, not the cluster.

Token buckets kept in this process (RateLimiter is the interface; a store shared by several hub processes,
such as PostgreSQL or Redis, can replace InProcessBuckets without touching the middleware). With several
processes each one allows the configured rate, so the cluster allows that many times more.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final, Protocol

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from auth.backend import PrincipalUser

RATE_LIMITED: Final = "RATE_LIMITED"


@dataclass(frozen=True)
class Rate:
    """So many requests per second on average, up to ``burst`` at once; a rate of 0 is no limit."""

    per_second: float
    burst: int


class RateLimiter(Protocol):
    """Takes one request from each of several buckets, or none of them."""

    def take(self, buckets: Sequence[tuple[str, Rate]]) -> float:
        """0 when the request may go on (counted in every bucket), else the seconds until it may."""
        ...


class InProcessBuckets:
    """Token buckets in this process's memory, the ``max_tracked`` most recently used keys."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic, max_tracked: int = 100_000) -> None:
        self.clock = clock
        self.max_tracked = max_tracked
        self._levels: OrderedDict[str, tuple[float, float]] = OrderedDict()  # key: (tokens, at)

    def _level(self, key: str, rate: Rate, now: float) -> float:
        tokens, at = self._levels.get(key, (float(rate.burst), now))
        return min(float(rate.burst), tokens + (now - at) * rate.per_second)

    def take(self, buckets: Sequence[tuple[str, Rate]]) -> float:
        """0 when the request may go on (counted in every bucket), else the seconds until it may."""
        now = self.clock()
        active = [(key, rate) for key, rate in buckets if rate.per_second > 0]
        levels = [self._level(key, rate, now) for key, rate in active]
        wait = max(
            ((1.0 - level) / rate.per_second for level, (_, rate) in zip(levels, active, strict=True) if level < 1.0),
            default=0.0,
        )
        if wait > 0:
            return wait
        for level, (key, _) in zip(levels, active, strict=True):
            self._levels[key] = (level - 1.0, now)
            self._levels.move_to_end(key)
        while len(self._levels) > self.max_tracked:  # made-up subjects must not grow this without bound
            self._levels.popitem(last=False)
        return 0.0


class RateLimits:
    """ASGI middleware after authentication: 429 with ``Retry-After`` past a client's or a firm's rate."""

    def __init__(self, app: ASGIApp, *, client: Rate, firm: Rate, limiter: RateLimiter | None = None) -> None:
        self.app = app
        self.client = client
        self.firm = firm
        self.limiter = limiter or InProcessBuckets()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        user = scope.get("user")
        if scope["type"] == "http" and isinstance(user, PrincipalUser):
            principal = user.principal
            wait = self.limiter.take(
                (
                    (f"client:{principal.issuer}:{principal.subject}", self.client),
                    (f"firm:{principal.firm_id}", self.firm),
                )
            )
            if wait > 0:
                await too_many_requests(wait)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def too_many_requests(wait: float) -> JSONResponse:
    """429 saying when to come back."""
    seconds = max(1, math.ceil(wait))
    return JSONResponse(
        {
            "type": "about:blank",
            "title": "Too many requests",
            "status": 429,
            "detail": f"this client or its firm has sent more requests than its rate allows; retry in {seconds} s",
            "code": RATE_LIMITED,
        },
        status_code=429,
        media_type="application/problem+json",
        headers={"Retry-After": str(seconds)},
    )
