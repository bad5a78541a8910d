"""Capturing a stream of EPCIS events: all or nothing by default, or every valid event with ``proceed``.

Rollback (the default): every event is first read and validated (schema, vocabulary, identifiers) without
writing anything; one invalid event rejects the document. The events are then written in batches inside one
Neo4j transaction of up to ``transaction_events`` events (20,000 by default), so the hub's memory stays
bounded and a graph-level error (an unknown site, another firm's site, a lot never commissioned, an eventID
reused) rolls the whole document back. A larger document takes several transactions: Neo4j holds a
transaction's changes in its heap, and 100,000 events in one overflow a 3 GB server. A graph-level error then
rolls back its own transaction and stops the capture; the transactions before it stay, the job says how many
events they captured, and since capture is idempotent (an event already stored with the same content is a
duplicate and changes nothing) the corrected document can simply be sent again.

With ``proceed`` the events at fault are set aside and the pass runs again without them (events that depended
on a rejected one are rejected too, with their own reason).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice
from typing import Any, Final

import anyio
from neo4j import AsyncTransaction
from pydantic import ValidationError

from graph_schema.db import CheckedStep, Graph, run
from graph_schema.epcis import mapping, store
from graph_schema.epcis.master_data import MasterData
from graph_schema.epcis.master_data_store import write_master_data
from graph_schema.epcis.model import EpcisEvent, EventError
from graph_schema.errors import CONFLICT, HubError
from graph_schema.inventory import StockMove, move_stock
from graph_schema.records import validation_error

MAX_LISTED_ERRORS: Final = 1000  # a job lists this many; the count covers all
MAX_PASSES: Final = 5

SourceItem = EpcisEvent | list[EventError] | MasterData
EventSource = Callable[[], Iterable[tuple[int, SourceItem]]]
"""Yields each event of the document in order, validated (or its errors); called once per pass. A document's
master data comes first, under a negative index, as ``MasterData``."""

VALIDATING: Final = "VALIDATING"
CAPTURING: Final = "CAPTURING"
Progress = Callable[[str, int, int | None], Awaitable[None]]
"""``(phase, events processed, events in all when known)``, awaited after each batch of a capture."""


@dataclass
class CapturedSensors:
    """A captured event's sensorElementList (as written), its site (business location, else read point) and time."""

    site_gln: str | None
    event_time: datetime
    elements: list[dict[str, Any]]


@dataclass
class CaptureOutcome:
    """What a capture did: events stored, duplicates skipped, and every error (listed up to a cap)."""

    event_count: int = 0
    captured: int = 0
    duplicates: int = 0
    errors: list[EventError] = field(default_factory=list)
    error_count: int = 0
    rejected_events: int = 0
    committed: bool = False
    # the sensor readings of the events committed, for the Smart HACCP ingest that follows the capture
    sensor_events: list[CapturedSensors] = field(default_factory=list)

    def add(self, error: EventError) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_LISTED_ERRORS:
            self.errors.append(error)


class _Rejected(Exception):
    """Raised inside the transaction so that it rolls back."""


@dataclass
class _Pass:
    graph_firm: str
    capture_id: str
    placeholders: bool
    record_time: datetime
    outcome: CaptureOutcome = field(default_factory=CaptureOutcome)
    failed: set[int] = field(default_factory=set)
    seen: dict[str, str] = field(default_factory=dict)  # eventId -> hash, within this document

    def fail(self, index: int | None, error: EventError) -> None:
        if index is not None:
            self.failed.add(index)
        self.outcome.add(error)

    def fail_with(self, index: int, event_id: str | None, error: HubError) -> None:
        where, _, name = (error.field or "").rpartition(".")
        field_name = mapping.EPCIS_FIELDS.get(name, name) if where else (error.field or "")
        self.fail(
            index, EventError(index=index, event_id=event_id, field=field_name, code=error.code, message=error.message)
        )


