"""Hostile spreadsheets through importSpreadsheet: refused with LIMIT_EXCEEDED naming the limit, nothing written."""

from __future__ import annotations

import io
import re
import zipfile

from graph_schema.db import Graph
from graph_schema.spreadsheet_limits import SHARED_STRINGS
from tests.integration.conftest import Chain
from tests.integration.test_spreadsheet_import import graph_state, run_import
from tests.unit.test_spreadsheet_limits import GOOD_ROW, SHEET, rewritten, workbook

MB = 1_048_576


async def test_a_million_declared_rows_with_a_cell_in_the_last_is_cut_off(graph: Graph, chain: Chain) -> None:
    far = '<row r="1048576"><c r="XFD1048576" t="inlineStr"><is><t>x</t></is></c></row></sheetData>'
    data = rewritten(
        workbook(GOOD_ROW),
        SHEET,
        lambda xml: re.sub(
            r'<dimension ref="[^"]*"', '<dimension ref="A1:XFD1048576"', xml.replace("</sheetData>", far)
        ),
    )
    before = await graph_state(graph)
    answer = await run_import(graph, data, "lots.xlsx")
    assert answer["written"] is False
    assert answer["errors"][-1] == {
        "sheet": None,
        "row": None,
        "column": None,
        "code": "LIMIT_EXCEEDED",
        "message": "sheet 'lots' goes on past row 100,000; an import holds at most 50,000 rows: remove the blank rows"
        " or split the file",
    }
    assert await graph_state(graph) == before


async def test_shared_strings_unzipping_past_the_limit_are_refused_unread(graph: Graph, chain: Chain) -> None:
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(workbook(GOOD_ROW))) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for member in source.infolist():
            target.writestr(member, source.read(member))
        info = zipfile.ZipInfo(SHARED_STRINGS)
        info.compress_type = zipfile.ZIP_DEFLATED  # a ZipInfo of its own would be stored as it is
        with target.open(info, "w", force_zip64=True) as stream:
            piece = b"<si><t>aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa</t></si>" * 20_000
            for _ in range(210 * MB // len(piece)):
                stream.write(piece)
    answer = await run_import(graph, out.getvalue(), "lots.xlsx")
    assert [(error["code"], error["message"][:40]) for error in answer["errors"]] == [
        ("LIMIT_EXCEEDED", "the XLSX file unzips to 209.8 MB; an imp")
    ]
