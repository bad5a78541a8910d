"""Spreadsheets of small firms (CSV, XLSX) parsed into validated lot, transformation and shipment records.

One table layout for both formats: one row per lot commissioned, per input or output lot of a
transformation, and per lot carried by a shipment; a ``record`` column says which (``lot``,
``transformation``, ``shipment``; Korean ``로트``, ``가공``, ``출하``). The rows of one transformation or
shipment share its ``id``; their common cells (site, times, documents) may be repeated or left blank after
the first row. In an XLSX file every sheet is read with its own header row; a sheet named after a kind
(``lots``, ``transformations``, ``shipments`` or ``로트``, ``가공``, ``출하``) may leave the ``record`` column
out, and sheets whose name starts with ``#`` are notes and skipped. Headers are English or Korean
(``COLUMNS``), case, spaces and underscores ignored.

Parsing is pure: bytes in, records and every problem out, each with its sheet, row (as the spreadsheet
program numbers it, the header being row 1) and column (as the file's header spells it). Records are the
same pydantic records the GraphQL mutations validate with.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from enum import StrEnum
from typing import Any, Final, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ValidationError

from graph_schema.errors import BAD_USER_INPUT, HubError
from graph_schema.records import LotRecord, ShipmentRecord, TransformationRecord
from graph_schema.spreadsheet_limits import SpreadsheetLimits, check_xlsx_archive, too_much

MAX_ROWS: Final = SpreadsheetLimits().max_rows
MAX_LINE: Final = 65_536  # characters in one line of a CSV file: 64 columns of a thousand characters


class SpreadsheetFormat(StrEnum):
    CSV = "CSV"
    XLSX = "XLSX"


class Kind(StrEnum):
    LOT = "lot"
    TRANSFORMATION = "transformation"
    SHIPMENT = "shipment"


# Canonical column -> accepted headers (English first, then Korean), compared after ``_norm``.
COLUMNS: Final[dict[str, tuple[str, ...]]] = {
    "record": ("record", "kind", "기록유형", "유형"),
    "id": ("id", "transformation_id", "shipment_id", "기록번호", "가공번호", "출하번호"),
    "lot_id": ("lot_id", "lgtin", "로트번호"),
    "role": ("role", "투입산출"),
    "site_gln": ("site_gln", "사업장GLN"),
    "from_gln": ("from_gln", "출발지GLN"),
    "to_gln": ("to_gln", "도착지GLN"),
    "quantity": ("quantity", "수량"),
    "uom": ("uom", "unit", "단위"),
    "produced_at": ("produced_at", "생산일시"),
    "expires_at": ("expires_at", "유통기한", "소비기한"),
    "occurred_at": ("occurred_at", "가공일시"),
    "shipped_at": ("shipped_at", "출하일시"),
    "received_at": ("received_at", "입고일시"),
    "doc_type": ("doc_type", "문서유형"),
    "doc_number": ("doc_number", "문서번호"),
    "note": ("note", "비고"),  # free text, never read
}
KIND_NAMES: Final[dict[str, Kind]] = {
    **dict.fromkeys(("lot", "lots", "로트"), Kind.LOT),
    **dict.fromkeys(("transformation", "transformations", "가공"), Kind.TRANSFORMATION),
    **dict.fromkeys(("shipment", "shipments", "출하"), Kind.SHIPMENT),
}
ROLE_NAMES: Final[dict[str, str]] = {
    **dict.fromkeys(("input", "in", "투입"), "inputs"),
    **dict.fromkeys(("output", "out", "산출"), "outputs"),
}
# The columns each kind reads; a filled cell in any other column is a mistake worth reporting.
USED: Final[dict[Kind, frozenset[str]]] = {
    Kind.LOT: frozenset({"lot_id", "site_gln", "quantity", "uom", "produced_at", "expires_at"}),
    Kind.TRANSFORMATION: frozenset({"id", "role", "lot_id", "quantity", "uom", "site_gln", "occurred_at"}),
    Kind.SHIPMENT: frozenset(
        {"id", "lot_id", "quantity", "uom", "from_gln", "to_gln", "shipped_at", "received_at", "doc_type", "doc_number"}
    ),
}
# Record fields (as the records spell them) and the column each comes from.
FIELD_COLUMN: Final[dict[str, str]] = {
    "siteGln": "site_gln",
    "fromGln": "from_gln",
    "toGln": "to_gln",
    "quantity": "quantity",
    "uom": "uom",
    "producedAt": "produced_at",
    "expiresAt": "expires_at",
    "occurredAt": "occurred_at",
    "shippedAt": "shipped_at",
    "receivedAt": "received_at",
    "docType": "doc_type",
    "docNumber": "doc_number",
    "lotId": "lot_id",
    "inputs": "lot_id",
    "outputs": "lot_id",
    "items": "lot_id",
}
_TIMES: Final = frozenset({"produced_at", "expires_at", "occurred_at", "shipped_at", "received_at"})
_GLNS: Final = frozenset({"site_gln", "from_gln", "to_gln"})
# The cells a transformation's (or shipment's) rows share, with the record field each fills.
_SHARED: Final[dict[Kind, dict[str, str]]] = {
    Kind.TRANSFORMATION: {"site_gln": "siteGln", "occurred_at": "occurredAt"},
    Kind.SHIPMENT: {
        "from_gln": "fromGln",
        "to_gln": "toGln",
        "shipped_at": "shippedAt",
        "received_at": "receivedAt",
        "doc_type": "docType",
        "doc_number": "docNumber",
    },
}


def _norm(header: str) -> str:
    return re.sub(r"[\s_\-]+", "", header).casefold()


_HEADER_KEYS: Final[dict[str, str]] = {_norm(alias): key for key, aliases in COLUMNS.items() for alias in aliases}


@dataclass(frozen=True)
class RowError:
    """One problem of an import, where a person finds it: sheet, row and column as the file shows them."""

    message: str
    row: int | None = None
    column: str | None = None
    sheet: str | None = None
    code: str = BAD_USER_INPUT
    sheet_order: int = 0  # the sheet's place in the workbook: errors are listed in the file's order

    def describe(self) -> str:
        """``sheet 'lots', row 5, column quantity: ...`` (the parts that are known)."""
        where = [f"sheet {self.sheet!r}"] if self.sheet else []
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column:
            where.append(f"column {self.column}")
        return f"{', '.join(where)}: {self.message}" if where else self.message

    def sort_key(self) -> tuple[int, int]:
        """The file's order by sheet and row (a stable sort keeps each row's problems as they were found)."""
        return (self.sheet_order, self.row or 0)


@dataclass(frozen=True)
class SourceRow:
    """One data row of the file: its place and its non-empty cells by canonical column."""

    sheet: str | None
    number: int
    cells: Mapping[str, Any]
    headers: Mapping[str, str]  # canonical column -> the header as this sheet spells it
    sheet_order: int = 0

    def label(self) -> str:
        """How messages name the row."""
        return f"sheet {self.sheet!r} row {self.number}" if self.sheet else f"row {self.number}"

    def error(self, column: str | None, message: str, *, code: str = BAD_USER_INPUT) -> RowError:
        """A problem of this row, in one of its columns (None: the row as a whole)."""
        header = self.headers.get(column, column) if column else None
        return RowError(
            message=message, row=self.number, column=header, sheet=self.sheet, code=code, sheet_order=self.sheet_order
        )


@dataclass(frozen=True)
class Origin:
    """Where one record came from: its first row, the row of each shared field, the row of each line item."""

    first: SourceRow
    field_rows: Mapping[str, SourceRow] = field(default_factory=dict)
    item_rows: Mapping[str, Sequence[tuple[str, SourceRow]]] = field(default_factory=dict)  # list name -> (lot, row)

    def row_of(self, record_field: str, *, lot: str | None = None) -> SourceRow:
        """The row that gave ``record_field`` (for a line item, the one naming ``lot`` when given)."""
        items = self.item_rows.get(record_field)
        if items:
            return next((row for lot_id, row in items if lot is not None and lot_id == lot), items[0][1])
        return self.field_rows.get(record_field, self.first)


@dataclass
class ParsedSpreadsheet:
    """Validated records of each kind with their origins (same order), and every problem found."""

    lots: list[LotRecord] = field(default_factory=list)
    transformations: list[TransformationRecord] = field(default_factory=list)
    shipments: list[ShipmentRecord] = field(default_factory=list)
    lot_origins: list[Origin] = field(default_factory=list)
    transformation_origins: list[Origin] = field(default_factory=list)
    shipment_origins: list[Origin] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    # lot rows that failed validation, by the lot id written on them: the rows naming these lots are
    # pointed at them rather than told that the lot is not recorded
    invalid_lots: dict[str, SourceRow] = field(default_factory=dict)


def format_of(filename: str | None, given: SpreadsheetFormat | None = None) -> SpreadsheetFormat:
    """The format named, or else the one the file name's extension tells."""
    if given is not None:
        return given
    suffix = (filename or "").rsplit(".", 1)[-1].lower() if "." in (filename or "") else ""
    if suffix in ("csv", "txt"):
        return SpreadsheetFormat.CSV
    if suffix in ("xlsx", "xlsm"):
        return SpreadsheetFormat.XLSX
    raise HubError(f"cannot tell the format of {filename or 'the file'!r}: name it CSV or XLSX", field="format")