async def capture(
    graph: Graph,
    source: EventSource,
    *,
    firm_id: str,
    capture_id: str,
    proceed: bool,
    placeholders: bool,
    record_time: datetime,
    batch_size: int = 500,
    transaction_events: int = 20_000,
    progress: Progress | None = None,
) -> CaptureOutcome:
    """Capture the events of ``source`` for ``firm_id``; see the module's docstring for the two behaviours.

    ``progress(phase, processed, total)`` is awaited after each batch: ``VALIDATING`` with the events read so far,
    then ``CAPTURING`` with the events looked at so far (``total`` known once a validation pass has counted them)."""
    total: int | None = None
    if not proceed:
        # every event is validated before anything is written, whatever the document's size
        invalid = await _validation_errors(source, batch_size=max(batch_size, 2000), progress=progress)
        if invalid.error_count:
            return invalid
        total = invalid.event_count
    set_aside: set[int] = set()
    reported: list[EventError] = []
    captured = 0
    sensors: list[CapturedSensors] = []  # of the transactions committed by earlier passes
    for _ in range(MAX_PASSES):
        state = _Pass(graph_firm=firm_id, capture_id=capture_id, placeholders=placeholders, record_time=record_time)
        await _run_pass(
            graph,
            state,
            source,
            set_aside=set_aside,
            batch_size=batch_size,
            transaction_events=transaction_events,
            progress=progress,
            total=total,
        )
        outcome = state.outcome
        sensors.extend(outcome.sensor_events)
        outcome.sensor_events = sensors
        # events captured by an earlier pass come back as duplicates in this one
        outcome.duplicates -= captured
        captured += outcome.captured
        outcome.captured = captured
        if not outcome.error_count:
            outcome.committed = True
            outcome.errors = reported[:MAX_LISTED_ERRORS]
            outcome.error_count = len(reported)
            outcome.rejected_events = len(set_aside)
            outcome.event_count += len(set_aside)
            return outcome
        header_errors = any(error.index is None for error in outcome.errors)
        if not proceed or header_errors:
            outcome.rejected_events = len(state.failed)
            return outcome
        reported.extend(outcome.errors)
        set_aside |= state.failed
    # events kept failing pass after pass (each pass rejecting new dependants): give up
    outcome.errors = reported[:MAX_LISTED_ERRORS]
    outcome.error_count = len(reported)
    return outcome


async def _validation_errors(source: EventSource, *, batch_size: int, progress: Progress | None) -> CaptureOutcome:
    """Read and validate the whole document, writing nothing: its events' own errors."""
    outcome = CaptureOutcome()
    events = iter(source())
    while chunk := await anyio.to_thread.run_sync(_take, events, batch_size):
        for index, item in chunk:
            if index >= 0:
                outcome.event_count += 1
            if isinstance(item, list):
                for error in item:
                    outcome.add(error)
        if progress is not None:
            await progress(VALIDATING, outcome.event_count, None)
    outcome.rejected_events = len({error.index for error in outcome.errors if error.index is not None})
    return outcome


async def _run_pass(
    graph: Graph,
    state: _Pass,
    source: EventSource,
    *,
    set_aside: set[int],
    batch_size: int,
    transaction_events: int,
    progress: Progress | None = None,
    total: int | None = None,
) -> None:
    """One pass over the document, ``transaction_events`` events per transaction; it stops at the first
    transaction with an error, which is rolled back (the ones before it stay: capture is idempotent)."""
    events = iter(source())
    exhausted = False
    while not exhausted:
        captured, duplicates = state.outcome.captured, state.outcome.duplicates
        sensors = len(state.outcome.sensor_events)
        try:
            async with graph.unit_of_work() as tx:
                in_transaction = 0
                while in_transaction < transaction_events:
                    # parsing and validating is CPU work: done in a worker thread, a batch at a time, so the hub
                    # keeps answering other requests while a large document is captured
                    chunk = await anyio.to_thread.run_sync(_take, events, batch_size)
                    if not chunk:
                        exhausted = True
                        break
                    in_transaction += len(chunk)
                    await _capture_chunk(tx, state, chunk, set_aside=set_aside)
                    if progress is not None:
                        await progress(CAPTURING, state.outcome.event_count, total)
                if state.outcome.error_count:
                    raise _Rejected
        except _Rejected:
            state.outcome.captured, state.outcome.duplicates = captured, duplicates
            del state.outcome.sensor_events[sensors:]  # rolled back with their events
            if not exhausted:  # the events after the failed transaction were not looked at: count them
                state.outcome.event_count += sum(1 for index, _ in events if index >= 0 and index not in set_aside)
            return


async def _capture_chunk(
    tx: AsyncTransaction, state: _Pass, chunk: list[tuple[int, SourceItem]], *, set_aside: set[int]
) -> None:
    batch: list[EpcisEvent] = []
    for index, item in chunk:
        if index in set_aside:
            continue
        if index >= 0:  # negative: the document's header
            state.outcome.event_count += 1
        if isinstance(item, MasterData):
            await _write_master_data(tx, state, item)
            continue
        if isinstance(item, list):
            for error in item:
                state.fail(error.index, error)
            continue
        batch.append(item)
    if batch:
        await _capture_batch(tx, state, batch)


async def _write_master_data(tx: AsyncTransaction, state: _Pass, master: MasterData) -> None:
    """The document's master data, checked and written in the capture's transaction (a refusal rolls it back)."""
    problems = await write_master_data(
        tx, master, firm_id=state.graph_firm, capture_id=state.capture_id, now=state.record_time
    )
    for error in problems:
        where = error.field or "epcisHeader"
        if where.startswith("/"):  # an XML element path: the id is the element's attribute, children its element
            where = re.sub(r"\.id$", "/@id", re.sub(r"\.children$", "/children", where))
        state.fail(None, EventError(index=None, field=where, code=error.code, message=error.message))


