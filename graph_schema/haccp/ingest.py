"""CCP readings in: checked against their CCPs' definitions, then written all at once or not at all.

Built for gateways posting thousands of readings a second: readings are checked field by field with plain
Python (no model object per reading), the CCP definitions are fetched once per batch by the caller, and the
batch is written with one ``executemany`` inside one transaction that also extends each device's hash chain
and its plant's day seal (graph_schema.haccp.chain). Idempotent on (device, time): a reading sent again with
the same value is a duplicate and changes nothing; with another value it is refused (readings are append-only).
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import orjson
from sqlalchemy import bindparam, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from graph_schema.haccp.chain import GENESIS, arrival_day, canonical_of, link_text, seal_digest
from graph_schema.haccp.readings import (
    HOUR_MS,
    MINUTE_MS,
    CcpDaySeal,
    CcpDeviceChain,
    CcpReading,
    CcpReadingHour,
    CcpReadingMinute,
    ReadingSpan,
)

FIELDS: Final = frozenset({"ccpId", "deviceId", "at", "value", "unit"})
MAX_PROBLEMS: Final = 100  # listed in one answer; the count says how many there were in all
EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
ONE_MS: Final = timedelta(milliseconds=1)
IN_CHUNK: Final = 2_000  # times per lookup of existing readings (SQLite allows 32,766 bound values)

READINGS = CcpReading.__table__  # type: ignore[attr-defined]
# a checked reading's columns, then those the store adds (arrival time and the device's chain)
CHECKED: Final = (
    "ccp_id", "site_gln", "firm_id", "device_id", "at_ms", "value", "unit", "limit_low", "limit_high", "in_limits",
)  # fmt: skip
COLUMNS: Final = (*CHECKED, "recorded_at_ms", "seq", "prev_hash", "hash")
NEARBY_MS: Final = 600_000  # times of one device closer than this are looked up as one range
CHAINS = CcpDeviceChain.__table__  # type: ignore[attr-defined]
SEALS = CcpDaySeal.__table__  # type: ignore[attr-defined]
MINUTES = CcpReadingMinute.__table__  # type: ignore[attr-defined]
HOURS = CcpReadingHour.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class CcpDefinition:
    """What a reading is checked against: the CCP's firm, site, unit, limits and devices."""

    id: str
    firm_id: str
    site_gln: str
    unit: str
    limit_low: float | None
    limit_high: float | None
    devices: frozenset[str]

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> CcpDefinition:
        return cls(
            id=row["id"],
            firm_id=row["firmId"],
            site_gln=row["siteGln"],
            unit=row["unit"],
            limit_low=row.get("limitLow"),
            limit_high=row.get("limitHigh"),
            devices=frozenset(row.get("devices") or ()),
        )


@dataclass(frozen=True)
class ReadingProblem:
    """Why one reading of a batch was refused: its index in the batch, the field, a stable code, a message."""

    index: int
    field: str
    code: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"index": self.index, "field": self.field, "code": self.code, "message": self.message}


@dataclass
class IngestOutcome:
    """A batch's result: written and duplicate counts and the spans per CCP, or the problems (nothing written)."""

    accepted: int = 0
    duplicates: int = 0
    spans: list[ReadingSpan] = field(default_factory=list)
    problems: list[ReadingProblem] = field(default_factory=list)
    problem_count: int = 0


class Problems:
    """Collects problems, keeping the first ``MAX_PROBLEMS`` and counting all."""

    def __init__(self) -> None:
        self.listed: list[ReadingProblem] = []
        self.count = 0

    def add(self, index: int, field_name: str, code: str, message: str) -> None:
        self.count += 1
        if len(self.listed) < MAX_PROBLEMS:
            self.listed.append(ReadingProblem(index, field_name, code, message))


