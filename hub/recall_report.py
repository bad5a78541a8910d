"""``GET /exports/recall-report?recall=<id>&lang=en|ko``: a recall's report as XLSX, for its coordinator and the agency.

Sheets: the summary and effectiveness check; the timeline (declared, acknowledged, reported, closed); the
consignees (acknowledged, stock left per site); the affected lots; the mass balance per lot and site with its
gaps; and the FSMA 204 rows of each recalled lot's downstream trace (hub.exports' columns and cells). Every
text cell is written formula-safe (graph_schema.spreadsheet_safety): a member's name or note starting with
``=``, ``+``, ``-``, ``@`` or a control character is prefixed with an apostrophe, so a spreadsheet shows it
as text instead of running it.
Notified (webhook and subscription deliveries) is not in the timeline: the hub keeps no delivery log yet.
"""

from __future__ import annotations

import os
import tempfile
from collections import Counter
from contextlib import aclosing
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

import anyio
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from auth.backend import PrincipalUser
from auth.decisions import Decision, decide_for_request
from graph_schema import fsma204, mass_balance, recall_answers, recall_impact, recalls
from graph_schema.access import Viewer
from graph_schema.db import Graph, Row
from graph_schema.errors import NOT_FOUND, HubError
from graph_schema.model import TraceDirection
from graph_schema.spreadsheet_safety import safe_cell  # the one rule every export follows
from hub.exports import _STATUS, cells, headers, problem, withheld_unless_logged
from hub.graphql_app import unauthenticated_response
from hub.state import HubState
from resolvers.recall_report import REPORT_PATH
from resolvers.redaction import Redactor

if TYPE_CHECKING:
    from openpyxl.worksheet._write_only import WriteOnlyWorksheet

LANGUAGES: Final = ("en", "ko")
MAX_AFFECTED_ROWS: Final = 100_000

# (English, Korean) per label
SHEETS: Final = {
    "summary": ("Summary", "요약"),
    "timeline": ("Timeline", "경과"),
    "consignees": ("Consignees", "수취 업체"),
    "lots": ("Affected lots", "영향 로트"),
    "balance": ("Mass balance", "물질수지"),
    "fsma": ("FSMA 204", "FSMA 204"),
}
SUMMARY_LABELS: Final = (
    ("id", "Recall", "회수 ID"),
    ("reason", "Reason", "사유"),
    ("recallClass", "Class", "등급"),
    ("status", "Status", "상태"),
    ("coordinatorFirmId", "Coordinator", "회수 주관 업체"),
    ("declaredAt", "Declared (UTC)", "선언 일시(UTC)"),
    ("closedAt", "Closed (UTC)", "종료 일시(UTC)"),
    ("consignees", "Consignees", "수취 업체 수"),
    ("acknowledged", "Acknowledged", "확인 업체 수"),
    ("quantityAffected", "Quantity affected", "영향 수량"),
    ("quantityAccountedFor", "Quantity accounted for", "처리 확인 수량"),
    ("balanced", "Mass balance closes", "물질수지 일치"),
)
TIMELINE_HEADERS: Final = (
    ("At (UTC)", "일시(UTC)"),
    ("Event", "이벤트"),
    ("Firm", "업체"),
    ("Lot", "로트"),
    ("Site GLN", "사업장 GLN"),
    ("Quantity", "수량"),
    ("Unit", "단위"),
    ("Note", "비고"),
)
EVENTS: Final = {
    "DECLARED": ("Declared", "선언"),
    "ACKNOWLEDGED": ("Acknowledged", "확인"),
    "REMOVED": ("Removed", "회수(보관)"),
    "DESTROYED": ("Destroyed", "폐기"),
    "RETURNED": ("Returned", "반품"),
    "CLOSED": ("Closed", "종료"),
}
CONSIGNEE_HEADERS: Final = (
    ("Firm", "업체"),
    ("Recalled lots", "회수 로트 수"),
    ("Acknowledged (UTC)", "확인 일시(UTC)"),
    ("Note", "비고"),
    ("Site GLN", "사업장 GLN"),
    ("Stock counted", "재고 집계"),
    ("Reported", "처리 보고"),
    ("Stock left", "잔여 재고"),
)
LOT_HEADERS: Final = (
    ("Lot (GS1 LGTIN)", "로트(GS1 LGTIN)"),
    ("Direction", "방향"),
    ("Depth", "깊이"),
    ("Held", "보류"),
    ("Product GTIN", "제품 GTIN"),
    ("Owner", "소유 업체"),
    ("Site GLN", "사업장 GLN"),
    ("Quantity", "수량"),
    ("Unit", "단위"),
    ("Status", "상태"),
)
BALANCE_HEADERS: Final = (
    ("Lot (GS1 LGTIN)", "로트(GS1 LGTIN)"),
    ("Product GTIN", "제품 GTIN"),
    ("Unit", "단위"),
    ("Site GLN", "사업장 GLN"),
    ("Firm", "업체"),
    ("Produced", "생산"),
    ("Received", "입고"),
    ("Used in transformations", "가공 투입"),
    ("Shipped", "출하"),
    ("In stock", "재고"),
    ("Destroyed or returned", "폐기·반품"),
    ("Gap", "차이"),
    ("Flagged", "경고"),
)


