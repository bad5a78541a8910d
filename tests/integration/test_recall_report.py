"""The recall report as XLSX against the real graph: every sheet, Korean headers, formula-safe text cells."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest

from auth.decisions import decide_for_request
from graph_schema import recalls
from graph_schema.db import Graph
from hub.recall_report import write_report
from resolvers.redaction import Redactor
from tests.graphql_client import REDACTION_KEY, execute, principal
from tests.integration import test_recall_workflow as workflow
from tests.integration.test_recall_answers import ACK, REPORT, report
from tests.integration.test_recall_workflow import COORDINATOR, Recipe, data, declare

pytestmark = pytest.mark.neo4j
recipe = workflow.recipe  # the recall workflow's chain, as a fixture of this module


async def test_the_report_holds_timeline_answers_balance_and_fsma_rows(
    graph: Graph, recipe: Recipe, tmp_path: Path
) -> None:
    recall_id = await declare(graph, recipe, "M1")
    hostile = '=HYPERLINK("http://example.invalid","click")'
    await execute(graph, ACK, principal("retail"), {"id": recall_id, "note": hostile})
    mapo = report(recall_id, recipe.lot["T1"], recipe.site["mapo"], 50.0, "DESTROYED")
    data(await execute(graph, REPORT, principal("retail"), mapo))
    recall = await recalls.get_recall(
        graph, (await decide_for_request(graph, COORDINATOR)).viewer, recall_id=recall_id, overseer=False
    )
    assert recall is not None
    decision = await decide_for_request(graph, COORDINATOR)
    path = tmp_path / "report.xlsx"
    accessed = await write_report(
        graph, decision, recall=recall, lang="ko", redactor=Redactor(key=REDACTION_KEY, firm_id="plant"), path=str(path)
    )
    # the other consignees' answers, and the farm's upstream lot S1, are in the file: the access log counts them
    assert set(accessed) == {"dist", "retail", "farm"}
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == ["요약", "경과", "수취 업체", "영향 로트", "물질수지", "FSMA 204"]
    timeline = [[cell.value for cell in row] for row in book["경과"].iter_rows()]
    assert timeline[0][:2] == ["일시(UTC)", "이벤트"]
    assert [row[1] for row in timeline[1:]] == ["선언", "확인", "폐기"]
    acknowledged = timeline[2]
    assert acknowledged[2] == "retail"
    assert acknowledged[7] == "'" + hostile  # text, not a formula
    assert all(cell.data_type != "f" for sheet in book.worksheets for row in sheet.iter_rows() for cell in row)
    balance = [[cell.value for cell in row] for row in book["물질수지"].iter_rows()]
    flagged = [(row[0], row[3], row[11]) for row in balance[1:] if row[12]]
    assert flagged == [(recipe.lot["T2"], recipe.site["busan"], 30.0)]  # Mapo's 50 kg are now accounted for
    consignees = [str(row[0]) for row in list(book["수취 업체"].iter_rows(values_only=True))[1:]]
    assert sorted(set(consignees)) == ["dist", "plant", "retail"]
    lots = list(book["영향 로트"].iter_rows(values_only=True))
    assert len(lots) == 1 + 4  # M1, T1, T2 held; S1 upstream
    fsma = list(book["FSMA 204"].iter_rows(values_only=True))
    assert fsma[0][0] == "주요 추적 이벤트(CTE)"
    assert {row[16] for row in fsma[1:]} >= {recipe.lot["M1"], recipe.lot["T1"], recipe.lot["T2"]}
    summary = {row[0]: row[1] for row in list(book["요약"].iter_rows(values_only=True))[1:]}
    assert summary["회수 ID"] == recall_id
    assert summary["수취 업체 수"] == 3
    assert summary["물질수지 일치"] is False
