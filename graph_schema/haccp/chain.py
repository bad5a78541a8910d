"""The tamper evidence of CCP readings: each device's readings hash-chained, each plant's arrival day sealed.

A reading's hash covers its canonical text (every stored field but its row id and its own hash) and the hash
of the device's previous reading, so altering, inserting or deleting a reading breaks the chain from there on.
A plant's day seal (arrival day, UTC) is a digest over how many readings arrived that day and where each of its
devices' chains stood at the day's last arrival: a reading of that day altered, inserted or deleted changes a
chain and so the seal; the inspector's monthly record carries the digests, so even a day whose chains were all
recomputed after the fact no longer matches the record on paper.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Final

GENESIS: Final = "0" * 64  # the "previous hash" of a device's first reading, and a day's digest before any
DAY_MS: Final = 86_400_000


def canonical(reading: Mapping[str, Any]) -> str:
    """The text a reading's hash covers: one line, fields in a fixed order, floats in their shortest exact form."""
    return canonical_of(*(reading[name] for name in CHAINED_FIELDS))


# the stored fields a reading's hash covers, in the order of its canonical text
CHAINED_FIELDS: Final = (
    "seq", "device_id", "ccp_id", "site_gln", "firm_id", "at_ms", "value", "unit", "limit_low", "limit_high",
    "in_limits", "recorded_at_ms",
)  # fmt: skip


def canonical_of(
    seq: int,
    device_id: str,
    ccp_id: str,
    site_gln: str,
    firm_id: str,
    at_ms: int,
    value: float,
    unit: str,
    limit_low: float | None,
    limit_high: float | None,
    in_limits: bool,
    recorded_at_ms: int,
) -> str:
    """``canonical`` from the fields themselves (the ingest's hot path builds no mapping)."""
    low = "" if limit_low is None else repr(float(limit_low))
    high = "" if limit_high is None else repr(float(limit_high))
    return (
        f"{seq}|{device_id}|{ccp_id}|{site_gln}|{firm_id}|{at_ms}|{float(value)!r}|{unit}|{low}|{high}|"
        f"{int(bool(in_limits))}|{recorded_at_ms}"
    )


def link(prev_hash: str, reading: Mapping[str, Any]) -> str:
    """A reading's hash: over the previous reading's hash and its own canonical text."""
    return link_text(prev_hash, canonical(reading))


def link_text(prev_hash: str, text: str) -> str:
    """``link`` over a canonical text already made."""
    return hashlib.sha256(f"{prev_hash}\n{text}".encode()).hexdigest()


def seal_digest(site_gln: str, day: str, reading_count: int, heads: Mapping[str, Sequence[Any]]) -> str:
    """A plant's day seal: its readings of the day counted, and each device's chain head (seq, hash) at the day's
    last arrival, devices in order."""
    lines = [f"{site_gln}|{day}|{reading_count}"]
    lines.extend(f"{device}|{heads[device][0]}|{heads[device][1]}" for device in sorted(heads))
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def arrival_day(recorded_at_ms: int) -> str:
    """The UTC day (YYYY-MM-DD) a reading arrived on: the day whose seal it counts in."""
    return datetime.fromtimestamp(recorded_at_ms // DAY_MS * DAY_MS / 1000, UTC).date().isoformat()
