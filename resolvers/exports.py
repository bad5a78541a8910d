"""The FSMA 204 export as a GraphQL field: the link to ``GET /exports/fsma204`` for a lot the caller may see."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Final
from urllib.parse import urlencode

import strawberry

from graph_schema import fsma204
from graph_schema.identifiers import parse_lgtin
from resolvers.context import Info
from resolvers.permissions import AUTHENTICATED
from resolvers.types.values import TraceDirection

EXPORT_PATH: Final = "/exports/fsma204"


@strawberry.enum(description="File format of an export")
class ExportFormat(StrEnum):
    CSV = "csv"
    XLSX = "xlsx"


@strawberry.enum(description="Language of an export's headers and labels")
class ExportLanguage(StrEnum):
    EN = "en"
    KO = "ko"


def export_link(
    *, lot_id: str, direction: TraceDirection, format: str = "csv", lang: str = "en", sort: str | None = None
) -> str:
    """The relative URL of an FSMA 204 export; send it with the same bearer token."""
    params = {"lot": lot_id, "direction": direction.value.lower(), "format": format}
    if lang != "en":
        params["lang"] = lang
    if sort:
        params["sort"] = sort
    return f"{EXPORT_PATH}?{urlencode(params)}"


@strawberry.type
class ExportQuery:
    @strawberry.field(
        permission_classes=AUTHENTICATED,
        description="Link (relative URL) to the FSMA 204 sortable spreadsheet of a trace: one row per critical "
        "tracking event with its key data elements, redacted as the trace is; GET it with your bearer token",
    )
    async def fsma204_export(
        self,
        info: Info,
        lot_id: strawberry.ID,
        direction: TraceDirection,
        format: ExportFormat = ExportFormat.CSV,
        lang: ExportLanguage = ExportLanguage.EN,
        sort: Annotated[
            str | None,
            strawberry.argument(description="event_date (default), tlc, cte, location or depth; '-' for descending"),
        ] = None,
    ) -> str:
        _, viewer = info.context.require_principal()
        lot = parse_lgtin(str(lot_id), field="lotId").uri
        if sort is not None:
            fsma204.parse_sort(sort)
        # a link to a lot the caller cannot export would only fail later: same answer as the export's 404
        await fsma204.require_visible_lot(info.context.graph, viewer, lot, field="lotId")
        return export_link(lot_id=lot, direction=direction, format=format.value, lang=lang.value, sort=sort)
