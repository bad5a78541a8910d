"""A capture job's progress: validating, then capturing, each batch counted; shown by GET /epcis/capture/{id}."""

from __future__ import annotations

from pathlib import Path

import pytest

from auth.audit import create_tables
from graph_schema.db import Graph
from graph_schema.epcis.capture import CAPTURING, VALIDATING, capture
from hub import capture_jobs
from hub.sql_store import create_sql_engine
from tests.epcis_chain import document, register_chain
from tests.integration.test_epcis_capture import NOW, source_of

pytestmark = pytest.mark.neo4j


async def test_a_capture_reports_each_batch_validated_then_captured_out_of_the_whole(graph: Graph) -> None:
    chain = await register_chain(graph)
    events = chain.farm_events()
    assert len(events) >= 2
    seen: list[tuple[str, int, int | None]] = []

    async def progress(phase: str, processed: int, total: int | None) -> None:
        seen.append((phase, processed, total))

    outcome = await capture(
        graph,
        source_of(document(events)),
        firm_id="farm",
        capture_id="progress-farm",
        proceed=False,
        placeholders=False,
        record_time=NOW,
        batch_size=1,
        progress=progress,
    )
    assert outcome.committed, outcome.errors
    n = len(events)
    # validation reads in batches of at least 2,000: one report with every event; then one per event written
    assert seen == [(VALIDATING, n, None)] + [(CAPTURING, i, n) for i in range(1, n + 1)]


async def test_an_invalid_document_stops_after_validating_and_reports_no_capture(graph: Graph) -> None:
    chain = await register_chain(graph)
    events = chain.farm_events()
    events[0]["eventTime"] = "not a time"
    seen: list[str] = []

    async def progress(phase: str, processed: int, total: int | None) -> None:
        seen.append(phase)

    outcome = await capture(
        graph,
        source_of(document(events)),
        firm_id="farm",
        capture_id="progress-bad",
        proceed=False,
        placeholders=False,
        record_time=NOW,
        progress=progress,
    )
    assert not outcome.committed
    assert seen == [VALIDATING]


async def test_the_jobs_document_shows_progress_while_running_and_none_once_finished(tmp_path: Path) -> None:
    engine = create_sql_engine(f"sqlite:///{tmp_path / 'hub.db'}")
    create_tables(engine)
    await capture_jobs.start_job(engine, job_id="j1", firm_id="plant", subject="s", error_behaviour="rollback")
    job = await capture_jobs.get_job(engine, "j1", firm_id="plant")
    assert job is not None
    assert job.document()["progress"] is None  # started, nothing read yet
    record = capture_jobs.JobProgress(engine, "j1", every=3600)
    await record(VALIDATING, 2000, None)
    await record(VALIDATING, 4000, None)  # within the interval, same phase: not written
    await record(CAPTURING, 500, 4000)  # a new phase is written at once
    job = await capture_jobs.get_job(engine, "j1", firm_id="plant")
    assert job is not None
    assert job.document()["progress"] == {"phase": CAPTURING, "processedCount": 500, "totalCount": 4000}
    assert await capture_jobs.get_job(engine, "j1", firm_id="rival") is None  # another firm's job is not found
    await capture_jobs.fail_job(engine, "j1", code="UNAVAILABLE", message="stopped")
    job = await capture_jobs.get_job(engine, "j1", firm_id="plant")
    assert job is not None
    assert job.document()["progress"] is None
    engine.dispose()
