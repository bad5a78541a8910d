"""``GET /exports/fsma204``: the FSMA 204 sortable spreadsheet of a trace, as CSV or XLSX.

Rows stream from the driver in the database's order and are written to a temporary file in batches (the
XLSX writer in openpyxl's write-only mode), so memory stays flat however long the trace. Members' free text
(names, document numbers) that a spreadsheet would run as a formula is neutralised on the way
(graph_schema.spreadsheet_safety). The file is sent
only once complete: the access log must be written before another firm's records leave the hub (it fails
closed, like GraphQL reads), and a failure half-way answers with an error status instead of a truncated file.
"""

from __future__ import annotations

import csv
import os
import re
import tempfile
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from contextlib import aclosing
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, TYPE_CHECKING, Any, Final

import anyio
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.utils import get_column_letter
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from auth.audit import record_access
from auth.backend import PrincipalUser
from auth.decisions import decide_for_request
from auth.principal import Principal
from graph_schema import fsma204
from graph_schema.access import Viewer
from graph_schema.db import Graph, Row
from graph_schema.errors import BAD_USER_INPUT, NOT_FOUND, UNAVAILABLE, HubError
from graph_schema.identifiers import parse_lgtin
from graph_schema.model import TraceDirection
from graph_schema.spreadsheet_safety import safe_cell
from graph_schema.trace import MAX_DEPTH
from hub.graphql_app import unauthenticated_response
from hub.state import HubState
from resolvers.exports import EXPORT_PATH
from resolvers.redaction import Redactor

if TYPE_CHECKING:  # the write-only sheet's class lives in a private module
    from openpyxl.worksheet._write_only import WriteOnlyWorksheet

PATH: Final = EXPORT_PATH
FORMATS: Final = ("csv", "xlsx")
LANGUAGES: Final = ("en", "ko")
BATCH: Final = 500  # rows handed to the file writer per thread hop

# (key, English header as FDA names the key data element, Korean header)
COLUMNS: Final[tuple[tuple[str, str, str], ...]] = (
    ("cte", "Critical tracking event", "주요 추적 이벤트(CTE)"),
    ("event_date", "Event date (UTC)", "이벤트 일시(UTC)"),
    ("tlc", "Traceability lot code", "추적 로트 코드(TLC)"),
    ("product", "Product description", "제품 설명"),
    ("quantity", "Quantity", "수량"),
    ("uom", "Unit of measure", "단위"),
    ("location", "Location description", "장소 설명"),
    ("location_gln", "Location GLN", "장소 GLN"),
    ("other", "Immediate previous source or subsequent recipient", "직전 공급처 또는 다음 수령처"),
    ("other_gln", "Immediate previous source or subsequent recipient GLN", "직전 공급처 또는 다음 수령처 GLN"),
    ("doc_type", "Reference document type", "참조 문서 유형"),
    ("doc_number", "Reference document number", "참조 문서 번호"),
    ("tlc_source", "Traceability lot code source", "추적 로트 코드 출처"),
    ("tlc_source_gln", "Traceability lot code source GLN", "추적 로트 코드 출처 GLN"),
    ("input_tlcs", "Input traceability lot codes", "투입 추적 로트 코드"),
    ("event_id", "Event id", "이벤트 ID"),
    ("lot", "Lot (GS1 LGTIN)", "로트(GS1 LGTIN)"),
    ("depth", "Trace depth", "추적 깊이"),
)
CTE_LABELS: Final[dict[str, dict[str | None, str]]] = {
    "en": {
        fsma204.HARVESTING: "Harvesting",
        fsma204.INITIAL_PACKING: "Initial packing",
        fsma204.TRANSFORMATION: "Transformation",
        fsma204.SHIPPING: "Shipping",
        fsma204.RECEIVING: "Receiving",
        None: "Redacted",
    },
    "ko": {
        fsma204.HARVESTING: "수확",
        fsma204.INITIAL_PACKING: "최초 포장",
        fsma204.TRANSFORMATION: "가공",
        fsma204.SHIPPING: "출하",
        fsma204.RECEIVING: "입고",
        None: "비공개",
    },
}
PRODUCTION_RECORD: Final = {"en": "Production record", "ko": "생산 기록"}


def headers(lang: str) -> list[str]:
    """The header row in English or Korean."""
    return [english if lang == "en" else korean for _, english, korean in COLUMNS]


@dataclass(frozen=True)
class ExportRequest:
    """The validated query parameters of one export."""

    lot_id: str
    direction: TraceDirection
    format: str
    lang: str
    sort: str
    descending: bool
    max_depth: int

    @property
    def filename(self) -> str:
        """``fsma204-<gtin>-<lot>-downstream.csv``, safe for every file system."""
        lgtin = parse_lgtin(self.lot_id)
        lot = re.sub(r"[^A-Za-z0-9._-]", "_", lgtin.lot)
        return f"fsma204-{lgtin.gtin}-{lot}-{self.direction.value.lower()}.{self.format}"


