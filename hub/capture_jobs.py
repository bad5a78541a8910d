"""EPCIS capture jobs (SQL store): one row per POSTed document, readable by its firm at /epcis/capture/{id}."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
import orjson
from sqlalchemy import or_
from sqlalchemy.engine import Engine
from sqlmodel import Field, Session, SQLModel, col, select, update

from graph_schema.epcis.capture import CaptureOutcome

log = logging.getLogger(__name__)

INTERRUPTED = (
    "the hub stopped while this capture was running; nothing of it was written (a document is captured in one "
    "transaction): send the document again, capture is idempotent"
)


class CaptureJob(SQLModel, table=True):
    """One capture of one document: running, then success or failure with every error found."""

    __tablename__ = "epcis_capture_job"

    id: str = Field(primary_key=True, max_length=64)
    firm_id: str = Field(index=True, max_length=100)
    subject: str = Field(max_length=300)
    created_at: datetime
    finished_at: datetime | None = None
    running: bool = True
    success: bool | None = None
    error_behaviour: str = Field(max_length=20)
    event_count: int = 0
    captured: int = 0
    duplicates: int = 0
    error_count: int = 0
    errors_json: str = "[]"
    # the hub process running it, and when that process last said it still was: with several processes (workers,
    # hosts on one PostgreSQL) a job is declared interrupted only once its own process has stopped saying so
    owner: str | None = Field(default=None, max_length=100)
    heartbeat_at: datetime | None = None
    # how far a running capture has come (graph_schema.epcis.capture's progress): a person watches it move
    phase: str | None = Field(default=None, max_length=20)
    processed: int | None = None
    total: int | None = None

    def document(self) -> dict[str, Any]:
        """The job as the EPCIS 2.0 REST binding shows a capture job."""
        return {
            "captureID": self.id,
            "createdAt": _iso(self.created_at),
            "finishedAt": _iso(self.finished_at) if self.finished_at else None,
            "running": self.running,
            "success": self.success,
            "captureErrorBehaviour": self.error_behaviour,
            "eventCount": self.event_count,
            "capturedCount": self.captured,
            "duplicateCount": self.duplicates,
            "errorCount": self.error_count,
            "errors": orjson.loads(self.errors_json),
            # while running: VALIDATING (events read) then CAPTURING (events written or checked); null when done
            "progress": (
                {"phase": self.phase, "processedCount": self.processed or 0, "totalCount": self.total}
                if self.running and self.phase is not None
                else None
            ),
        }


def _iso(value: datetime) -> str:
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()


def _add(engine: Engine, job: CaptureJob) -> None:
    with Session(engine) as session:
        session.add(job)
        session.commit()


def _finish(engine: Engine, job_id: str, values: dict[str, Any]) -> None:
    with Session(engine) as session:
        job = session.get(CaptureJob, job_id)
        if job is None:
            return
        for name, value in values.items():
            setattr(job, name, value)
        session.add(job)
        session.commit()


def _get(engine: Engine, job_id: str, firm_id: str) -> CaptureJob | None:
    with Session(engine) as session:
        query = select(CaptureJob).where(CaptureJob.id == job_id, CaptureJob.firm_id == firm_id)
        return session.exec(query).first()


def _interrupt(engine: Engine, stale_after: timedelta) -> int:
    now = datetime.now(UTC)
    stale = (
        col(CaptureJob.running).is_(True),
        or_(col(CaptureJob.heartbeat_at).is_(None), col(CaptureJob.heartbeat_at) < now - stale_after),
    )
    with Session(engine) as session:
        # looked for first: an UPDATE takes SQLite's write lock even when it matches nothing, every 10 s
        if session.exec(select(CaptureJob.id).where(*stale).limit(1)).first() is None:
            return 0
        errors = orjson.dumps([{"index": None, "field": "", "code": "UNAVAILABLE", "message": INTERRUPTED}]).decode()
        result = session.exec(
            update(CaptureJob)
            .where(*stale)
            .values(running=False, success=False, finished_at=now, error_count=1, errors_json=errors)
        )
        session.commit()
        return int(result.rowcount)


def _heartbeat(engine: Engine, owner: str) -> int:
    with Session(engine) as session:
        result = session.exec(
            update(CaptureJob)
            .where(col(CaptureJob.running).is_(True), col(CaptureJob.owner) == owner)
            .values(heartbeat_at=datetime.now(UTC))
        )
        session.commit()
        return int(result.rowcount)


async def start_job(
    engine: Engine, *, job_id: str, firm_id: str, subject: str, error_behaviour: str, owner: str | None = None
) -> CaptureJob:
    """Record a new running job of the hub process ``owner``."""
    now = datetime.now(UTC)
    job = CaptureJob(
        id=job_id,
        firm_id=firm_id,
        subject=subject,
        created_at=now,
        error_behaviour=error_behaviour,
        owner=owner,
        heartbeat_at=now,
    )
    await anyio.to_thread.run_sync(_add, engine, job)
    return job


async def finish_job(engine: Engine, job_id: str, outcome: CaptureOutcome) -> None:
    """Store what the capture did."""
    values = {
        "running": False,
        # with proceed, a committed capture succeeded for its valid events; the others are listed
        "success": outcome.committed,
        "finished_at": datetime.now(UTC),
        "event_count": outcome.event_count,
        "captured": outcome.captured,
        "duplicates": outcome.duplicates,
        "error_count": outcome.error_count,
        "errors_json": orjson.dumps([error.model_dump(by_alias=True) for error in outcome.errors]).decode(),
    }
    await anyio.to_thread.run_sync(_finish, engine, job_id, values)


async def fail_job(engine: Engine, job_id: str, *, code: str, message: str) -> None:
    """Mark a job failed for a reason outside the document (the graph database was unreachable)."""
    values = {
        "running": False,
        "success": False,
        "finished_at": datetime.now(UTC),
        "error_count": 1,
        "errors_json": orjson.dumps([{"index": None, "field": "", "code": code, "message": message}]).decode(),
    }
    await anyio.to_thread.run_sync(_finish, engine, job_id, values)


async def get_job(engine: Engine, job_id: str, *, firm_id: str) -> CaptureJob | None:
    """A job of the caller's firm (another firm's job ids are not disclosed)."""
    return await anyio.to_thread.run_sync(_get, engine, job_id, firm_id)


def _progress(engine: Engine, job_id: str, phase: str, processed: int, total: int | None) -> None:
    with Session(engine) as session:
        session.exec(
            update(CaptureJob)
            .where(col(CaptureJob.id) == job_id, col(CaptureJob.running).is_(True))
            .values(phase=phase, processed=processed, total=total)
        )
        session.commit()


class JobProgress:
    """A running job's progress written to its row, at most once per ``every`` seconds (and the first time)."""

    def __init__(self, engine: Engine, job_id: str, *, every: float = 1.0) -> None:
        self.engine = engine
        self.job_id = job_id
        self.every = every
        self._last: float | None = None
        self._phase: str | None = None

    async def __call__(self, phase: str, processed: int, total: int | None) -> None:
        """Record how far the capture has come, when the last record is old enough or the phase changed."""
        now = time.monotonic()
        if self._last is not None and phase == self._phase and now - self._last < self.every:
            return
        self._last, self._phase = now, phase
        try:
            await anyio.to_thread.run_sync(_progress, self.engine, self.job_id, phase, processed, total)
        except Exception:  # progress is for people watching; the capture goes on without it
            log.warning("could not record the progress of capture job %s", self.job_id, exc_info=True)


