"""The import's template: an empty workbook (or CSV) laid out as ``graph_schema.spreadsheet`` reads it.

A small firm starts from this file rather than from the README: one sheet per kind of record (lots,
transformations, shipments: the ``record`` column left out, as the sheet's name says it), headers in Korean or
English, a ``#``-sheet of instructions (skipped by the import) describing every column with an example, and the
firm's own sites to pick a GLN from. The CSV template is the one-table layout's header row (UTF-8 with a byte-order
mark, so that Korean Excel shows the headers). Every text cell goes through ``spreadsheet_safety.safe_cell``: a
site's name is a member's free text.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.worksheet.datavalidation import DataValidation

from graph_schema.spreadsheet import COLUMNS, USED, Kind
from graph_schema.spreadsheet_safety import safe_cell, safe_row


class TemplateLanguage(StrEnum):
    EN = "en"
    KO = "ko"


# The order a person fills a row in; ``note`` last, free text never read.
ORDER: Final = (
    "record",
    "id",
    "lot_id",
    "role",
    "site_gln",
    "from_gln",
    "to_gln",
    "quantity",
    "uom",
    "produced_at",
    "expires_at",
    "occurred_at",
    "shipped_at",
    "received_at",
    "doc_type",
    "doc_number",
    "note",
)
SHEET_NAMES: Final = {
    TemplateLanguage.EN: {Kind.LOT: "lots", Kind.TRANSFORMATION: "transformations", Kind.SHIPMENT: "shipments"},
    TemplateLanguage.KO: {Kind.LOT: "로트", Kind.TRANSFORMATION: "가공", Kind.SHIPMENT: "출하"},
}
INSTRUCTIONS_SHEET: Final = {TemplateLanguage.EN: "#instructions", TemplateLanguage.KO: "#작성방법"}
ROLE_VALUES: Final = {TemplateLanguage.EN: ("input", "output"), TemplateLanguage.KO: ("투입", "산출")}
RECORD_VALUES: Final = {
    TemplateLanguage.EN: ("lot", "transformation", "shipment"),
    TemplateLanguage.KO: ("로트", "가공", "출하"),
}
REQUIRED: Final = {
    Kind.LOT: frozenset({"lot_id", "site_gln", "quantity", "uom", "produced_at"}),
    Kind.TRANSFORMATION: frozenset({"id", "role", "lot_id", "quantity", "uom", "site_gln", "occurred_at"}),
    Kind.SHIPMENT: frozenset({"id", "lot_id", "quantity", "uom", "from_gln", "to_gln", "shipped_at"}),
}
_LOT = "urn:epc:class:lgtin:8801234.012345.L2026-0901"
# column -> (English meaning, Korean meaning, example)
MEANINGS: Final[dict[str, tuple[str, str, str]]] = {
    "record": ("lot, transformation or shipment (CSV only)", "로트, 가공 또는 출하 (CSV에서만)", "lot"),
    "id": (
        "the transformation's or shipment's own number; its rows share it",
        "가공·출하의 고유 번호: 같은 가공·출하의 행은 같은 번호",
        "T-2026-0901",
    ),
    "lot_id": ("the lot, as a GS1 LGTIN URI", "로트 (GS1 LGTIN URI)", _LOT),
    "role": ("input or output of the transformation", "가공의 투입 또는 산출", "input"),
    "site_gln": ("your site (GLN, 13 digits)", "귀사의 사업장 (GLN 13자리)", "8801234000017"),
    "from_gln": ("your site the goods leave (GLN)", "출발 사업장 (귀사, GLN)", "8801234000017"),
    "to_gln": ("the site receiving them (GLN)", "도착 사업장 (GLN)", "8809876000018"),
    "quantity": ("a number, in the unit of the next column", "수량 (숫자, 다음 열의 단위)", "120"),
    "uom": ("unit of measure", "단위", "kg"),
    "produced_at": ("when the lot was made", "생산 일시", "2026-09-01T08:00:00+09:00"),
    "expires_at": ("expiry (optional)", "유통·소비기한 (선택)", "2026-09-15T00:00:00+09:00"),
    "occurred_at": ("when the transformation took place", "가공 일시", "2026-09-02T09:30:00+09:00"),
    "shipped_at": ("when the goods left", "출하 일시", "2026-09-03T07:00:00+09:00"),
    "received_at": ("when they arrived (optional)", "입고 일시 (선택)", "2026-09-03T15:00:00+09:00"),
    "doc_type": ("reference document type (optional)", "증빙 문서 유형 (선택)", "DESADV"),
    "doc_number": ("reference document number (optional)", "증빙 문서 번호 (선택)", "D-1001"),
    "note": ("free text, never read", "메모 (읽지 않음)", ""),
}
_TEXT: Final = {
    TemplateLanguage.EN: {
        "title": "How to fill in this file",
        "intro": (
            "Fill the sheets lots, transformations and shipments, one row per lot. Rows of one transformation or "
            "shipment share its id. Times are ISO 8601 with their offset (2026-09-01T08:00:00+09:00); a time "
            "without one needs the time zone chosen on the upload page. Sheets whose name starts with # (this "
            "one) are not imported."
        ),
        "columns": ("Column", "Meaning", "Lots", "Transformations", "Shipments", "Example"),
        "required": "required",
        "optional": "optional",
        "sites": "Your sites",
        "site_columns": ("GLN", "Name", "Kind"),
    },
    TemplateLanguage.KO: {
        "title": "작성 방법",
        "intro": (
            "로트, 가공, 출하 시트에 로트마다 한 행씩 적습니다. 같은 가공이나 출하의 행은 같은 기록번호를 씁니다. "
            "일시는 ISO 8601 형식으로 시간대를 붙여 적습니다 (2026-09-01T08:00:00+09:00). 시간대가 없는 일시는 "
            "업로드 화면에서 고른 시간대로 읽습니다. 이름이 #으로 시작하는 시트(이 시트)는 가져오지 않습니다."
        ),
        "columns": ("열", "뜻", "로트", "가공", "출하", "예"),
        "required": "필수",
        "optional": "선택",
        "sites": "귀사의 사업장",
        "site_columns": ("GLN", "이름", "종류"),
    },
}


@dataclass(frozen=True)
class TemplateSite:
    """One of the firm's sites, listed for the person filling the template."""

    gln: str
    name: str
    kind: str


