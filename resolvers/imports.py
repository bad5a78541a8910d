"""Spreadsheet import as a GraphQL mutation: a CSV or XLSX file of lots, transformations and shipments.

The file travels as a GraphQL multipart upload (the graphql-multipart-request-spec that Strawberry
implements; enabled on /graphql). Authentication is the bearer header, never a cookie, so a browser on
another site cannot forge such an upload.
"""

from __future__ import annotations

from typing import Annotated, Any, Final

import anyio
import strawberry
from strawberry.file_uploads import Upload

from auth.decisions import require_editor
from graph_schema.errors import HubError
from graph_schema.imports import ImportOutcome, import_spreadsheet
from graph_schema.spreadsheet import SpreadsheetFormat, format_of, parse_spreadsheet, time_zone_named
from resolvers.context import Info
from resolvers.notifications import publish_recall_joins_or_leave_them
from resolvers.permissions import AUTHENTICATED

MAX_UPLOAD_BYTES: Final = 20 * 1024 * 1024

strawberry.enum(SpreadsheetFormat, description="CSV (UTF-8 or CP949) or XLSX")


@strawberry.type(description="A problem of an imported file, where to find it: sheet, row and column as shown")
class SpreadsheetError:
    sheet: str | None = strawberry.field(description="XLSX sheet; null for a CSV file")
    row: int | None = strawberry.field(description="Row number as the spreadsheet shows it (the header is row 1)")
    column: str | None = strawberry.field(description="The column as the file's header names it")
    code: str = strawberry.field(description="BAD_USER_INPUT, FORBIDDEN, NOT_FOUND or CONFLICT")
    message: str


@strawberry.type(description="What an import found and did; nothing is written when errors is not empty")
class SpreadsheetImport:
    written: bool
    dry_run: bool
    lots: int = strawberry.field(description="Lot rows read")
    transformations: int = strawberry.field(description="Transformations read (rows grouped by id)")
    shipments: int = strawberry.field(description="Shipments read (rows grouped by id)")
    new_lots: int = strawberry.field(description="Lots new to the graph (a lot imported again is left as it was)")
    errors: list[SpreadsheetError]

    @classmethod
    def from_outcome(cls, outcome: ImportOutcome, *, dry_run: bool) -> SpreadsheetImport:
        return cls(
            written=outcome.written,
            dry_run=dry_run,
            lots=outcome.lots,
            transformations=outcome.transformations,
            shipments=outcome.shipments,
            new_lots=outcome.new_lots,
            errors=[
                SpreadsheetError(sheet=e.sheet, row=e.row, column=e.column, code=e.code, message=e.message)
                for e in outcome.errors
            ],
        )


async def read_upload(file: Any) -> bytes:
    """The uploaded file's bytes, refused past MAX_UPLOAD_BYTES."""
    if not hasattr(file, "read"):  # a JSON value where a multipart file belongs
        raise HubError("send the file as a multipart upload (graphql-multipart-request-spec)", field="file")
    try:
        data = await file.read(MAX_UPLOAD_BYTES + 1)
    finally:
        await file.close()  # its spooled temporary file; nothing else closes it
    if not isinstance(data, bytes):
        raise HubError("the upload is not a file", field="file")
    if len(data) > MAX_UPLOAD_BYTES:
        raise HubError(f"the file is larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MiB; split it", field="file")
    return data


@strawberry.type
class ImportMutation:
    @strawberry.mutation(
        permission_classes=AUTHENTICATED,
        description="Import lots, transformations and shipments of your firm from a CSV or XLSX file (column set in "
        "the README): every row is checked like recordLots, recordTransformation and recordShipment, and either "
        "all are written in one transaction or none, with every problem listed by row and column",
    )
    async def import_spreadsheet(
        self,
        info: Info,
        file: Upload,
        format: Annotated[
            SpreadsheetFormat | None, strawberry.argument(description="Taken from the file name's extension if null")
        ] = None,
        time_zone: Annotated[
            str | None, strawberry.argument(description="IANA zone (e.g. Asia/Seoul) for times without a UTC offset")
        ] = None,
        dry_run: Annotated[bool, strawberry.argument(description="Check everything, write nothing")] = False,
    ) -> SpreadsheetImport:
        principal, _ = info.context.require_principal()
        require_editor(principal, firm_id=principal.firm_id, what="import spreadsheets")
        data = await read_upload(file)
        kind = format_of(getattr(file, "filename", None), format)
        zone = time_zone_named(time_zone)
        parsed = await anyio.to_thread.run_sync(
            lambda: parse_spreadsheet(data, format=kind, firm_id=principal.firm_id, time_zone=zone)
        )
        outcome = await import_spreadsheet(info.context.graph, parsed, firm_id=principal.firm_id, dry_run=dry_run)
        if not dry_run:  # lots it made from held lots joined their open recall: their holders are told now
            await publish_recall_joins_or_leave_them(info.context.graph, info.context.sql_engine)
        return SpreadsheetImport.from_outcome(outcome, dry_run=dry_run)
