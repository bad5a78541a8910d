"""The EPCIS capture service: a capture job's whole life, from the first byte received to its finished record.

The routes (hub/epcis.py) only translate HTTP into calls of this service and its answers and refusals back into
HTTP. The service admits a document against the per-firm and hub-wide caps, spools it to a file (bounded memory),
records the job (hub/capture_jobs.py, the SQL table), runs the capture in the background (graph_schema.epcis.capture,
in the document's own binding: JSON-LD or XML), finishes the job with what it did, and says, for as long as the hub
runs, that this process's jobs still run (and which jobs of silent processes died).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import tempfile
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any, Final

import anyio

from auth.principal import Principal, Role
from graph_schema.db import Graph, GraphUnavailable
from graph_schema.epcis.capture import CaptureOutcome, EventSource, Progress, capture
from graph_schema.epcis.limits import ReadingLimits
from graph_schema.epcis.model import EpcisEvent, EventError
from graph_schema.epcis.reading import capped, document_source
from graph_schema.epcis.xml_reading import XmlRefused, check_prolog, xml_document_source
from graph_schema.errors import UNAVAILABLE
from hub import capture_jobs
from hub.capture_jobs import CaptureJob
from hub.epcis_xsd import epcis_xml_schemas
from hub.haccp import ingest_captured_sensors
from hub.metrics import Metrics
from hub.state import HubState
from resolvers.epcis_subscriptions import publish_captured
from resolvers.notifications import publish_recall_joins_or_leave_them

log = logging.getLogger(__name__)

# a running job's process says so this often; one silent for JOB_STALE_AFTER is declared interrupted
JOB_HEARTBEAT_SECONDS: Final = 10.0
JOB_STALE_AFTER: Final = timedelta(seconds=60)
PAYLOAD_TOO_LARGE: Final = "PAYLOAD_TOO_LARGE"  # as the body-size limit of every route answers
RATE_LIMITED: Final = "RATE_LIMITED"
RETRY_AFTER_SECONDS: Final = 10  # a capture job of a typical document is done by then


class Binding(StrEnum):
    """The EPCIS binding a document is written in."""

    JSON = "json"  # EPCIS 2.0 JSON-LD
    XML = "xml"  # EPCIS 2.0 or 1.2 XML


@dataclass(frozen=True)
class Refused(Exception):
    """A document the service will not take now: the HTTP status, a stable code, what to do about it."""

    status: int
    title: str
    detail: str
    code: str
    retry_after: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return self.detail


@dataclass
class FirmLoad:
    """What one firm's captures hold of the hub: jobs receiving or running, bytes spooled for them."""

    jobs: int = 0
    spooled: int = 0


def _busy(status: int, detail: str) -> Refused:
    title = "Too many captures" if status == 429 else "Busy"
    return Refused(status, title, detail, RATE_LIMITED, retry_after=RETRY_AFTER_SECONDS)


