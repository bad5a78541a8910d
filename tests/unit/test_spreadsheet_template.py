"""The import's template: read back by the import itself, in Korean and English, formula-safe."""

from __future__ import annotations

import csv
import io
from zoneinfo import ZoneInfo

import openpyxl
import pytest

from graph_schema.spreadsheet import COLUMNS, Kind, SpreadsheetFormat, parse_spreadsheet
from graph_schema.spreadsheet_template import (
    INSTRUCTIONS_SHEET,
    SHEET_NAMES,
    TemplateLanguage,
    TemplateSite,
    csv_template,
    header,
    xlsx_template,
)
from tests.factories import gln

SEOUL = ZoneInfo("Asia/Seoul")
LOT = "urn:epc:class:lgtin:8801234.012345.L-0901"


@pytest.mark.parametrize("lang", list(TemplateLanguage))
def test_the_empty_templates_headers_are_all_known_to_the_import(lang: TemplateLanguage) -> None:
    for data, kind in ((xlsx_template(lang, []), SpreadsheetFormat.XLSX), (csv_template(lang), SpreadsheetFormat.CSV)):
        parsed = parse_spreadsheet(data, format=kind, firm_id="plant", time_zone=SEOUL)
        # no unknown header, no missing column: only that there is nothing to import yet
        assert [(e.message, e.row, e.column) for e in parsed.errors] == [("the file has no data rows", None, None)]
        assert (parsed.lots, parsed.transformations, parsed.shipments) == ([], [], [])


@pytest.mark.parametrize("lang", list(TemplateLanguage))
def test_rows_typed_into_the_template_are_read_as_records(lang: TemplateLanguage) -> None:
    site, other = gln(), gln()
    book = openpyxl.load_workbook(io.BytesIO(xlsx_template(lang, [])))
    names = SHEET_NAMES[lang]
    lots = book[names[Kind.LOT]]
    headers = [cell.value for cell in lots[1]]
    values = {"lot_id": LOT, "site_gln": site, "quantity": 120, "uom": "kg", "produced_at": "2026-09-01T08:00:00+09:00"}
    lots.append([values.get(_key(h, lang)) for h in headers])
    shipments = book[names[Kind.SHIPMENT]]
    headers = [cell.value for cell in shipments[1]]
    values = {
        "id": "S-1",
        "lot_id": LOT,
        "quantity": 100,
        "uom": "kg",
        "from_gln": site,
        "to_gln": other,
        "shipped_at": "2026-09-02T07:00:00+09:00",
    }
    shipments.append([values.get(_key(h, lang)) for h in headers])
    out = io.BytesIO()
    book.save(out)
    parsed = parse_spreadsheet(out.getvalue(), format=SpreadsheetFormat.XLSX, firm_id="plant", time_zone=SEOUL)
    assert parsed.errors == []
    assert [(lot.id, lot.site_gln, lot.quantity) for lot in parsed.lots] == [(LOT, site, 120)]
    assert [(s.id, s.to_gln) for s in parsed.shipments] == [("S-1", other)]


def _key(text: object, lang: TemplateLanguage) -> str:
    return next(key for key in COLUMNS if header(key, lang) == text)


def test_headers_and_sheets_are_korean_in_the_korean_template() -> None:
    book = openpyxl.load_workbook(io.BytesIO(xlsx_template(TemplateLanguage.KO, [])))
    assert book.sheetnames == ["#작성방법", "로트", "가공", "출하"]
    assert [c.value for c in book["로트"][1]] == [
        "로트번호",
        "사업장GLN",
        "수량",
        "단위",
        "생산일시",
        "유통기한",
        "비고",
    ]
    first_row = next(csv.reader(io.StringIO(csv_template(TemplateLanguage.KO).decode("utf-8-sig"))))
    assert first_row[:4] == ["기록유형", "기록번호", "로트번호", "투입산출"]
    assert csv_template(TemplateLanguage.KO).startswith(b"\xef\xbb\xbf")  # Excel reads Korean text right


def test_the_firms_sites_are_listed_and_a_name_like_a_formula_stays_text() -> None:
    sites = [TemplateSite(gln="8801234000017", name='=HYPERLINK("http://evil.example","x")', kind="PLANT")]
    book = openpyxl.load_workbook(io.BytesIO(xlsx_template(TemplateLanguage.EN, sites)))
    notes = book[INSTRUCTIONS_SHEET[TemplateLanguage.EN]]
    rows = [[c.value for c in row] for row in notes.iter_rows()]
    assert ["8801234000017", '\'=HYPERLINK("http://evil.example","x")', "PLANT"] in [r[:3] for r in rows]
    for row in rows:
        for value in row:
            assert not (isinstance(value, str) and value.startswith(("=", "+", "-", "@")))
