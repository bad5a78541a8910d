"""A Smart HACCP gateway for demos and benchmarks: realistic readings of a plant's CCPs posted to a running hub.

Every CCP's devices report once a second (or ``rate`` times) a value near the middle of its critical limits,
with a little noise; now and then one CCP runs out of its limits for a few seconds (a pasteuriser running cold,
a chiller warming up), the first time after ``first_excursion_s`` seconds so that a newcomer sees a deviation
within a minute. Bounded: loopback hubs only, at most an hour, at most 1,000 readings a second per device.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import urlsplit

import httpx
import orjson

LOOPBACK: Final = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})
MAX_SECONDS: Final = 3600
MAX_RATE: Final = 1000


@dataclass
class SimulatedCcp:
    """One CCP as the gateway sees it: its devices and limits, and whether it is in an excursion."""

    id: str
    unit: str
    devices: list[str]
    limit_low: float | None
    limit_high: float | None
    excursion_until: float = 0.0

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> SimulatedCcp:
        return cls(row["id"], row["unit"], list(row.get("devices") or []), row.get("limitLow"), row.get("limitHigh"))

    @property
    def pass_fail(self) -> bool:
        """A check that reports 0 (pass) or 1 (fail) against a high limit of 0, such as a metal detector's."""
        return self.limit_low is None and self.limit_high == 0

    def normal(self, rng: random.Random) -> float:
        """A value well inside the limits."""
        if self.pass_fail:
            return 0.0
        low, high = self.limit_low, self.limit_high
        if low is not None and high is not None:
            middle, spread = (low + high) / 2, (high - low) / 10
        elif high is not None:
            middle, spread = high * 0.4, max(abs(high) * 0.08, 0.05)
        else:
            assert low is not None
            middle, spread = low * 1.25 if low > 0 else low + 5, max(abs(low) * 0.05, 0.5)
        return round(rng.gauss(middle, spread), 2)

    def excursion(self, rng: random.Random) -> float:
        """A value outside the limits: below the low one where there is one, else above the high one."""
        if self.pass_fail:
            return 1.0
        if self.limit_low is not None:
            return round(self.limit_low - max(abs(self.limit_low) * 0.06, 0.5) * rng.uniform(0.5, 1.5), 2)
        assert self.limit_high is not None
        return round(self.limit_high + max(abs(self.limit_high) * 0.2, 0.5) * rng.uniform(0.5, 1.5), 2)


@dataclass
class Simulation:
    """The readings of one plant's gateway, second after second."""

    ccps: list[SimulatedCcp]
    rate: int = 1
    first_excursion_s: float = 30.0
    excursion_chance: float = 1 / 300  # per CCP and second
    rng: random.Random = field(default_factory=lambda: random.Random(7))  # noqa: S311 (demo data, not secrets)
    excursions: int = 0
    _next_forced: float | None = None

    def readings(self, elapsed: float, now: datetime) -> list[dict[str, Any]]:
        """The readings of one second, measured in the second before ``now``."""
        if self._next_forced is None:
            self._next_forced = self.first_excursion_s
        if elapsed >= self._next_forced and self.ccps:
            self._start(self.rng.choice(self.ccps), elapsed)
            self._next_forced = float("inf")
        batch: list[dict[str, Any]] = []
        stamp = now.timestamp()
        for ccp in self.ccps:
            if ccp.excursion_until <= elapsed and self.rng.random() < self.excursion_chance:
                self._start(ccp, elapsed)
            out = ccp.excursion_until > elapsed
            for device in ccp.devices:
                for k in range(self.rate):
                    at = datetime.fromtimestamp(stamp - 1 + k / self.rate, UTC)
                    value = ccp.excursion(self.rng) if out else ccp.normal(self.rng)
                    batch.append({"ccpId": ccp.id, "deviceId": device, "at": at.isoformat(), "value": value,
                                  "unit": ccp.unit})  # fmt: skip
        return batch

    def _start(self, ccp: SimulatedCcp, elapsed: float) -> None:
        ccp.excursion_until = elapsed + self.rng.uniform(5, 12)
        self.excursions += 1


def check_target(url: str) -> None:
    """Refuse any hub that is not on this machine: the simulator is for local demos and benchmarks."""
    host = urlsplit(url).hostname or ""
    if host not in LOOPBACK:
        raise ValueError(f"the simulator posts to a hub on this machine only (127.0.0.1), not {host!r}")


def wait_for_hub(url: str, *, seconds: float) -> bool:
    """Wait until the hub on this machine answers ``/healthz`` (``make run`` starts the simulator before it)."""
    check_target(url)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url.rstrip('/')}/healthz", timeout=2.0).status_code == 200:
                return True
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    return False


def run(
    *,
    url: str,
    token: str,
    ccps: Sequence[Mapping[str, Any]],
    rate: int,
    duration: float,
    first_excursion_s: float = 30.0,
    say: Callable[[str], None] = print,
) -> dict[str, int]:
    """Post a plant's readings once a second for ``duration`` seconds; the totals the hub answered."""
    check_target(url)
    if not 1 <= rate <= MAX_RATE:
        raise ValueError(f"rate must lie between 1 and {MAX_RATE} readings a second per device")
    duration = min(max(duration, 1.0), MAX_SECONDS)
    simulation = Simulation([SimulatedCcp.from_row(c) for c in ccps if c.get("devices")], rate, first_excursion_s)
    totals = {"accepted": 0, "duplicates": 0, "refused": 0, "excursions": 0}
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    start = time.monotonic()
    with httpx.Client(timeout=10.0) as client:
        tick = 0
        while (elapsed := time.monotonic() - start) < duration:
            batch = simulation.readings(elapsed, datetime.now(UTC))
            if batch:
                try:
                    answer = client.post(
                        f"{url.rstrip('/')}/haccp/readings", content=orjson.dumps(batch), headers=headers
                    )
                except httpx.TransportError as error:  # the hub stopped (make run ended): so does its gateway
                    say(f"the hub at {url} stopped answering ({type(error).__name__}); the simulator stops")
                    break
                if answer.status_code == 200:
                    totals["accepted"] += answer.json()["accepted"]
                    totals["duplicates"] += answer.json()["duplicates"]
                else:
                    totals["refused"] += len(batch)
                    say(f"the hub refused a batch ({answer.status_code}): {answer.text[:300]}")
            totals["excursions"] = simulation.excursions
            tick += 1
            if tick % 10 == 0:
                say(f"{elapsed:5.0f} s: {totals['accepted']} readings accepted, {simulation.excursions} excursions")
            time.sleep(max(0.0, start + tick - time.monotonic()))
    return totals