class CaptureService:
    """Capture jobs of this hub process; bound to the hub's state once the lifespan has opened it."""

    def __init__(self, state: Callable[[], HubState], *, metrics: Metrics | None = None) -> None:
        self.state = state
        self.metrics = metrics
        self.running: set[asyncio.Task[None]] = set()  # capture jobs in flight (kept referenced until done)
        self.owner = f"{socket.gethostname()[:60]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"  # this process's jobs
        self.loads: dict[str, FirmLoad] = {}  # per firm: jobs spooling or running, bytes spooled

    def graph(self) -> Graph:
        """The graph database the captures write to."""
        state = self.state()
        return Graph(state.driver, database=state.settings.neo4j_database)

    def limits(self) -> ReadingLimits:
        """What one document may make the hub hold while it is read (the settings' limits)."""
        settings = self.state().settings
        return ReadingLimits(
            max_depth=settings.epcis_max_depth,
            max_event_values=settings.epcis_max_event_values,
            max_event_bytes=settings.epcis_max_event_kb * 1024,
        )

    def placeholders(self, principal: Principal, *, overseer: bool) -> bool:
        """Unknown identifiers become unverified placeholders only for the cluster operator's admin, when enabled."""
        return self.state().settings.epcis_register_unknown and overseer and Role.ADMIN in principal.roles

    # --- a document: admitted, spooled, started, run, finished ---------------------------------------------------

    async def submit(
        self,
        principal: Principal,
        body: AsyncIterator[bytes],
        *,
        declared_length: int,
        binding: Binding,
        proceed: bool,
        placeholders: bool,
    ) -> str:
        """Take a document for capture: its job's id once spooled and started (Refused when it cannot be taken)."""
        settings = self.state().settings
        limit = settings.epcis_max_document_mb * 1_048_576
        if declared_length > limit:
            raise self._too_large()  # refused before reading a byte of it
        self._admit(principal.firm_id)
        try:
            path, size = await self._spool(body, principal.firm_id, limit=limit, binding=binding)
        except BaseException:
            self._release(principal.firm_id, 0)
            raise
        if path is None:
            self._release(principal.firm_id, size)
            if size > limit:
                raise self._too_large()
            raise _busy(
                429,
                f"your firm's EPCIS documents waiting to be captured hold more than"
                f" {settings.epcis_max_spool_mb_per_firm} MB; send this one when they have been captured",
            )
        if binding is Binding.XML:
            try:
                await self._check_xml(path)
            except BaseException:
                self._release(principal.firm_id, size)
                await anyio.Path(path).unlink(missing_ok=True)
                raise
        job_id = uuid.uuid4().hex
        try:
            await capture_jobs.start_job(
                self.state().sql_engine,
                job_id=job_id,
                firm_id=principal.firm_id,
                subject=principal.subject,
                error_behaviour="proceed" if proceed else "rollback",
                owner=self.owner,
            )
        except BaseException:
            self._release(principal.firm_id, size)
            await anyio.Path(path).unlink(missing_ok=True)
            raise
        source = self._source(path, binding, proceed=proceed)
        task = asyncio.create_task(
            self._run(job_id, path, source, firm_id=principal.firm_id, proceed=proceed, placeholders=placeholders)
        )
        task.add_done_callback(lambda _: self._release(principal.firm_id, size))
        self.running.add(task)
        task.add_done_callback(self.running.discard)
        return job_id

    def _source(self, path: Path, binding: Binding, *, proceed: bool) -> EventSource:
        most = self.state().settings.epcis_max_document_events  # announced by OPTIONS /epcis/capture
        if binding is Binding.XML:
            schemas = epcis_xml_schemas(self.state().settings)  # loaded at start-up: the hub needs them
            # proceed writes as it reads (no validation pass first): the whole document meets its XSD before that
            source = xml_document_source(path, schemas=schemas, limits=self.limits(), schema_first=proceed)
            return capped(source, most)
        return capped(document_source(path, limits=self.limits()), most)

    async def _check_xml(self, path: Path) -> None:
        """An XML document's prolog and root, read before its job starts: a DTD (XXE, entity bombs) or a document
        that is not EPCIS XML at all is refused at once (400) instead of in the job."""

        def prolog() -> None:
            with path.open("rb") as stream:
                check_prolog(stream)

        try:
            await anyio.to_thread.run_sync(prolog)
        except XmlRefused as refused:
            raise Refused(400, "Invalid XML document", refused.message, refused.code) from None

    def _too_large(self) -> Refused:
        mb = self.state().settings.epcis_max_document_mb
        return Refused(
            413,
            "Document too large",
            f"an EPCIS document may have at most {mb} MB; split it into several documents",
            PAYLOAD_TOO_LARGE,
            extra={"setting": "HUB_EPCIS_MAX_DOCUMENT_MB"},
        )

    def _admit(self, firm_id: str) -> None:
        """Take a capture slot for the firm, or refuse (429 for the firm's own cap, 503 for the hub's)."""
        settings = self.state().settings
        load = self.loads.setdefault(firm_id, FirmLoad())
        if load.jobs >= settings.epcis_max_jobs_per_firm:
            raise _busy(
                429,
                f"your firm already has {load.jobs} EPCIS documents being received or captured (at most"
                f" {settings.epcis_max_jobs_per_firm} at once); send this one when one of them has finished",
            )
        if sum(each.jobs for each in self.loads.values()) >= settings.epcis_max_jobs:
            raise _busy(
                503,
                f"the hub is capturing {settings.epcis_max_jobs} EPCIS documents, its most at once;"
                " send this one again shortly",
            )
        load.jobs += 1

    def _release(self, firm_id: str, spooled: int) -> None:
        load = self.loads[firm_id]
        load.jobs -= 1
        load.spooled -= spooled
        if not load.jobs:
            del self.loads[firm_id]

    async def _spool(
        self, body: AsyncIterator[bytes], firm_id: str, *, limit: int, binding: Binding
    ) -> tuple[Path | None, int]:
        """Write the body to a file of the spool (bounded memory), counting it in the firm's spooled bytes.

        Stops reading as soon as the body passes ``limit`` or the firm's spool passes its cap: then the path is
        None (the size read so far says which: above ``limit``, the document was too large).
        """
        settings = self.state().settings
        folder = settings.state_dir / "epcis-spool"
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)  # members' documents: the hub's user only
        load = self.loads[firm_id]
        firm_cap = settings.epcis_max_spool_mb_per_firm * 1_048_576
        suffix = ".xml" if binding is Binding.XML else ".jsonld"
        handle = tempfile.NamedTemporaryFile(dir=folder, suffix=suffix, delete=False)  # noqa: SIM115 (kept for the job)
        path = Path(handle.name)
        size = 0
        try:
            async for chunk in body:
                size += len(chunk)
                load.spooled += len(chunk)
                if size > limit or load.spooled > firm_cap:
                    handle.close()
                    await anyio.Path(path).unlink(missing_ok=True)
                    return None, size
                handle.write(chunk)
        except BaseException:
            load.spooled -= size
            handle.close()
            await anyio.Path(path).unlink(missing_ok=True)
            raise
        handle.close()
        return path, size

    async def _run(
        self, job_id: str, path: Path, source: EventSource, *, firm_id: str, proceed: bool, placeholders: bool
    ) -> None:
        engine = self.state().sql_engine
        try:
            outcome = await self.capture(
                source,
                firm_id=firm_id,
                capture_id=job_id,
                proceed=proceed,
                placeholders=placeholders,
                progress=capture_jobs.JobProgress(engine, job_id),
            )
            await capture_jobs.finish_job(engine, job_id, outcome)
            if self.metrics is not None:
                self.metrics.captured_events.inc(outcome.captured)
                self.metrics.capture_jobs.labels("success" if outcome.committed else "failed").inc()
        except GraphUnavailable as error:
            await capture_jobs.fail_job(engine, job_id, code=UNAVAILABLE, message=error.message)
        except Exception:
            log.exception("capture job %s failed", job_id)
            await capture_jobs.fail_job(
                engine, job_id, code="INTERNAL", message="the capture failed unexpectedly; nothing was written"
            )
        finally:
            await anyio.Path(path).unlink(missing_ok=True)

    async def capture(
        self,
        source: EventSource,
        *,
        firm_id: str,
        capture_id: str,
        proceed: bool,
        placeholders: bool,
        progress: Progress | None = None,
    ) -> CaptureOutcome:
        """Capture the events of ``source`` now, then what follows a capture: recall joins told, CCP readings."""
        settings = self.state().settings
        record_time = datetime.now(UTC)
        outcome = await capture(
            self.graph(),
            source,
            firm_id=firm_id,
            capture_id=capture_id,
            proceed=proceed,
            placeholders=placeholders,
            record_time=record_time,
            batch_size=settings.epcis_batch_size,
            transaction_events=settings.epcis_transaction_events,
            progress=progress,  # a job's, written to its row for people watching it
        )
        # the query subscriptions are pushed what the capture wrote (resolvers.epcis_subscriptions)
        await publish_captured(
            self.state().sql_engine, capture_id=capture_id, firm_id=firm_id, record_time=record_time, outcome=outcome
        )
        # lots the capture made from held lots joined their open recall: their holders are told now
        await publish_recall_joins_or_leave_them(self.graph(), self.state().sql_engine)
        await self._sensor_readings(firm_id, outcome)  # before the job says it is done
        return outcome

    async def capture_event(self, event: EpcisEvent, *, firm_id: str, placeholders: bool) -> CaptureOutcome:
        """Capture one event at once (``POST /epcis/events``), all or nothing."""
        return await self.capture(
            _one(event), firm_id=firm_id, capture_id=uuid.uuid4().hex, proceed=False, placeholders=placeholders
        )

    async def _sensor_readings(self, firm_id: str, outcome: CaptureOutcome) -> None:
        """Smart HACCP readings in the captured events' sensor reports (hub.haccp); a failure there leaves the
        capture as it is."""
        try:
            await ingest_captured_sensors(self.state(), firm_id=firm_id, captured=outcome.sensor_events)
        except Exception:
            log.exception("could not take the CCP readings of captured events")

    # --- jobs' records -------------------------------------------------------------------------------------------

    async def job(self, job_id: str, *, firm_id: str) -> CaptureJob | None:
        """A job of the caller's firm (another firm's job ids are not disclosed)."""
        return await capture_jobs.get_job(self.state().sql_engine, job_id, firm_id=firm_id)

    async def watch(self, *, every: float = JOB_HEARTBEAT_SECONDS) -> None:
        """For as long as the app runs: say that this process's jobs still run, and declare interrupted the jobs
        of processes that stopped saying so (a crashed worker, a host gone), here or on another host."""
        engine = self.state().sql_engine
        while True:
            try:
                if self.running:
                    await capture_jobs.heartbeat(engine, self.owner)
                await capture_jobs.interrupt_stale_jobs(engine, stale_after=JOB_STALE_AFTER)
            except Exception:  # the SQL store is down: /readyz says so; try again at the next beat
                log.warning("could not update the capture jobs' heartbeat", exc_info=True)
            await asyncio.sleep(every)


def _one(event: EpcisEvent) -> EventSource:
    def source() -> Iterator[tuple[int, EpcisEvent | list[EventError]]]:
        yield 0, event

    return source
