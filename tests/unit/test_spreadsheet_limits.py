"""Hostile spreadsheets (a million declared rows, a gigabyte of shared strings, endless problems) refused early."""

from __future__ import annotations

import io
import re
import tracemalloc
import zipfile
from datetime import datetime

import openpyxl
import pytest

from graph_schema.spreadsheet import ParsedSpreadsheet, SpreadsheetFormat, parse_spreadsheet, time_zone_named
from graph_schema.spreadsheet_limits import SHARED_STRINGS, SpreadsheetLimits
from tests.unit.test_spreadsheet import SITE, A, B, parse_csv

SHEET = "xl/worksheets/sheet1.xml"
MB = 1_048_576


def workbook(*rows: list[object]) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "lots"
    sheet.append(["lot_id", "site_gln", "quantity", "uom", "produced_at"])
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def rewritten(data: bytes, name: str, change: object) -> bytes:
    """The archive with member ``name`` replaced by ``change(old text)`` (or by bytes)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for member in source.infolist():
            content = source.read(member)
            if member.filename == name:
                content = change(content.decode()).encode() if callable(change) else change  # type: ignore[assignment]
            target.writestr(member.filename, content)
        if name not in source.namelist():
            assert isinstance(change, bytes)
            target.writestr(name, change)
    return out.getvalue()


def parse_xlsx(data: bytes, limits: SpreadsheetLimits | None = None) -> ParsedSpreadsheet:
    return parse_spreadsheet(
        data, format=SpreadsheetFormat.XLSX, firm_id="maker", time_zone=time_zone_named("UTC"), limits=limits
    )


def last(parsed: ParsedSpreadsheet) -> tuple[str, str]:
    return parsed.errors[-1].code, parsed.errors[-1].message


GOOD_ROW: list[object] = [A, int(SITE), 2, "kg", datetime(2026, 9, 1, 9)]


def test_a_declared_million_rows_by_16384_columns_is_not_believed() -> None:
    data = rewritten(
        workbook(GOOD_ROW), SHEET, lambda xml: re.sub(r'<dimension ref="[^"]*"', '<dimension ref="A1:XFD1048576"', xml)
    )
    assert len(data) < 10_000
    parsed = parse_xlsx(data)
    assert (parsed.errors, [lot.id for lot in parsed.lots]) == ([], [A])


def test_a_cell_a_million_rows_down_stops_the_reading_at_the_row_limit() -> None:
    far = '<row r="1048576"><c r="A1048576" t="inlineStr"><is><t>x</t></is></c></row></sheetData>'
    data = rewritten(workbook(GOOD_ROW), SHEET, lambda xml: xml.replace("</sheetData>", far))
    assert last(parse_xlsx(data)) == (
        "LIMIT_EXCEEDED",
        "sheet 'lots' goes on past row 100,000; an import holds at most 50,000 rows: remove the blank rows or"
        " split the file",
    )


def test_a_cell_in_the_last_column_is_not_read_nor_are_16384_wide_rows_built() -> None:
    far = "".join(f'<row r="{n}"><c r="XFD{n}" t="inlineStr"><is><t>x</t></is></c></row>' for n in range(3, 3003))
    data = rewritten(workbook(GOOD_ROW), SHEET, lambda xml: xml.replace("</sheetData>", far + "</sheetData>"))
    tracemalloc.start()
    try:
        parsed = parse_xlsx(data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (parsed.errors, [lot.id for lot in parsed.lots]) == ([], [A])
    assert peak < 20 * MB  # 3,000 rows of 16,384 cells would be 390 MB of tuples


def shared_strings(count: int, text: str = "a") -> bytes:
    head = (
        f'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="{count}" uniqueCount="{count}">'
    )
    return (head + f"<si><t>{text}</t></si>" * count + "</sst>").encode()


def test_too_many_shared_strings_are_refused_before_openpyxl_reads_them() -> None:
    data = rewritten(workbook(GOOD_ROW), SHARED_STRINGS, shared_strings(300))
    assert last(parse_xlsx(data, SpreadsheetLimits(max_shared_strings=200))) == (
        "LIMIT_EXCEEDED",
        "the XLSX file has more than 200 shared strings; an import takes at most 200",
    )
    assert parse_xlsx(data, SpreadsheetLimits(max_shared_strings=300)).errors == []


def test_shared_strings_past_their_size_are_refused_from_the_archive_directory() -> None:
    data = rewritten(workbook(GOOD_ROW), SHARED_STRINGS, shared_strings(5000, "x" * 100))
    assert last(parse_xlsx(data, SpreadsheetLimits(max_shared_strings_mb=0))) == (
        "LIMIT_EXCEEDED",
        "the XLSX file's shared strings take 0.6 MB; an import takes at most 0 MB of text",
    )


def test_a_gigabyte_of_shared_strings_in_a_small_file_is_refused_unread() -> None:
    # 300 MB of one repeated string compresses to about 300 KB: past the unzipped total before anything else
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
            for _ in range(300 * MB // len(piece)):
                stream.write(piece)
    data = out.getvalue()
    tracemalloc.start()
    try:
        parsed = parse_xlsx(data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    code, message = last(parsed)
    assert code == "LIMIT_EXCEEDED"
    assert message.startswith("the XLSX file unzips to 299.0 MB; an import takes at most 200 MB")
    assert peak < 10 * MB


def test_a_member_compressed_past_the_ratio_is_refused() -> None:
    data = rewritten(workbook(GOOD_ROW), SHARED_STRINGS, shared_strings(200_000))  # 4 MB of one string
    assert last(parse_xlsx(data)) == (
        "LIMIT_EXCEEDED",
        f"the XLSX member {SHARED_STRINGS} unzips "
        + last(parse_xlsx(data))[1].split(" unzips ")[1].split(" times")[0]
        + " times its size; a spreadsheet's XML compresses at most 200 times",
    )
    assert int(last(parse_xlsx(data))[1].split(" unzips ")[1].split(" times")[0].replace(",", "")) > 200


def test_the_problems_listed_stop_at_the_limit_with_a_last_word() -> None:
    rows = "\n".join(f"lot,{B},{SITE},-1,kg,2026-09-01T09:00:00Z" for _ in range(3000))
    parsed = parse_csv("record,lot_id,site_gln,quantity,uom,produced_at\n" + rows + "\n")
    assert len(parsed.errors) == 1001
    assert last(parsed) == (
        "LIMIT_EXCEEDED",
        "more than 1,000 problems: the reading stopped there; correct these and try again",
    )
    assert parsed.errors[0].row == 2


def test_a_csv_line_of_a_million_commas_is_refused_before_it_is_split() -> None:
    parsed = parse_csv("record,lot_id\n" + "," * 1_000_000 + "\n")
    assert last(parsed) == ("LIMIT_EXCEEDED", "line 2 of the CSV file is longer than 65,536 characters")


def test_a_csv_of_blank_lines_stops_at_the_row_limit() -> None:
    parsed = parse_csv("record,lot_id\n" + "\n" * 200_000)
    assert last(parsed) == (
        "LIMIT_EXCEEDED",
        "the file goes on past row 100,000; an import holds at most 50,000 rows: remove the blank rows or split"
        " the file",
    )


@pytest.mark.parametrize("garbage", [b"PK\x03\x04 not really", b"plain text"])
def test_a_file_that_is_no_zip_is_named_so(garbage: bytes) -> None:
    assert last(parse_xlsx(garbage))[1].startswith("the file is not a readable XLSX workbook")