def _utc(value: Any) -> datetime | None:
    if value is None:
        return None
    native: datetime = datetime.fromisoformat(value.partition("[")[0]) if isinstance(value, str) else value.to_native()
    return native.astimezone(UTC).replace(tzinfo=None)


def _pick(pair: tuple[str, str], lang: str) -> str:
    return pair[0] if lang == "en" else pair[1]


class _Sheet:
    def __init__(self, book: Workbook, title: str, header: list[str]) -> None:
        self._sheet: WriteOnlyWorksheet = book.create_sheet(title)
        self._sheet.freeze_panes = "A2"
        self._sheet.append(header)

    def append(self, row: list[Any]) -> None:
        out: list[Any] = []
        for value in row:
            if isinstance(value, datetime):
                cell = WriteOnlyCell(self._sheet, value=value.astimezone(UTC).replace(tzinfo=None))
                cell.number_format = "yyyy-mm-dd hh:mm:ss"
                out.append(cell)
            else:
                out.append(safe_cell(value))
        self._sheet.append(out)


def _timeline(recall: Row, acks: list[Row], reports: list[Row]) -> list[tuple[datetime, str, list[Any]]]:
    events: list[tuple[datetime, str, list[Any]]] = []
    declared = _utc(recall["declaredAt"])
    if declared is not None:
        events.append((declared, "DECLARED", [recall["coordinatorFirmId"], None, None, None, None, recall["reason"]]))
    for ack in acks:
        at = _utc(ack["at"])
        if at is not None:
            events.append((at, "ACKNOWLEDGED", [ack["firmId"], None, None, None, None, ack["note"]]))
    for report in reports:
        at = _utc(report["at"])
        if at is not None:
            row = [report["firmId"], report["lotId"], report["siteGln"], report["quantity"], report["uom"]]
            events.append((at, report["disposition"], [*row, report["note"]]))
    closed = _utc(recall.get("closedAt"))
    if closed is not None:
        events.append((closed, "CLOSED", [recall["coordinatorFirmId"], None, None, None, None, None]))
    return sorted(events, key=lambda event: event[0])