def _take(events: Iterator[tuple[int, SourceItem]], count: int) -> list[tuple[int, SourceItem]]:
    return list(islice(events, count))


async def _capture_batch(tx: AsyncTransaction, state: _Pass, batch: Sequence[EpcisEvent]) -> None:
    firm_id = state.graph_firm
    # the same event twice in one document: once is enough; other content under one id is a conflict
    fresh: list[EpcisEvent] = []
    for event in batch:
        earlier = state.seen.get(event.event_id)
        if earlier is None:
            state.seen[event.event_id] = event.event_hash
            fresh.append(event)
        elif earlier == event.event_hash:
            state.outcome.duplicates += 1
        else:
            state.fail(
                event.index,
                EventError(
                    index=event.index,
                    event_id=event.event_id,
                    field="eventID",
                    code=CONFLICT,
                    message=f"eventList[{event.index}]: eventID {event.event_id} appears earlier in this document "
                    "with other content",
                ),
            )
    stored = await store.stored_hashes(tx, [event.event_id for event in fresh])
    events: list[EpcisEvent] = []
    for event in fresh:
        if stored.get(event.event_id) == event.event_hash:
            state.outcome.duplicates += 1
        else:
            events.append(event)  # a clash with a stored event is reported by the events step's check
    if not events:
        return
    keys = sorted({(q.gtin, q.lot) for e in events for q in e.classes if q.gtin is not None and q.lot is not None})
    known = await store.resolve_lots(tx, keys)
    if state.placeholders:
        plans = _plans(events, state, known)
        await run(tx, mapping.PLACEHOLDERS, mapping.placeholder_params(plans, firm_id=firm_id, known=known))
        known = await store.resolve_lots(tx, keys)

    rows = [store.event_row(event, record_time=state.record_time) for event in events]
    step = store.events_step(
        rows, firm_id=firm_id, capture_id=state.capture_id, where=lambda i: f"eventList[{events[i].index}]"
    )
    for i, error in await step.problems_by_row(tx):
        state.fail_with(events[i].index, events[i].event_id, error)
    allowed = [event for event in events if event.index not in state.failed]

    for run_ in mapping.runs_of(_plans(allowed, state, known)):
        await _write_run(tx, state, run_)

    kept = [i for i, event in enumerate(events) if event.index not in state.failed]
    if kept and not state.outcome.error_count:
        # checked above, in this transaction, and the runs write no event: the store's write alone
        written = await run(tx, store.WRITE_EVENTS, {**step.params, "rows": [rows[i] for i in kept]})
        state.outcome.captured += int(written[0]["created"])
        state.outcome.sensor_events.extend(
            CapturedSensors(e.biz_location_gln or e.read_point_gln, e.event_time, e.sensor_elements)
            for e in (events[i] for i in kept)
            if e.sensor_elements
        )


def _plans(events: Sequence[EpcisEvent], state: _Pass, known: dict[tuple[str, str], str]) -> list[mapping.Planned]:
    """The graph effect of each event that has one worked out; a record failing its own checks fails its event."""
    plans: list[mapping.Planned] = []
    for event in events:
        try:
            plans.append(mapping.plan_event(event, firm_id=state.graph_firm, known=known))
        except ValidationError as error:
            state.fail_with(event.index, event.event_id, validation_error(error, path=f"eventList[{event.index}]"))
    return plans


async def _write_run(tx: AsyncTransaction, state: _Pass, run_: mapping.Run) -> None:
    """Check every step of a run; drop the events at fault and check again until the rest passes, then write."""
    while run_.planned:
        problems = False
        received: list[dict[str, Any]] = []
        for step, owners in mapping.steps_of(run_, firm_id=state.graph_firm):
            if isinstance(step, CheckedStep):
                found = await step.problems_by_row(tx)
                for i, error in found:
                    state.fail_with(owners[i], None, error)
                if found:
                    problems = True
                    break
                await run(tx, step.write, step.params)
            else:
                received += await run(tx, step.query, step.params)
        if not problems:
            if run_.kind in (mapping.COMMISSION, mapping.TRANSFORM, mapping.SHIP):
                await _move_stock(tx, state, *mapping.stock_moves(run_))
            if run_.kind == mapping.RECEIVE:
                await _move_stock(tx, state, *mapping.received_stock(received))
            return
        run_ = mapping.Run(run_.kind, [item for item in run_.planned if item.event.index not in state.failed])


async def _move_stock(tx: AsyncTransaction, state: _Pass, moves: list[StockMove], owners: list[int]) -> None:
    """Stock follows the goods; a movement the inventory refuses (another unit of measure) fails its event."""
    try:
        await move_stock(tx, moves, report=False)
    except HubError as error:
        match = re.match(r"moves\[(\d+)\]", error.field or "")
        index = owners[int(match.group(1))] if match else owners[0]
        state.fail_with(
            index,
            None,
            HubError(f"eventList[{index}]: {error.message}", field=f"eventList[{index}].quantityList", code=error.code),
        )
