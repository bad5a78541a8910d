"""A parsed spreadsheet written all-or-nothing: its lots, transformations and shipments in one transaction.

The kinds are written in that order, so a transformation may make the lots the same file commissions and a
shipment may carry them. The first attempt is ``checked_write_all``: every check, then every write, or
nothing. When it is rejected, the same steps run once more in a transaction that is always rolled back, this
time collecting every bad row of every kind (``CheckedStep.problems_in``), so a small firm fixes its whole
file in one go instead of one row per attempt.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

from neo4j import AsyncManagedTransaction

from graph_schema.db import CheckedStep, Graph, Row, checked_write_all, run
from graph_schema.errors import CONFLICT, NOT_FOUND, HubError
from graph_schema.lots import lots_step, shipments_step, transformations_step
from graph_schema.spreadsheet import FIELD_COLUMN, Origin, ParsedSpreadsheet, RowError, SourceRow

_LOT_IN_TEXT: Final = re.compile(r"urn:epc:class:lgtin:\S+")


@dataclass(frozen=True)
class ImportOutcome:
    """What an import found and did: records per kind, lots new to the graph, and every problem."""

    lots: int
    transformations: int
    shipments: int
    new_lots: int
    written: bool
    errors: list[RowError] = field(default_factory=list)


@dataclass(frozen=True)
class _Plan:
    steps: list[CheckedStep]
    kinds: list[str]
    origins: dict[str, tuple[Origin, str]]  # row label -> (origin, column of the record's own id)
    invalid_lots: dict[str, SourceRow]


def _plan(parsed: ParsedSpreadsheet, *, firm_id: str) -> _Plan:
    """One checked step per kind present; each names its rows by their spreadsheet labels (``row 12``)."""
    lots, transformations, shipments = parsed.lot_origins, parsed.transformation_origins, parsed.shipment_origins
    origins = {origin.first.label(): (origin, "lot_id") for origin in lots}
    origins.update((origin.first.label(), (origin, "id")) for origin in [*transformations, *shipments])
    steps: list[CheckedStep] = []
    kinds: list[str] = []
    if parsed.lots:
        steps.append(lots_step(parsed.lots, where=lambda i: lots[i].first.label()))
        kinds.append("lots")
    if parsed.transformations:
        steps.append(transformations_step(parsed.transformations, where=lambda i: transformations[i].first.label()))
        kinds.append("transformations")
    if parsed.shipments:
        steps.append(
            shipments_step(parsed.shipments, shipper_firm_id=firm_id, where=lambda i: shipments[i].first.label())
        )
        kinds.append("shipments")
    return _Plan(steps=steps, kinds=kinds, origins=origins, invalid_lots=parsed.invalid_lots)


async def import_spreadsheet(
    graph: Graph, parsed: ParsedSpreadsheet, *, firm_id: str, dry_run: bool = False
) -> ImportOutcome:
    """Write the records of ``parsed`` for ``firm_id`` in one transaction, or nothing and every problem."""
    plan = _plan(parsed, firm_id=firm_id)

    def outcome(results: list[list[Row]], *, written: bool, errors: list[RowError]) -> ImportOutcome:
        by_kind = dict(zip(plan.kinds, results, strict=True))
        new_lots = int(by_kind["lots"][0]["created"]) if "lots" in by_kind else 0
        return ImportOutcome(
            lots=len(parsed.lots),
            transformations=len(parsed.transformations),
            shipments=len(parsed.shipments),
            new_lots=new_lots,
            written=written,
            errors=sorted(errors, key=RowError.sort_key),
        )

    if not parsed.errors and not dry_run:
        try:
            return outcome(await checked_write_all(graph, plan.steps), written=True, errors=[])
        except HubError:
            pass  # rejected: find every bad row below
    problems, results = await _diagnose(graph, plan.steps)
    errors = [*parsed.errors, *(_row_error(problem, plan) for problem in problems)]
    if not errors and not dry_run:
        # the write was rejected, and a moment later every row checks out: another write came in between
        errors = [
            RowError(message="the graph changed during the import; nothing was written, try again", code=CONFLICT)
        ]
    return outcome(results, written=False, errors=errors)


class _RolledBack(Exception):
    def __init__(self, problems: list[HubError], results: list[list[Row]]) -> None:
        super().__init__("rolled back")
        self.problems = problems
        self.results = results


async def _diagnose(graph: Graph, steps: Sequence[CheckedStep]) -> tuple[list[HubError], list[list[Row]]]:
    """Every bad row of every step, and what the writes would return, in a transaction never committed."""

    async def work(tx: AsyncManagedTransaction) -> None:
        problems: list[HubError] = []
        results: list[list[Row]] = []
        for step in steps:
            problems.extend(await step.problems_in(tx))
            # Written even when rejected: the later kinds are then checked as if this one had gone in, so a
            # transformation is not blamed for a lot row of the same file. The transaction is rolled back.
            results.append(await run(tx, step.write, step.params))
        raise _RolledBack(problems, results)

    try:
        await graph.transaction(work)
    except _RolledBack as done:
        return done.problems, done.results
    raise AssertionError("the diagnosis transaction must not commit")


def _row_error(problem: HubError, plan: _Plan) -> RowError:
    """A write check's error (its field is ``<row label>.<record field>``) at the spreadsheet row and column."""
    label, _, record_field = (problem.field or "").rpartition(".")
    found = plan.origins.get(label)
    if found is None:  # every step names its rows through the plan's labels; keep the message whole regardless
        return RowError(message=problem.message, code=problem.code)
    origin, id_column = found
    found_lot = _LOT_IN_TEXT.search(problem.message)
    lot = found_lot[0] if found_lot else None
    row = origin.row_of(record_field, lot=lot)
    column = id_column if record_field == "id" else FIELD_COLUMN.get(record_field)
    if problem.code == NOT_FOUND and lot in plan.invalid_lots:  # not missing: its own row of the file is wrong
        return row.error(column, f"lot {lot} is on {plan.invalid_lots[lot].label()}, which has errors")
    return row.error(column, problem.message.removeprefix(f"{label}: "), code=problem.code)
