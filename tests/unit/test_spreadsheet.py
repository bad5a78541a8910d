"""Spreadsheet parsing without a database: headers, grouping, encodings and where each problem is reported."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta, timezone

import openpyxl
import pytest

from graph_schema.errors import HubError
from graph_schema.identifiers import lgtin_for
from graph_schema.spreadsheet import (
    ParsedSpreadsheet,
    SpreadsheetFormat,
    format_of,
    parse_spreadsheet,
    time_zone_named,
)
from tests.factories import gln, gtin

PRODUCT = gtin(4242)
SITE, OTHER = gln(4242), gln(4243)
A, B, C = (lgtin_for(PRODUCT, lot) for lot in ("A", "B", "C"))


def parse_csv(text: str, **options: object) -> ParsedSpreadsheet:
    return parse_spreadsheet(text.encode(), format=SpreadsheetFormat.CSV, firm_id="maker", **options)  # type: ignore[arg-type]


def problems(parsed: ParsedSpreadsheet) -> list[tuple[int | None, str | None, str]]:
    return [(e.row, e.column, e.message) for e in parsed.errors]


def test_english_and_korean_headers_in_any_case_and_spacing_mean_the_same_columns() -> None:
    english = parse_csv(f"Record,LOT ID,Site_GLN,Quantity,UoM,Produced At\nlot,{A},{SITE},5,kg,2026-09-01T09:00+09:00")
    korean = parse_csv(f"기록유형,로트 번호,사업장GLN,수량,단위,생산일시\n로트,{A},{SITE},5,kg,2026-09-01T09:00+09:00")
    assert english.errors == korean.errors == []
    assert english.lots == korean.lots
    [lot] = english.lots
    assert (lot.id, lot.owner_firm_id, lot.site_gln, lot.quantity, lot.uom) == (A, "maker", SITE, 5.0, "kg")
    assert lot.produced_at == datetime(2026, 9, 1, 0, 0, tzinfo=UTC)


def test_rows_of_one_transformation_share_its_id_and_may_leave_shared_cells_blank() -> None:
    parsed = parse_csv(
        "record,id,role,lot_id,quantity,uom,site_gln,occurred_at\n"
        f"transformation,T-1,input,{A},3,kg,{SITE},2026-09-02T08:00Z\n"
        "\n"  # a blank line is skipped, and row numbers still count it
        f"transformation,T-1,투입,{B},1,kg,,\n"
        f"transformation,T-1,output,{C},4,kg,{SITE},2026-09-02T08:00Z\n"
        f"transformation,T-2,output,{C},4,kg,{OTHER},2026-09-02T08:00Z\n"
        f"transformation,T-2,input,{A},4,kg,{SITE},2026-09-02T09:00Z\n"
    )
    [t1] = parsed.transformations
    assert [(i.lot_id, i.quantity) for i in t1.inputs] == [(A, 3.0), (B, 1.0)]
    assert [(o.lot_id, o.quantity) for o in t1.outputs] == [(C, 4.0)]
    assert (t1.firm_id, t1.site_gln) == ("maker", SITE)
    assert parsed.transformation_origins[0].row_of("inputs", lot=B).number == 4
    assert problems(parsed) == [
        (7, "site_gln", "differs from row 6 of the same transformation T-2"),
        (7, "occurred_at", "differs from row 6 of the same transformation T-2"),
    ]


def test_every_problem_of_a_row_is_reported_with_its_column() -> None:
    parsed = parse_csv(
        "record,lot_id,site_gln,quantity,uom,produced_at,from_gln,,colour\n"
        f"lot,{A},8800000000000,0,,2026-09-01,{SITE},x,red\n"
        f"lots,{B},{SITE},1,kg,2026-09-01T00:00Z,,,\n"
        f"pallet,{C},{SITE},1,kg,2026-09-01T00:00Z,,,\n"
        f"shipment,{C},,1,kg,,,,\n"
    )
    assert problems(parsed) == [
        (1, "colour", "unknown column 'colour'; the columns are record, id, lot_id, role, site_gln, from_gln, "
         "to_gln, quantity, uom, produced_at, expires_at, occurred_at, shipped_at, received_at, doc_type, "
         "doc_number, note"),
        (2, None, "cell 8 has a value but no column header"),
        (2, "from_gln", "not used on a lot row; leave it empty"),
        (2, "site_gln", "GLN '8800000000000' has check digit 0, expected 8"),
        (2, "quantity", "Input should be greater than 0"),
        (2, "uom", "empty: this cell is needed"),
        (2, "produced_at", "a time needs its UTC offset, e.g. 2026-11-28T09:00:00+09:00 (or import with a time "
         "zone: timeZone, hub import --time-zone)"),
        (4, "record", "'pallet' is not a kind of record: write lot, transformation or shipment"),
        (5, "id", "empty: the rows of one shipment share its id"),
    ]  # fmt: skip
    assert [lot.id for lot in parsed.lots] == [B]


def test_a_time_zone_applies_to_times_written_without_an_offset_only() -> None:
    parsed = parse_csv(
        "record,lot_id,site_gln,quantity,uom,produced_at,expires_at\n"
        f"lot,{A},{SITE},1,kg,2026-09-01 09:00,2026-09-10T00:00:00Z\n",
        time_zone=time_zone_named("Asia/Seoul"),
    )
    [lot] = parsed.lots
    assert lot.produced_at.utcoffset() == timedelta(hours=9)
    assert lot.produced_at == datetime(2026, 9, 1, 9, 0, tzinfo=timezone(timedelta(hours=9)))
    assert lot.expires_at == datetime(2026, 9, 10, tzinfo=UTC)
    with pytest.raises(HubError, match="unknown time zone 'Mars/Olympus'") as raised:
        time_zone_named("Mars/Olympus")
    assert raised.value.field == "timeZone"


def test_cp949_and_semicolons_as_spreadsheet_programs_save_them() -> None:
    text = f"기록유형;로트번호;사업장GLN;수량;단위;생산일시\n로트;{A};{SITE};1,5;kg;2026-09-01T00:00Z\n"
    parsed = parse_spreadsheet(text.encode("cp949"), format=SpreadsheetFormat.CSV, firm_id="maker")
    assert problems(parsed) == [(2, "수량", "'1,5' is not a number; write it like 12.5")]


def test_a_shipment_with_a_lot_twice_or_to_its_own_site() -> None:
    parsed = parse_csv(
        "record,id,lot_id,quantity,uom,from_gln,to_gln,shipped_at,received_at\n"
        f"shipment,S-1,{A},1,kg,{SITE},{SITE},2026-09-01T00:00Z,\n"
        f"shipment,S-2,{A},1,kg,{SITE},{OTHER},2026-09-02T00:00Z,2026-09-01T00:00Z\n"
        f"shipment,S-3,{A},1,kg,{SITE},{OTHER},2026-09-02T00:00Z,\n"
        f"shipment,S-3,{A},2,kg,,,,\n"
    )
    assert problems(parsed) == [
        (2, "to_gln", "a shipment must go from one site to another (from_gln equals to_gln)"),
        (3, "received_at", "received_at is before shipped_at"),
        (4, "lot_id", "a lot may appear only once in a shipment"),
    ]


def test_xlsx_sheets_named_by_kind_need_no_record_column_and_notes_are_skipped() -> None:
    book = openpyxl.Workbook()
    notes = book.active
    assert notes is not None
    notes.title = "#notes"
    notes.append(["anything at all"])
    lots = book.create_sheet("Lots")
    lots.append([None])
    lots.append(["lot_id", "site_gln", "quantity", "uom", "produced_at"])
    lots.append([A, int(SITE), 2, "kg", datetime(2026, 9, 1, 9)])
    lots.append(["shipment", None, None, None, None])
    shipments = book.create_sheet("출하")
    shipments.append(["record", "id", "lot_id", "quantity", "uom", "from_gln", "to_gln", "shipped_at"])
    shipments.append(["lot", "S-1", A, 1, "kg", SITE, OTHER, datetime(2026, 9, 2)])
    out = io.BytesIO()
    book.save(out)
    parsed = parse_spreadsheet(
        out.getvalue(), format=SpreadsheetFormat.XLSX, firm_id="maker", time_zone=time_zone_named("UTC")
    )
    assert [(lot.id, lot.site_gln, lot.produced_at) for lot in parsed.lots] == [
        (A, SITE, datetime(2026, 9, 1, 9, tzinfo=UTC))
    ]
    assert [(e.sheet, e.row, e.column, e.message) for e in parsed.errors] == [
        ("Lots", 4, "lot_id", "lot id 'shipment' must be an LGTIN class URI such as "
         "'urn:epc:class:lgtin:8801234.012345.LOT001'"),  # no record column here: the first cell is the lot
        ("Lots", 4, "site_gln", "empty: this cell is needed"),
        ("Lots", 4, "quantity", "empty: this cell is needed"),
        ("Lots", 4, "uom", "empty: this cell is needed"),
        ("Lots", 4, "produced_at", "empty: this cell is needed"),
        ("출하", 2, "record", "a lot row on the sheet of shipments"),
    ]  # fmt: skip
    assert parsed.errors[1].describe() == "sheet 'Lots', row 4, column site_gln: empty: this cell is needed"


@pytest.mark.parametrize(
    ("name", "given", "expected"),
    [("a.csv", None, SpreadsheetFormat.CSV), ("B.XLSX", None, SpreadsheetFormat.XLSX), ("x", "XLSX", "XLSX")],
)
def test_the_format_comes_from_the_name_unless_given(name: str, given: str | None, expected: str) -> None:
    assert format_of(name, SpreadsheetFormat(given) if given else None) == expected


def test_an_unknown_format_names_the_argument() -> None:
    with pytest.raises(HubError, match=r"cannot tell the format of 'lots\.pdf'") as raised:
        format_of("lots.pdf")
    assert raised.value.field == "format"
