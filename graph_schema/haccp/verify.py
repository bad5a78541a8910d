"""Proof that no CCP reading was altered, inserted or deleted since it arrived: chains and seals recomputed.

Each device's readings are read in chain order and every link checked: its sequence number follows the one
before (a gap is a deletion, a repeat or a reading without one an insertion), it names the previous reading's
hash, and its content still gives its own hash (else it was altered). The chain's head must be the last reading
(else its last readings were deleted). Each plant's day seal is recomputed from the readings that arrived that
day. Readings rolled up by the retention (graph_schema.haccp.retention) are checked through the chain anchor
their prune left: the first reading kept must follow the last one pruned.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.engine import Engine

from graph_schema.haccp.chain import CHAINED_FIELDS, GENESIS, arrival_day, canonical, link_text, seal_digest
from graph_schema.haccp.readings import CcpChainAnchor, CcpDaySeal, CcpDeviceChain, CcpReading

READINGS = CcpReading.__table__  # type: ignore[attr-defined]
CHAINS = CcpDeviceChain.__table__  # type: ignore[attr-defined]
SEALS = CcpDaySeal.__table__  # type: ignore[attr-defined]
ANCHORS = CcpChainAnchor.__table__  # type: ignore[attr-defined]

ALTERED: Final = "ALTERED"
INSERTED: Final = "INSERTED"
DELETED: Final = "DELETED"
SEAL: Final = "SEAL"
ROLLUP: Final = "ROLLUP"


@dataclass(frozen=True)
class Finding:
    """One place where the stored readings no longer match what was recorded."""

    kind: str  # ALTERED, INSERTED, DELETED or SEAL
    message: str
    device_id: str | None = None
    seq: int | None = None
    reading_id: int | None = None
    site_gln: str | None = None
    day: str | None = None


@dataclass
class Report:
    """What a verification read and found."""

    readings: int = 0
    devices: int = 0
    seals: int = 0
    findings: list[Finding] | None = None

    @property
    def intact(self) -> bool:
        return not self.findings


def _rows(engine: Engine, site_gln: str | None) -> Iterator[dict[str, Any]]:
    columns = [READINGS.c.id, *(READINGS.c[name] for name in CHAINED_FIELDS), READINGS.c.prev_hash, READINGS.c.hash]
    query = select(*columns).order_by(READINGS.c.device_id, READINGS.c.seq, READINGS.c.id)
    if site_gln is not None:
        query = query.where(READINGS.c.site_gln == site_gln)
    with engine.connect() as conn:
        for row in conn.execution_options(stream_results=True, yield_per=5_000).execute(query):
            yield dict(row._mapping)


def _check_rollups(engine: Engine, note: Any) -> None:
    from graph_schema.haccp.retention import ROLLUP_SEALS, hourly_rows, rollup_digest

    with engine.connect() as conn:
        for seal in conn.execute(select(ROLLUP_SEALS).order_by(ROLLUP_SEALS.c.ccp_id)).all():
            rows = hourly_rows(conn, seal.ccp_id, int(seal.through_ms))
            if len(rows) != seal.hours or rollup_digest(seal.ccp_id, rows) != seal.digest:
                note(
                    ROLLUP,
                    f"CCP {seal.ccp_id}: its hourly aggregates before the last prune no longer match their "
                    f"seal ({len(rows)} hours found, {seal.hours} sealed)",
                )


def verify(engine: Engine, *, site_gln: str | None = None) -> Report:
    """Recompute every chain and seal (of one plant, or of all); the report lists every finding."""
    findings: list[Finding] = []
    with engine.connect() as conn:
        heads = {r.device_id: (int(r.seq), r.hash) for r in conn.execute(select(CHAINS))}
        anchors = {r.device_id: (int(r.seq), r.hash) for r in conn.execute(select(ANCHORS))}
        seal_query = select(SEALS)
        if site_gln is not None:
            seal_query = seal_query.where(SEALS.c.site_gln == site_gln)
        seals = {(r.site_gln, r.day): r for r in conn.execute(seal_query)}
    report = Report(seals=len(seals))
    days: dict[tuple[str, str], list[Any]] = {}  # (site, day) -> [count, {device: [seq, hash]}]
    device: str | None = None
    expected, previous = 0, GENESIS
    seen_devices: set[str] = set()

    def note(kind: str, message: str, **where: Any) -> None:
        findings.append(Finding(kind, message, **where))

    def close(device_id: str, last_seq: int) -> None:
        head = heads.get(device_id)
        if head is None:
            note(
                INSERTED,
                f"device {device_id} has readings but no chain: they were inserted outside the hub",
                device_id=device_id,
            )
        elif head[0] > last_seq:
            note(
                DELETED,
                f"device {device_id}: readings {last_seq + 1} to {head[0]} (its last) were deleted",
                device_id=device_id,
                seq=last_seq + 1,
            )
        elif head[0] < last_seq:
            note(
                INSERTED,
                f"device {device_id}: readings {head[0] + 1} to {last_seq} were added after its chain's head",
                device_id=device_id,
                seq=head[0] + 1,
            )
        elif head[1] != previous:
            note(
                ALTERED,
                f"device {device_id}: reading {last_seq} does not end the chain as recorded",
                device_id=device_id,
                seq=last_seq,
            )

    for row in _rows(engine, site_gln):
        report.readings += 1
        if row["device_id"] != device:
            if device is not None:
                close(device, expected)
            device = row["device_id"]
            seen_devices.add(device)
            expected, previous = anchors.get(device, (0, GENESIS))
        where = {"device_id": device, "seq": row["seq"], "reading_id": row["id"], "site_gln": row["site_gln"]}
        seq = row["seq"]
        tally = days.setdefault((row["site_gln"], arrival_day(row["recorded_at_ms"])), [0, {}])
        tally[0] += 1
        if seq is None or seq <= expected:
            shown = "no place in its device's chain" if seq is None else f"sequence number {seq}, already taken"
            note(
                INSERTED,
                f"device {device}: reading id {row['id']} (at_ms {row['at_ms']}) has {shown}: it was inserted",
                **where,
            )
            continue
        if seq > expected + 1:
            gap = f"reading {expected + 1}" if seq == expected + 2 else f"readings {expected + 1} to {seq - 1}"
            note(
                DELETED,
                f"device {device}: {gap} were deleted (before reading id {row['id']})",
                **{**where, "seq": expected + 1},
            )
        elif row["prev_hash"] != previous:
            note(
                INSERTED,
                f"device {device}: reading {seq} (id {row['id']}) does not follow "
                f"reading {seq - 1}: the chain was rewritten here",
                **where,
            )
        if row["hash"] is None or link_text(row["prev_hash"] or "", canonical(row)) != row["hash"]:
            note(
                ALTERED,
                f"device {device}: reading {seq} (id {row['id']}, at_ms {row['at_ms']}) "
                "was altered: its content no longer gives its hash",
                **where,
            )
        expected, previous = seq, row["hash"] or ""
        tally[1][device] = [seq, row["hash"]]
    if device is not None:
        close(device, expected)
    for device_id, (seq, _) in sorted(heads.items()):
        kept_from = anchors.get(device_id, (0, GENESIS))[0]
        if device_id not in seen_devices and seq > kept_from and site_gln is None:
            note(
                DELETED,
                f"device {device_id}: all its readings ({kept_from + 1} to {seq}) were deleted",
                device_id=device_id,
                seq=kept_from + 1,
            )
    report.devices = len(seen_devices)
    for (site, day), seal in sorted(seals.items()):
        found = days.pop((site, day), None)
        if seal.rolled_up:
            continue  # its readings were rolled up by the retention; their chain anchors vouch for them
        if found is None:
            note(SEAL, f"site {site}, day {day}: its {seal.reading_count} readings are gone", site_gln=site, day=day)
        elif found[0] != seal.reading_count or seal_digest(site, day, found[0], found[1]) != seal.digest:
            note(
                SEAL,
                f"site {site}, day {day}: {found[0]} readings found, {seal.reading_count} "
                "sealed; the day's seal does not match",
                site_gln=site,
                day=day,
            )
    for site, day in sorted(days):
        note(SEAL, f"site {site}, day {day}: readings without a seal (inserted)", site_gln=site, day=day)
    if site_gln is None:
        _check_rollups(engine, note)
    report.findings = findings
    return report