def time_zone_named(name: str | None) -> tzinfo | None:
    """The IANA time zone (e.g. ``Asia/Seoul``) that times written without a UTC offset are read in."""
    if name is None or not name.strip():
        return None
    try:
        return ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise HubError(f"unknown time zone {name!r}; use an IANA name such as 'Asia/Seoul'", field="timeZone") from None


class _Errors(list[RowError]):
    """The problems found, up to a limit: one more stops the reading (TooManyErrors)."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit

    def append(self, error: RowError) -> None:
        if len(self) >= self.limit:
            raise _TooManyErrors
        super().append(error)


class _TooManyErrors(Exception):
    pass


def parse_spreadsheet(
    data: bytes,
    *,
    format: SpreadsheetFormat,
    firm_id: str,
    time_zone: tzinfo | None = None,
    limits: SpreadsheetLimits | None = None,
) -> ParsedSpreadsheet:
    """Every row of the file as a record authored by ``firm_id``, or as a RowError; nothing is written.

    The reading stops at the first limit passed (``limits``: rows, columns, the archive's sizes, problems
    listed), and the last problem says which.
    """
    limits = limits or SpreadsheetLimits()
    parsed = ParsedSpreadsheet(errors=_Errors(limits.max_errors))
    rows: list[tuple[Kind, SourceRow]] = []
    count = 0
    try:
        tables = _csv_tables(data) if format is SpreadsheetFormat.CSV else _xlsx_tables(data, limits)
        for order, (sheet, table) in enumerate(tables):
            bounded = _bounded(sheet, table, limits)
            for kind, row in _rows_of(sheet, order, bounded, time_zone=time_zone, errors=parsed.errors):
                count += 1
                if count > limits.max_rows:
                    raise too_much(f"the file has more than {limits.max_rows:,} rows; split it into several imports")
                rows.append((kind, row))
        _build_lots(parsed, firm_id, [row for kind, row in rows if kind is Kind.LOT])
        for kind in (Kind.TRANSFORMATION, Kind.SHIPMENT):
            _build_grouped(parsed, firm_id, kind, [row for k, row in rows if k is kind])
    except HubError as error:
        list.append(parsed.errors, RowError(message=error.message, code=error.code))
        return parsed
    except _TooManyErrors:
        parsed.errors.sort(key=RowError.sort_key)
        message = f"more than {limits.max_errors:,} problems: the reading stopped there; correct these and try again"
        list.append(parsed.errors, RowError(message=message, code="LIMIT_EXCEEDED"))
        return parsed
    if not rows and not parsed.errors:
        parsed.errors.append(RowError(message="the file has no data rows"))
    parsed.errors.sort(key=RowError.sort_key)
    return parsed


# --- reading -------------------------------------------------------------------------------------------

Table = Iterator[tuple[int, Sequence[Any]]]  # (row number, cells)


def _csv_tables(data: bytes) -> Iterator[tuple[str | None, Table]]:
    # Korean Excel saves "CSV" in CP949 unless told to use UTF-8: accept both
    for encoding in ("utf-8-sig", "cp949"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise HubError("the CSV file is neither UTF-8 nor CP949 (EUC-KR) text", field="file")
    first_line = text.split("\n", 1)[0]
    delimiter = next((d for d in (",", "\t", ";") if d in first_line), ",")
    reader = csv.reader(_lines(text), delimiter=delimiter)

    def table() -> Table:
        try:
            yield from enumerate(reader, start=1)
        except csv.Error as error:
            raise HubError(f"row {reader.line_num}: the CSV cannot be read ({error})", field="file") from None

    yield None, table()


def _bounded(sheet: str | None, table: Table, limits: SpreadsheetLimits) -> Table:
    """The rows of ``table`` down to ``max_row_number`` at most and ``max_columns`` wide (LIMIT_EXCEEDED past)."""
    where = f"sheet {sheet!r}" if sheet is not None else "the file"
    for number, cells in table:
        if number > limits.max_row_number:
            raise too_much(
                f"{where} goes on past row {limits.max_row_number:,}; an import holds at most"
                f" {limits.max_rows:,} rows: remove the blank rows or split the file"
            )
        if len(cells) > limits.max_columns:
            if any(not _blank(value) for value in cells[limits.max_columns :]):
                raise too_much(
                    f"{where}, row {number}: has cells past column {limits.max_columns}; the layout has"
                    f" {len(COLUMNS)} columns"
                )
            cells = cells[: limits.max_columns]
        yield number, cells


def _lines(text: str) -> Iterator[str]:
    # a line is refused before csv splits it: 20 MB of commas would otherwise be one row of 20 million cells
    for number, line in enumerate(io.StringIO(text, newline=""), start=1):
        if len(line) > MAX_LINE:
            raise too_much(f"line {number} of the CSV file is longer than {MAX_LINE:,} characters")
        yield line


def _xlsx_tables(data: bytes, limits: SpreadsheetLimits) -> Iterator[tuple[str | None, Table]]:
    from openpyxl import load_workbook  # imported here: only XLSX imports pay for it

    check_xlsx_archive(data, limits)  # before openpyxl unzips anything
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as error:
        raise HubError(f"the file is not a readable XLSX workbook ({type(error).__name__})", field="file") from None
    try:
        for sheet in workbook.worksheets:
            if sheet.title.startswith("#"):
                continue
            # the dimension the file declares is not believed: rows are read as they are, and no wider than the
            # limit (openpyxl would build a 16,384-cell row for one cell in column XFD; what lies past is ignored)
            sheet.reset_dimensions()
            rows = sheet.iter_rows(values_only=True, max_col=limits.max_columns)
            yield sheet.title, enumerate(rows, start=1)
    finally:
        workbook.close()


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _rows_of(
    sheet: str | None, order: int, table: Table, *, time_zone: tzinfo | None, errors: list[RowError]
) -> Iterator[tuple[Kind, SourceRow]]:
    """The data rows of one table with the kind of each; header and row problems go to ``errors``."""
    default_kind = KIND_NAMES.get(_norm(sheet)) if sheet else None
    headers: dict[int, str] = {}  # cell position -> canonical column
    titled: set[int] = set()  # positions with any header text (unknown ones are reported once, at the header)
    spelled: dict[str, str] = {}
    header_row = 0
    for number, cells in table:
        if all(_blank(cell) for cell in cells):
            continue
        if not header_row:
            header_row = number
            here = SourceRow(sheet=sheet, number=number, cells={}, headers={}, sheet_order=order)
            for position, cell in enumerate(cells):
                if _blank(cell):
                    continue
                text = str(cell).strip()
                titled.add(position)
                key = _HEADER_KEYS.get(_norm(text))
                if key is None:
                    known = ", ".join(aliases[0] for aliases in COLUMNS.values())
                    errors.append(here.error(text, f"unknown column {text!r}; the columns are {known}"))
                elif key in spelled:
                    errors.append(here.error(text, f"column {text!r} repeats column {spelled[key]!r}"))
                else:
                    headers[position] = key
                    spelled[key] = text
            if "record" not in spelled and default_kind is None:
                where = f"sheet {sheet!r}" if sheet else "the file"
                errors.append(
                    here.error(
                        None,
                        f"{where} has no 'record' column (lot, transformation or shipment on each row); "
                        "in an XLSX file a sheet named lots, transformations or shipments needs none",
                    )
                )
                return
            continue
        values: dict[str, Any] = {}
        row = SourceRow(sheet=sheet, number=number, cells=values, headers=spelled, sheet_order=order)
        for position, cell in enumerate(cells):
            if _blank(cell):
                continue
            key = headers.get(position)
            if key is None:
                if position not in titled:
                    errors.append(row.error(None, f"cell {position + 1} has a value but no column header"))
                continue
            if key != "note":
                values[key] = _cell(key, cell, time_zone)
        kind = _kind_of(row, default_kind, errors)
        if kind is None:
            continue
        for key in values:
            if key not in USED[kind] and key != "record":
                errors.append(row.error(key, f"not used on a {kind.value} row; leave it empty"))
        yield kind, row  # validated all the same: every other problem of the row is reported too


def _kind_of(row: SourceRow, default: Kind | None, errors: list[RowError]) -> Kind | None:
    named = row.cells.get("record")
    if named is None:
        if default is None:
            errors.append(row.error("record", "empty: write lot, transformation or shipment"))
        return default
    kind = KIND_NAMES.get(_norm(str(named)))
    if kind is None:
        errors.append(row.error("record", f"{named!r} is not a kind of record: write lot, transformation or shipment"))
    elif default is not None and kind is not default:
        errors.append(row.error("record", f"a {kind.value} row on the sheet of {default.value}s"))
        return None
    return kind


def _cell(key: str, value: Any, time_zone: tzinfo | None) -> Any:
    """A cell as the records expect it: text stripped, identifiers as digits, times with their zone."""
    if isinstance(value, str):
        value = value.strip()
    if key in _GLNS and isinstance(value, int | float) and not isinstance(value, bool) and float(value).is_integer():
        return str(int(value))  # a GLN typed into a number cell
    if key in _TIMES:
        if isinstance(value, str):
            try:
                value = datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                return value  # the record's validation says what is wrong with it
        if isinstance(value, datetime) and value.tzinfo is None and time_zone is not None:
            return value.replace(tzinfo=time_zone)
    return value


# --- building records ---------------------------------------------------------------------------------


def _build_lots(parsed: ParsedSpreadsheet, firm_id: str, rows: list[SourceRow]) -> None:
    first_row_of: dict[str, SourceRow] = {}
    for row in rows:
        cells = row.cells
        item = {
            "id": cells.get("lot_id"),
            "ownerFirmId": firm_id,
            "siteGln": cells.get("site_gln"),
            "quantity": cells.get("quantity"),
            "uom": cells.get("uom"),
            "producedAt": cells.get("produced_at"),
            "expiresAt": cells.get("expires_at"),
        }
        origin = Origin(first=row)
        record = _validated(LotRecord, item, origin, parsed.errors, id_column="lot_id")
        if record is None:
            if "lot_id" in cells:
                parsed.invalid_lots.setdefault(str(cells["lot_id"]), row)
            continue
        if record.id in first_row_of:
            parsed.errors.append(
                row.error("lot_id", f"lot {record.id} is already on {first_row_of[record.id].label()}")
            )
            continue
        first_row_of[record.id] = row
        parsed.lots.append(record)
        parsed.lot_origins.append(origin)


def _build_grouped(parsed: ParsedSpreadsheet, firm_id: str, kind: Kind, rows: list[SourceRow]) -> None:
    """Transformations and shipments: the rows sharing an id make one record."""
    groups: dict[str, list[SourceRow]] = {}
    for row in rows:
        record_id = row.cells.get("id")
        if record_id is None:
            parsed.errors.append(row.error("id", f"empty: the rows of one {kind.value} share its id"))
            continue
        groups.setdefault(str(record_id).strip(), []).append(row)
    for record_id, group in groups.items():
        item: dict[str, Any] = {"id": record_id}
        field_rows: dict[str, SourceRow] = {}
        lists: dict[str, list[dict[str, Any]]] = (
            {"inputs": [], "outputs": []} if kind is Kind.TRANSFORMATION else {"items": []}
        )
        item_rows: dict[str, list[tuple[str, SourceRow]]] = {name: [] for name in lists}
        consistent = True
        for row in group:
            for column, record_field in _SHARED[kind].items():
                value = row.cells.get(column)
                if value is None:
                    continue
                if record_field in item and item[record_field] != value:
                    first = field_rows[record_field]
                    parsed.errors.append(
                        row.error(column, f"differs from {first.label()} of the same {kind.value} {record_id}")
                    )
                    consistent = False
                elif record_field not in item:
                    item[record_field] = value
                    field_rows[record_field] = row
            name = "items"
            if kind is Kind.TRANSFORMATION:
                role = row.cells.get("role")
                name = ROLE_NAMES.get(_norm(str(role)), "") if role is not None else ""
                if not name:
                    parsed.errors.append(
                        row.error(
                            "role",
                            "write input or output (투입 or 산출)"
                            if role is None
                            else f"{role!r} is neither input nor output (투입 or 산출)",
                        )
                    )
                    consistent = False
                    continue
            line = {
                "lotId": row.cells.get("lot_id"),
                "quantity": row.cells.get("quantity"),
                "uom": row.cells.get("uom"),
            }
            lists[name].append(line)
            item_rows[name].append((str(line["lotId"]), row))
        if not consistent:
            continue
        if kind is Kind.TRANSFORMATION:
            item["firmId"] = firm_id
        item.update(lists)
        origin = Origin(first=group[0], field_rows=field_rows, item_rows=item_rows)
        if kind is Kind.TRANSFORMATION:
            transformation = _validated(TransformationRecord, item, origin, parsed.errors, id_column="id")
            if transformation is not None:
                parsed.transformations.append(transformation)
                parsed.transformation_origins.append(origin)
        else:
            shipment = _validated(ShipmentRecord, item, origin, parsed.errors, id_column="id")
            if shipment is not None:
                parsed.shipments.append(shipment)
                parsed.shipment_origins.append(origin)


M = TypeVar("M", bound=BaseModel)


def _validated(
    model: type[M], item: dict[str, Any], origin: Origin, errors: list[RowError], *, id_column: str
) -> M | None:
    """The record, or None with one RowError per problem pydantic found (all of them, not only the first)."""
    # an empty cell is an absent value: pydantic then says "missing" rather than "not a valid datetime"
    present = {key: value for key, value in item.items() if value is not None}
    for name in ("inputs", "outputs", "items"):
        if name in present:
            present[name] = [{k: v for k, v in line.items() if v is not None} for line in present[name]]
    try:
        return model.model_validate(present)
    except ValidationError as error:
        for problem in error.errors(include_url=False):
            errors.append(_locate(problem, origin, id_column=id_column))
        return None


# camelCase record fields named in the records' messages, said the way the sheet says them
_FIELD_IN_TEXT: Final = re.compile(r"\b(" + "|".join(f for f in FIELD_COLUMN if not f.islower()) + r")\b")


def _locate(problem: Mapping[str, Any], origin: Origin, *, id_column: str) -> RowError:
    location = list(problem["loc"])
    headers = origin.first.headers
    message = str(problem["msg"]).removeprefix("Value error, ")
    message = _FIELD_IN_TEXT.sub(lambda m: headers.get(FIELD_COLUMN[m[1]], FIELD_COLUMN[m[1]]), message)
    kind = str(problem["type"])
    if kind == "missing":
        message = "empty: this cell is needed"
    elif kind.startswith(("datetime_", "date_")):  # pydantic's parser speaks of characters and lengths
        message = f"{problem['input']!r} is not a date and time; write it like 2026-09-03T08:00:00+09:00"
    elif kind in ("float_parsing", "float_type"):
        message = f"{problem['input']!r} is not a number; write it like 12.5"
    elif "UTC offset" in message:
        message += " (or import with a time zone: timeZone, hub import --time-zone)"
    if not location:  # a check of the whole record (times in order, a lot named twice...)
        text = str(problem["msg"])
        column = next((FIELD_COLUMN[f] for f in ("receivedAt", "toGln") if f in text), None)
        return origin.first.error(column or ("lot_id" if "lot" in text else id_column), message)
    head = str(location[0])
    if head in ("inputs", "outputs", "items") and len(location) >= 2 and isinstance(location[1], int):
        row = origin.item_rows[head][location[1]][1]
        column = FIELD_COLUMN.get(str(location[2]), "lot_id") if len(location) > 2 else "lot_id"
        return row.error(column, message)
    if head in ("inputs", "outputs", "items"):  # an empty list
        needed = {"inputs": "an input row", "outputs": "an output row", "items": "a row naming a lot"}[head]
        return origin.first.error("role" if head != "items" else "lot_id", f"needs at least {needed}")
    column = id_column if head == "id" else FIELD_COLUMN.get(head, head)
    return origin.row_of(head).error(column, message)