def header(column: str, lang: TemplateLanguage) -> str:
    """The column's header in ``lang``: the name the import reads first in that language."""
    aliases = COLUMNS[column]
    if lang is TemplateLanguage.EN:
        return aliases[0]
    return next(alias for alias in aliases if not alias.isascii())


def _kind_columns(kind: Kind) -> list[str]:
    return [column for column in ORDER if column in USED[kind] or column == "note"]


def _mark(column: str, kind: Kind, lang: TemplateLanguage) -> str:
    if column in REQUIRED[kind]:
        return _TEXT[lang]["required"]  # type: ignore[return-value]
    return _TEXT[lang]["optional"] if column in USED[kind] else ""  # type: ignore[return-value]


def xlsx_template(lang: TemplateLanguage, sites: Sequence[TemplateSite]) -> bytes:
    """The XLSX template: a sheet per kind, headers only, and the instructions sheet with ``sites``."""
    text = _TEXT[lang]
    book = Workbook()
    instructions = book.active
    assert instructions is not None
    instructions.title = INSTRUCTIONS_SHEET[lang]
    bold = Font(bold=True)
    instructions.append([text["title"]])
    instructions["A1"].font = Font(bold=True, size=14)
    instructions.append([text["intro"]])
    instructions.append([])
    instructions.append(list(text["columns"]))
    for cell in instructions[4]:
        cell.font = bold
    for column in ORDER[1:]:  # ``record`` is the sheets' names here
        meaning_en, meaning_ko, example = MEANINGS[column]
        meaning = meaning_en if lang is TemplateLanguage.EN else meaning_ko
        marks = [_mark(column, kind, lang) for kind in (Kind.LOT, Kind.TRANSFORMATION, Kind.SHIPMENT)]
        instructions.append(safe_row([header(column, lang), meaning, *marks, example]))
    instructions.append([])
    instructions.append([text["sites"]])
    instructions.cell(row=instructions.max_row, column=1).font = bold
    instructions.append(list(text["site_columns"]))
    for site in sites:
        instructions.append(safe_row([site.gln, site.name, site.kind]))
    for letter, width in zip("ABCDEF", (16, 48, 10, 12, 10, 44), strict=True):
        instructions.column_dimensions[letter].width = width
    for kind in (Kind.LOT, Kind.TRANSFORMATION, Kind.SHIPMENT):
        sheet = book.create_sheet(SHEET_NAMES[lang][kind])
        columns = _kind_columns(kind)
        sheet.append([header(column, lang) for column in columns])
        for cell in sheet[1]:
            cell.font = bold
        sheet.freeze_panes = "A2"
        for index, column in enumerate(columns):
            letter = sheet.cell(row=1, column=index + 1).column_letter
            sheet.column_dimensions[letter].width = max(14, len(MEANINGS[column][2]) + 2)
            if column != "quantity":
                # typed as text: Excel would turn a GLN into 8.80123E+12 and a time into a date without its zone
                sheet.column_dimensions[letter].number_format = "@"
            if column == "role":
                choices = ",".join(ROLE_VALUES[lang])
                rule = DataValidation(type="list", formula1=f'"{choices}"', allow_blank=True)
                sheet.add_data_validation(rule)
                rule.add(f"{letter}2:{letter}1001")
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def csv_template(lang: TemplateLanguage) -> bytes:
    """The CSV template: the one-table layout's header row, UTF-8 with a byte-order mark."""
    out = io.StringIO()
    csv.writer(out).writerow([safe_cell(header(column, lang)) for column in ORDER])
    return ("\ufeff" + out.getvalue()).encode("utf-8")