def ccp_ids_of(items: Iterable[Any]) -> list[str]:
    """The distinct CCP ids a batch names (what to look up before checking it)."""
    ids = {item.get("ccpId") for item in items if isinstance(item, dict)}
    return sorted(i for i in ids if isinstance(i, str) and 0 < len(i) <= 200)


def _time_ms(value: Any) -> int | str:
    """Milliseconds since the epoch, or why the time is not one."""
    if not isinstance(value, str) or len(value) > 40:
        return "must be an ISO 8601 time with its UTC offset, e.g. 2026-12-01T09:00:00.250+09:00"
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return f"{value!r} is not an ISO 8601 time"
    if moment.tzinfo is None:
        return f"{value!r} has no UTC offset (add Z or +09:00)"
    return (moment - EPOCH) // ONE_MS


def check_readings(
    items: Sequence[Any],
    definitions: Mapping[str, CcpDefinition],
    *,
    firm_id: str,
    now_ms: int,
    skew_ms: int,
    oldest_ms: int | None = None,
) -> tuple[list[list[Any]], list[int], Problems]:
    """Check every reading; return the rows to write (the first ``CHECKED`` columns: limits in force and pass/fail
    included), their indexes in the batch, and the problems. ``definitions`` holds the CCPs found; one of another
    firm counts as unknown."""
    problems = Problems()
    rows: list[list[Any]] = []
    indexes: list[int] = []
    latest = now_ms + skew_ms
    earliest = oldest_ms if oldest_ms is not None else -(2**62)
    mine = {ccp_id: d for ccp_id, d in definitions.items() if d.firm_id == firm_id}
    times: dict[Any, int | str] = {}  # a gateway's batch names each instant for many devices: parse it once
    for index, item in enumerate(items):
        # the common case in a handful of lookups; anything unusual is described by _describe below
        if type(item) is dict and len(item) == 5:
            try:
                ccp_id, device_id, at, value, unit = (
                    item["ccpId"], item["deviceId"], item["at"], item["value"], item["unit"]
                )  # fmt: skip
            except KeyError:
                ccp_id = None
            definition = mine.get(ccp_id) if type(ccp_id) is str else None
            if definition is not None and type(at) is str:
                at_ms = times.get(at)
                if at_ms is None:
                    at_ms = times[at] = _time_ms(at)
                if (
                    type(device_id) is str
                    and device_id in definition.devices
                    and unit == definition.unit
                    and (type(value) is float or type(value) is int)
                    and math.isfinite(value)
                    and type(at_ms) is int
                    and earliest <= at_ms <= latest
                ):
                    number = float(value)
                    low, high = definition.limit_low, definition.limit_high
                    in_limits = (low is None or number >= low) and (high is None or number <= high)
                    rows.append(
                        [ccp_id, definition.site_gln, firm_id, device_id, at_ms, number, unit, low, high, in_limits]
                    )
                    indexes.append(index)
                    continue
        _describe(problems, index, item, mine, now_ms=now_ms, latest=latest, earliest=earliest)
    return rows, indexes, problems