async def write_report(
    graph: Graph, decision: Decision, *, recall: Row, lang: str, redactor: Redactor, path: str
) -> Counter[str]:
    """Write the recall's report to ``path``; returns whose records (other firms) it holds."""
    recall_id = recall["id"]
    viewer: Viewer = decision.viewer
    acks = await recall_answers.acknowledgements(graph, viewer, recall_id=recall_id, overseer=decision.overseer)
    reports = await recall_answers.dispositions(graph, recall_id=recall_id)
    consignees = await recall_answers.consignees(graph, recall_id=recall_id)
    effectiveness = await recall_answers.effectiveness(graph, recall_id=recall_id)
    balance = await mass_balance.recall_mass_balance(graph, recall_id=recall_id)
    affected = await recall_impact.recall_affected_lots(
        graph,
        viewer,
        recall_id=recall_id,
        overseer=decision.overseer,
        direction=None,
        offset=0,
        limit=MAX_AFFECTED_ROWS,
    )
    accessed: Counter[str] = Counter(row["firmId"] for row in consignees if row["firmId"] != viewer.firm_id)
    fsma_rows: list[list[Any]] = []
    for lot_id in recall["lotIds"]:
        rows = fsma204.export_rows(graph, viewer, lot_id=lot_id, direction=TraceDirection.DOWNSTREAM, lang=lang)
        async with aclosing(rows):
            async for row in rows:
                if row["owner"] is not None and row["owner"] != viewer.firm_id:
                    accessed[row["owner"]] += 1
                fsma_rows.append(cells(row, lang=lang, redactor=redactor))
    for row in affected:
        if row["lot"] is not None and row["lot"]["ownerFirmId"] != viewer.firm_id:
            accessed[row["lot"]["ownerFirmId"]] += 1

    def build() -> None:
        book = Workbook(write_only=True)
        summary = _Sheet(
            book, _pick(SHEETS["summary"], lang), [_pick(("Item", "항목"), lang), _pick(("Value", "값"), lang)]
        )
        figures: dict[str, Any] = {**recall, **(effectiveness or {})}
        figures["declaredAt"] = _utc(recall["declaredAt"])
        figures["closedAt"] = _utc(recall.get("closedAt"))
        figures["acknowledged"] = len(effectiveness["acknowledgements"]) if effectiveness else 0
        figures["quantityAffected"] = effectiveness["affected"] if effectiveness else None
        figures["quantityAccountedFor"] = sum(float(r["quantity"]) for r in reports)
        figures["balanced"] = not any(site["flagged"] for row in balance for site in row["sites"])
        for key, english, korean in SUMMARY_LABELS:
            summary.append([english if lang == "en" else korean, figures.get(key)])
        timeline = _Sheet(book, _pick(SHEETS["timeline"], lang), [_pick(h, lang) for h in TIMELINE_HEADERS])
        for at, kind, rest in _timeline(recall, acks, reports):
            timeline.append([at, _pick(EVENTS[kind], lang), *rest])
        firms = _Sheet(book, _pick(SHEETS["consignees"], lang), [_pick(h, lang) for h in CONSIGNEE_HEADERS])
        for row in consignees:
            head = [row["firmId"], row["lotCount"], _utc(row["acknowledgedAt"]), row["note"]]
            for site in row["sites"] or [None]:
                tail = (
                    [None] * 4
                    if site is None
                    else [site["siteGln"], site["stockCounted"], site["reported"], site["stockLeft"]]
                )
                firms.append([*head, *tail])
        lots = _Sheet(book, _pick(SHEETS["lots"], lang), [_pick(h, lang) for h in LOT_HEADERS])
        for row in affected:
            lot = row["lot"]
            lot_id = lot["id"] if lot is not None else redactor.opaque("lot", row["hiddenRef"])
            details = (
                [lot["productGtin"], lot["ownerFirmId"], lot["siteGln"], lot["quantity"], lot["uom"], lot["status"]]
                if lot is not None
                else [None] * 6
            )
            lots.append([lot_id, row["direction"], row["depth"], row["held"], *details])
        sheet = _Sheet(book, _pick(SHEETS["balance"], lang), [_pick(h, lang) for h in BALANCE_HEADERS])
        for row in balance:
            for site in row["sites"]:
                sheet.append(
                    [
                        row["lotId"],
                        row["productGtin"],
                        row["uom"],
                        site["siteGln"],
                        site["firmId"],
                        site["produced"],
                        site["received"],
                        site["used"],
                        site["shipped"],
                        site["inStock"],
                        site["disposed"],
                        site["gap"],
                        site["flagged"],
                    ]
                )
        fsma = _Sheet(book, _pick(SHEETS["fsma"], lang), headers(lang))
        for cell_row in fsma_rows:
            fsma.append(cell_row)
        book.save(path)

    await anyio.to_thread.run_sync(build)
    return accessed


def _lang(query: Any) -> str:
    lang = (query.get("lang") or "en").strip().lower()
    if lang not in LANGUAGES:
        raise HubError("lang must be en or ko", field="lang")
    return lang


async def recall_report(request: Request) -> Response:
    """The XLSX report of a recall, for its coordinator's firm and the agency."""
    user = request.scope.get("user")
    if not isinstance(user, PrincipalUser):
        return unauthenticated_response()
    state: HubState = request.app.state.hub
    principal = user.principal
    graph = Graph(state.driver, database=state.settings.neo4j_database)
    path: str | None = None
    try:
        recall_id = (request.query_params.get("recall") or "").strip()
        if not recall_id or len(recall_id) > 100:
            raise HubError("give the recall: recall=<recall id>", field="recall")
        lang = _lang(request.query_params)
        decision = await decide_for_request(graph, principal)
        recall = await recalls.get_recall(graph, decision.viewer, recall_id=recall_id, overseer=decision.overseer)
        if recall is None or not (recall["coordinatorFirmId"] == principal.firm_id or decision.overseer):
            # a consignee may read the recall, but the report (every firm's answers) is the coordinator's
            raise HubError(f"no recall {recall_id!r} coordinated by your firm", field="recall", code=NOT_FOUND)
        handle, path = tempfile.mkstemp(prefix="recall-report-", suffix=".xlsx")
        os.close(handle)
        redactor = Redactor(key=state.redaction_key, firm_id=principal.firm_id)
        accessed = await write_report(graph, decision, recall=recall, lang=lang, redactor=redactor, path=path)
    except BaseException as error:
        if path is not None:
            os.unlink(path)
        if not isinstance(error, HubError):
            raise
        status, title = _STATUS.get(error.code, (400, "Bad request"))
        return problem(status, title, error)
    withheld = await withheld_unless_logged(
        state, principal, operation=f"GET {REPORT_PATH}", accessed=accessed, path=path
    )
    if withheld is not None:
        return withheld
    return FileResponse(
        path,
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        filename=f"{recall_id}.xlsx",
        background=BackgroundTask(os.unlink, path),
    )


def recall_report_routes() -> list[Route]:
    """The recall report endpoint, mounted by the app factory (a bearer token, like /graphql)."""
    return [Route(REPORT_PATH, recall_report, methods=["GET"])]