def parse_request(query: Any) -> ExportRequest:
    """The query parameters, each checked; a HubError names the parameter at fault."""
    lot = query.get("lot")
    if not lot:
        raise HubError("give the lot to trace: lot=<LGTIN class URI>", field="lot")
    lot_id = parse_lgtin(lot, field="lot").uri
    direction_text = (query.get("direction") or "").strip().upper()
    if direction_text not in TraceDirection.__members__:
        raise HubError("direction must be upstream or downstream", field="direction")
    format_text = (query.get("format") or "csv").strip().lower()
    if format_text not in FORMATS:
        raise HubError("format must be csv or xlsx", field="format")
    lang = (query.get("lang") or "en").strip().lower()
    if lang not in LANGUAGES:
        raise HubError("lang must be en or ko", field="lang")
    sort, descending = fsma204.parse_sort(query.get("sort"))
    depth_text = query.get("maxDepth") or "25"
    if not depth_text.isdigit() or not 1 <= int(depth_text) <= MAX_DEPTH:
        raise HubError(f"maxDepth must be a whole number between 1 and {MAX_DEPTH}", field="maxDepth")
    return ExportRequest(
        lot_id=lot_id,
        direction=TraceDirection(direction_text),
        format=format_text,
        lang=lang,
        sort=sort,
        descending=descending,
        max_depth=int(depth_text),
    )


def _utc(value: Any) -> datetime | None:
    if value is None:
        return None
    native: datetime = value if isinstance(value, datetime) else value.to_native()
    return native.astimezone(UTC)


def cells(row: Row, *, lang: str, redactor: Redactor) -> list[Any]:
    """One export row's cells, in the order of COLUMNS; hidden records appear as opaque ids only."""
    lot = row["lotId"] if row["lotId"] is not None else redactor.opaque("lot", row["lotRef"])
    event_id = row["eventId"]
    if row["shipmentRef"] is not None:
        event_id = redactor.opaque("shipment", row["shipmentRef"])
    inputs = [item["tlc"] if "tlc" in item else redactor.opaque("lot", item["hiddenRef"]) for item in row["inputs"]]
    transformation = row["cte"] == fsma204.TRANSFORMATION and not row["redacted"]
    values = {
        "cte": CTE_LABELS[lang][row["cte"]],
        "event_date": _utc(row["eventDate"]),
        "tlc": row["tlc"] if row["tlc"] is not None else lot,
        "product": row["product"],
        "quantity": row["quantity"],
        "uom": row["uom"],
        "location": row["location"],
        "location_gln": row["locationGln"],
        "other": row["other"],
        "other_gln": row["otherGln"],
        "doc_type": PRODUCTION_RECORD[lang] if transformation else row["docType"],
        "doc_number": event_id if transformation else row["docNumber"],
        "tlc_source": row["tlcSource"],
        "tlc_source_gln": row["tlcSourceGln"],
        "input_tlcs": "; ".join(inputs) if inputs else None,
        "event_id": event_id,
        "lot": lot,
        "depth": row["depth"],
    }
    return [values[key] for key, _, _ in COLUMNS]


# --- files -----------------------------------------------------------------------------------------------


class CsvFile:
    """UTF-8 with a byte-order mark (so Excel shows Korean text right), dates as ISO 8601 in UTC."""

    media_type = "text/csv; charset=utf-8"

    def __init__(self, path: str, header: list[str]) -> None:
        self._file: IO[str] = open(path, "w", encoding="utf-8-sig", newline="")  # noqa: SIM115 (closed in close())
        self._writer = csv.writer(self._file)
        self._writer.writerow(header)

    def write(self, rows: Sequence[list[Any]]) -> None:
        self._writer.writerows([[safe_cell(_text(value)) for value in row] for row in rows])

    def close(self) -> None:
        self._file.close()


def _text(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


class XlsxFile:
    """One sheet in openpyxl's write-only mode (rows go to disk as they come), with a filter on the header."""

    media_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

    def __init__(self, path: str, header: list[str]) -> None:
        self._path = path
        self._book = Workbook(write_only=True)
        self._sheet: WriteOnlyWorksheet = self._book.create_sheet("FSMA 204")
        self._sheet.freeze_panes = "A2"
        self._sheet.append(header)
        self._rows = 1

    def write(self, rows: Sequence[list[Any]]) -> None:
        for row in rows:
            self._sheet.append([self._cell(value) for value in row])
        self._rows += len(rows)

    def _cell(self, value: Any) -> Any:
        if not isinstance(value, datetime):
            return safe_cell(value)
        # Excel has no time zones: the UTC time as a plain date-time (the header says UTC)
        cell = WriteOnlyCell(self._sheet, value=value.replace(tzinfo=None))
        cell.number_format = "yyyy-mm-dd hh:mm:ss"
        return cell

    def close(self) -> None:
        # written at close like the rest of the sheet's tail; the stubs miss the write-only sheet's filter
        self._sheet.auto_filter.ref = f"A1:{get_column_letter(len(COLUMNS))}{self._rows}"  # type: ignore[attr-defined]
        self._book.save(self._path)


# --- the endpoint ----------------------------------------------------------------------------------------


def problem(status: int, title: str, error: HubError) -> Response:
    """An ``application/problem+json`` answer naming the parameter at fault."""
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status, "detail": error.message}
    body["code"] = error.code
    if error.field is not None:
        body["field"] = error.field
    return JSONResponse(body, status_code=status, media_type="application/problem+json")