def _describe(
    problems: Problems,
    index: int,
    item: Any,
    mine: Mapping[str, CcpDefinition],
    *,
    now_ms: int,
    latest: int,
    earliest: int,
) -> None:
    """Every problem of a reading the fast path did not take."""
    if not isinstance(item, dict):
        problems.add(index, "", "INVALID_READING", "a reading is an object {ccpId, deviceId, at, value, unit}")
        return
    if item.keys() != FIELDS:
        missing = sorted(FIELDS - item.keys())
        for name in missing:
            problems.add(index, name, "REQUIRED", f"{name} is required")
        for name in sorted(set(item) - FIELDS, key=str)[:5]:
            problems.add(index, str(name)[:100], "UNKNOWN_FIELD", "a reading has only ccpId, deviceId, at, value, unit")
        if missing or len(item) != len(FIELDS):
            return
    ccp_id, device_id, value, unit = item["ccpId"], item["deviceId"], item["value"], item["unit"]
    definition = mine.get(ccp_id) if isinstance(ccp_id, str) else None
    if definition is None:
        shown = ccp_id[:200] if isinstance(ccp_id, str) else type(ccp_id).__name__
        problems.add(index, "ccpId", "UNKNOWN_CCP", f"no CCP {shown!r} at your firm's sites")
    elif not isinstance(device_id, str) or device_id not in definition.devices:
        shown = device_id[:200] if isinstance(device_id, str) else type(device_id).__name__
        problems.add(index, "deviceId", "UNKNOWN_DEVICE", f"device {shown!r} does not report for CCP {ccp_id}")
    if type(value) is not float and type(value) is not int:
        problems.add(index, "value", "NOT_A_NUMBER", "value must be a number")
    elif not math.isfinite(value):
        problems.add(index, "value", "NOT_A_NUMBER", f"value {value} is not a finite number")
    if definition is not None and unit != definition.unit:
        shown = unit[:20] if isinstance(unit, str) else type(unit).__name__
        problems.add(index, "unit", "WRONG_UNIT", f"CCP {ccp_id} reads in {definition.unit!r}, not {shown!r}")
    at_ms = _time_ms(item["at"])
    if isinstance(at_ms, str):
        problems.add(index, "at", "INVALID_TIME", at_ms)
    elif at_ms > latest:
        ahead = (at_ms - now_ms) / 1000
        problems.add(index, "at", "IN_THE_FUTURE", f"{item['at']} lies {ahead:.1f} s ahead of the hub's clock")
    elif at_ms < earliest:
        problems.add(index, "at", "TOO_OLD", f"{item['at']} lies before the retention period of raw readings")


def store_readings(
    engine: Engine, rows: list[list[Any]], indexes: list[int], *, recorded_at_ms: int | None = None
) -> IngestOutcome:
    """Write checked readings in one transaction: duplicates skipped, a changed reading refuses the batch; each
    device's chain and each plant's day seal extended in arrival order. The arrival time is taken once the
    devices' chains are locked (unless given), so that it grows along each chain."""
    with engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            # take the write lock now: the chain heads read below must not change before the batch is written
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        outcome = _store(conn, rows, indexes, recorded_at_ms=recorded_at_ms)
        if outcome.problems:
            conn.rollback()
        else:
            conn.commit()
        return outcome