async def heartbeat(engine: Engine, owner: str) -> int:
    """Say that the jobs of the hub process ``owner`` are still running (how many there are)."""
    return await anyio.to_thread.run_sync(_heartbeat, engine, owner)


async def interrupt_stale_jobs(engine: Engine, *, stale_after: timedelta) -> int:
    """Jobs whose process has not said for ``stale_after`` that they still run died with it: say so and how to
    recover. Jobs of processes still running, here or on other hosts, are left alone."""
    return await anyio.to_thread.run_sync(_interrupt, engine, stale_after)


def _list(engine: Engine, firm_id: str, before: tuple[datetime, str] | None, limit: int) -> list[CaptureJob]:
    with Session(engine) as session:
        query = select(CaptureJob).where(CaptureJob.firm_id == firm_id)
        if before is not None:
            created, job_id = before
            query = query.where(
                or_(
                    col(CaptureJob.created_at) < created,
                    (col(CaptureJob.created_at) == created) & (col(CaptureJob.id) < job_id),
                )
            )
        query = query.order_by(col(CaptureJob.created_at).desc(), col(CaptureJob.id).desc()).limit(limit)
        return list(session.exec(query).all())


async def list_jobs(
    engine: Engine, *, firm_id: str, before: tuple[datetime, str] | None = None, limit: int = 30
) -> list[CaptureJob]:
    """The firm's capture jobs, newest first, from just before ``before`` (created at, id) on."""
    return await anyio.to_thread.run_sync(_list, engine, firm_id, before, limit)