async def withheld_unless_logged(
    state: HubState, principal: Principal, *, operation: str, accessed: Mapping[str, int], path: str | None = None
) -> Response | None:
    """Write the access log of an export that holds other firms' records (``accessed``: owner -> count); when it
    cannot be written the export is withheld (fail closed, as GraphQL reads are): its file deleted and a 503."""
    if not accessed:
        return None
    try:
        await record_access(
            state.sql_engine,
            accessor_firm_id=principal.firm_id,
            accessor_subject=principal.subject,
            accessor_issuer=principal.issuer,
            operation=operation,
            counts=accessed,
        )
    except Exception:
        if path is not None:
            os.unlink(path)
        message = "the access log could not be written, so no data was returned; try again shortly"
        return problem(503, "Unavailable", HubError(message, code=UNAVAILABLE))
    return None


_STATUS: Final = {
    BAD_USER_INPUT: (400, "Bad request"),
    NOT_FOUND: (404, "Not found"),
    UNAVAILABLE: (503, "Unavailable"),
}


async def fsma204_export(request: Request) -> Response:
    """The FSMA 204 spreadsheet of the trace from ``lot`` in ``direction``, as the caller may see it."""
    user = request.scope.get("user")
    if not isinstance(user, PrincipalUser):
        return unauthenticated_response()
    state: HubState = request.app.state.hub
    principal = user.principal
    graph = Graph(state.driver, database=state.settings.neo4j_database)
    try:
        export = parse_request(request.query_params)
        decision = await decide_for_request(graph, principal)
        viewer = decision.viewer
        await fsma204.require_visible_lot(graph, viewer, export.lot_id)
        path, media_type, accessed = await _write_file(graph, export, viewer=viewer, redaction_key=state.redaction_key)
    except HubError as error:
        status, title = _STATUS.get(error.code, (400, "Bad request"))
        return problem(status, title, error)
    withheld = await withheld_unless_logged(state, principal, operation=f"GET {PATH}", accessed=accessed, path=path)
    if withheld is not None:
        return withheld
    return FileResponse(
        path,
        media_type=media_type,
        filename=export.filename,
        background=BackgroundTask(os.unlink, path),
    )


async def _write_file(
    graph: Graph, export: ExportRequest, *, viewer: Viewer, redaction_key: bytes
) -> tuple[str, str, Counter[str]]:
    """Stream the rows into a temporary file; its path, media type, and whose records it holds (other firms)."""
    redactor = Redactor(key=redaction_key, firm_id=viewer.firm_id)
    handle, path = tempfile.mkstemp(prefix="fsma204-", suffix=f".{export.format}")
    os.close(handle)
    factory: Callable[[str, list[str]], CsvFile | XlsxFile] = CsvFile if export.format == "csv" else XlsxFile
    accessed: Counter[str] = Counter()
    try:
        writer = await anyio.to_thread.run_sync(factory, path, headers(export.lang))
        try:
            batch: list[list[Any]] = []
            rows = fsma204.export_rows(
                graph,
                viewer,
                lot_id=export.lot_id,
                direction=export.direction,
                max_depth=export.max_depth,
                sort=export.sort,
                descending=export.descending,
                lang=export.lang,
            )
            async with aclosing(rows):
                async for row in rows:
                    if row["owner"] is not None and row["owner"] != viewer.firm_id:
                        accessed[row["owner"]] += 1
                    batch.append(cells(row, lang=export.lang, redactor=redactor))
                    if len(batch) >= BATCH:
                        await anyio.to_thread.run_sync(writer.write, batch)
                        batch = []
            await anyio.to_thread.run_sync(writer.write, batch)
        finally:
            await anyio.to_thread.run_sync(writer.close)
    except BaseException:
        os.unlink(path)
        raise
    return path, writer.media_type, accessed


def export_routes() -> list[Route]:
    """The export endpoints, mounted by the app factory (they need a bearer token like /graphql)."""
    return [Route(PATH, fsma204_export, methods=["GET"])]