def _store(conn: Connection, rows: list[list[Any]], indexes: list[int], *, recorded_at_ms: int | None) -> IngestOutcome:
    times: dict[str, list[int]] = defaultdict(list)
    for row in rows:
        times[row[3]].append(row[4])
    devices = sorted(times)
    sites = sorted({row[1] for row in rows})
    chain = _lock_chains(conn, devices)
    if recorded_at_ms is None:
        recorded_at_ms = time.time_ns() // 1_000_000
    day = arrival_day(recorded_at_ms)
    seals = _lock_seals(conn, sites, day)
    stored = {device: _stored_values(conn, device, times[device]) for device in devices}
    problems = Problems()
    written: list[tuple[Any, ...]] = []  # in the batch's order: the order of arrival
    minutes: dict[tuple[str, int], list[Any]] = {}  # (ccp, minute) -> [count, min, max, sum, out of limits]
    spans: dict[str, list[int]] = {}  # ccp -> [first, last, count] by measurement time
    duplicates = 0
    # one pass: duplicates and conflicts, then the chain link, the seal, the minute bucket and the span of each
    # new reading (this loop is most of the ingest's own time, so it does no more than that)
    for position, row in enumerate(rows):
        ccp_id, site_gln, firm_id, device, at_ms, value, unit, low, high, in_limits = row
        known = stored[device]
        earlier = known.get(at_ms)
        if earlier is not None:
            if earlier == value:
                duplicates += 1
            else:
                message = f"device {device} already reported {earlier!r} at this time; readings cannot be changed"
                problems.add(indexes[position], "value", "CONFLICT", message)
            continue
        known[at_ms] = value
        if problems.count:
            continue  # nothing will be written: only the other conflicts are still of interest
        seq, prev = chain[device]
        seq += 1
        digest = link_text(
            prev,
            canonical_of(
                seq, device, ccp_id, site_gln, firm_id, at_ms, value, unit, low, high, in_limits, recorded_at_ms
            ),
        )
        chain[device] = (seq, digest)
        seal = seals[site_gln]
        seal[0] += 1
        seal[1][device] = [seq, digest]
        written.append((*row, recorded_at_ms, seq, prev, digest))
        key = (ccp_id, at_ms - at_ms % MINUTE_MS)
        bucket = minutes.get(key)
        if bucket is None:
            minutes[key] = [1, value, value, value, 0 if in_limits else 1]
        else:
            bucket[0] += 1
            if value < bucket[1]:
                bucket[1] = value
            elif value > bucket[2]:
                bucket[2] = value
            bucket[3] += value
            if not in_limits:
                bucket[4] += 1
        span = spans.get(ccp_id)
        if span is None:
            spans[ccp_id] = [at_ms, at_ms, 1]
        else:
            if at_ms < span[0]:
                span[0] = at_ms
            elif at_ms > span[1]:
                span[1] = at_ms
            span[2] += 1
    if problems.count:
        return IngestOutcome(problems=problems.listed, problem_count=problems.count)
    if written:
        _insert(conn, written)
        _aggregate(conn, MINUTES, minutes)
        _aggregate(conn, HOURS, _hours(minutes))
        conn.execute(
            update(CHAINS).where(CHAINS.c.device_id == bindparam("d")).values(seq=bindparam("s"), hash=bindparam("h")),
            [{"d": device, "s": seq, "h": digest} for device, (seq, digest) in chain.items()],
        )
        conn.execute(
            update(SEALS)
            .where(SEALS.c.site_gln == bindparam("g"), SEALS.c.day == bindparam("dd"))
            .values(reading_count=bindparam("n"), heads=bindparam("hh"), digest=bindparam("x")),
            [
                {
                    "g": site,
                    "dd": day,
                    "n": n,
                    "hh": orjson.dumps(heads).decode(),
                    "x": seal_digest(site, day, n, heads),
                }
                for site, (n, heads) in seals.items()
            ],
        )
    return IngestOutcome(
        accepted=len(written),
        duplicates=duplicates,
        spans=[ReadingSpan(ccp, first, last, n) for ccp, (first, last, n) in sorted(spans.items())],
    )


def _hours(minutes: dict[tuple[str, int], list[Any]]) -> dict[tuple[str, int], list[Any]]:
    """The minute buckets folded into hour buckets."""
    hours: dict[tuple[str, int], list[Any]] = {}
    for (ccp_id, minute), (n, low, high, total, out) in minutes.items():
        key = (ccp_id, minute - minute % HOUR_MS)
        bucket = hours.get(key)
        if bucket is None:
            hours[key] = [n, low, high, total, out]
        else:
            bucket[0] += n
            bucket[1] = min(bucket[1], low)
            bucket[2] = max(bucket[2], high)
            bucket[3] += total
            bucket[4] += out
    return hours


def _aggregate(conn: Connection, table: Any, buckets: dict[tuple[str, int], list[Any]]) -> None:
    """Add the batch's buckets (count, min, max, sum, out of limits) to its CCPs' stored ones."""
    postgres = conn.dialect.name == "postgresql"
    insert = (postgresql if postgres else sqlite).insert(table)
    lower, upper = (func.least, func.greatest) if postgres else (func.min, func.max)
    conn.execute(
        insert.on_conflict_do_update(
            index_elements=["ccp_id", "bucket_ms"],
            set_={
                "count": table.c.count + insert.excluded.count,
                "min": lower(table.c.min, insert.excluded.min),
                "max": upper(table.c.max, insert.excluded.max),
                "sum": table.c.sum + insert.excluded.sum,
                "out_of_limits": table.c.out_of_limits + insert.excluded.out_of_limits,
            },
        ),
        [
            {"ccp_id": ccp_id, "bucket_ms": start, "count": n, "min": lo, "max": hi, "sum": total, "out_of_limits": out}
            for (ccp_id, start), (n, lo, hi, total, out) in buckets.items()
        ],
    )


_INSERTS: dict[str, tuple[str, bool]] = {}


def _insert(conn: Connection, written: list[tuple[Any, ...]]) -> None:
    """One executemany of the compiled INSERT through the connection (no per-row parameter processing: the
    values are already the driver's plain types)."""
    dialect = conn.dialect
    compiled = _INSERTS.get(dialect.name)
    if compiled is None:
        statement = READINGS.insert().compile(dialect=dialect, column_keys=list(COLUMNS))
        if statement.positional and list(statement.positiontup or []) != list(COLUMNS):
            raise AssertionError("the INSERT's parameters are not in column order")
        compiled = _INSERTS[dialect.name] = (str(statement), bool(statement.positional))
    sql, positional = compiled
    conn.exec_driver_sql(sql, written if positional else [dict(zip(COLUMNS, row, strict=True)) for row in written])


def _insert_missing(conn: Connection, table: Any, rows: list[dict[str, Any]], keys: list[str]) -> None:
    if not rows:
        return
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    conn.execute(dialect.insert(table).on_conflict_do_nothing(index_elements=keys), rows)


def _lock_chains(conn: Connection, devices: list[str]) -> dict[str, tuple[int, str]]:
    """The devices' chain heads, created when new and locked until commit (on PostgreSQL by row locks taken in
    key order; SQLite's write lock is already held)."""
    _insert_missing(conn, CHAINS, [{"device_id": d, "seq": 0, "hash": GENESIS} for d in devices], ["device_id"])
    chains: dict[str, tuple[int, str]] = {}
    for start in range(0, len(devices), IN_CHUNK):
        part = devices[start : start + IN_CHUNK]
        query = select(CHAINS.c.device_id, CHAINS.c.seq, CHAINS.c.hash).where(CHAINS.c.device_id.in_(part))
        for device_id, seq, digest in conn.execute(query.order_by(CHAINS.c.device_id).with_for_update()):
            chains[device_id] = (int(seq), digest)
    return chains


def _lock_seals(conn: Connection, sites: list[str], day: str) -> dict[str, list[Any]]:
    """The plants' seals of the day (site -> [reading count, {device: [seq, hash]}]), created and locked likewise."""
    new_seals = [{"site_gln": s, "day": day, "reading_count": 0, "heads": "{}", "digest": GENESIS} for s in sites]
    _insert_missing(conn, SEALS, new_seals, ["site_gln", "day"])
    query = (
        select(SEALS.c.site_gln, SEALS.c.reading_count, SEALS.c.heads)
        .where(SEALS.c.site_gln.in_(sites), SEALS.c.day == day)
        .order_by(SEALS.c.site_gln)
        .with_for_update()
    )
    return {site: [int(count), orjson.loads(heads)] for site, count, heads in conn.execute(query)}


def _stored_values(conn: Connection, device: str, times: list[int]) -> dict[int, float]:
    """The device's stored readings at the batch's times (by range: a stream's batch is one short range)."""
    wanted = sorted(set(times))
    found: dict[int, float] = {}
    start = 0
    for end in range(1, len(wanted) + 1):
        if end < len(wanted) and wanted[end] - wanted[end - 1] <= NEARBY_MS:
            continue
        query = select(READINGS.c.at_ms, READINGS.c.value).where(
            READINGS.c.device_id == device, READINGS.c.at_ms.between(wanted[start], wanted[end - 1])
        )
        found.update((int(at), float(value)) for at, value in conn.execute(query))
        start = end
    return found
