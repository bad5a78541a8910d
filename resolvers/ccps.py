"""CCP operations: a plant registers its critical control points; members read them under the CCP scope."""

from __future__ import annotations

import strawberry

from auth.decisions import require_editor
from graph_schema.errors import NotFound
from graph_schema.haccp import ccps
from graph_schema.haccp.readings import month_range
from graph_schema.identifiers import validate_gln
from graph_schema.records import CcpRecord, parse_record
from resolvers.context import Info
from resolvers.permissions import AUTHENTICATED
from resolvers.types.ccp import Ccp
from resolvers.types.connection import Connection, build_connection, check_page_size, decode_cursor


@strawberry.input(description="A critical control point at one of your plants; registering its code again updates it")
class CcpInput:
    site_gln: str
    code: str = strawberry.field(description="e.g. CCP-1B (heating) or CCP-2P (metal detection)")
    name: str
    hazard: str | None = None
    limit_low: float | None = None
    limit_high: float | None = None
    unit: str = strawberry.field(description="The unit every reading must carry, e.g. °C, ppm, mm")
    monitoring_interval_seconds: int | None = None
    devices: list[str] | None = strawberry.field(default=None, description="The device ids that report it")
    product_gtins: list[str] | None = strawberry.field(
        default=None, description="The products of the line it guards; none: every product made at the site"
    )


def _noted(info: Info, row: dict[str, object]) -> Ccp:
    info.context.note_access([str(row["firmId"])])
    return Ccp.from_record(row)


@strawberry.type
class CcpQuery:
    @strawberry.field(
        permission_classes=AUTHENTICATED,
        description="The CCPs you may see: your plants', those of firms sharing CCP with you, every one for the agency",
    )
    async def ccps(
        self, info: Info, site_gln: str | None = None, first: int = 20, after: str | None = None
    ) -> Connection[Ccp]:
        check_page_size(first, info.context.max_page_size)
        _, viewer = info.context.require_principal()
        graph = info.context.graph
        gln = validate_gln(site_gln, field="siteGln") if site_gln is not None else None
        rows = await ccps.list_ccps(graph, viewer, site_gln=gln, after=decode_cursor("ccp", after), limit=first + 1)
        return build_connection(
            [_noted(info, row) for row in rows[: first + 1]],
            kind="ccp",
            key=lambda ccp: str(ccp.id),
            first=first,
            after=after,
            count=lambda: ccps.count_ccps(graph, viewer, site_gln=gln),
        )

    @strawberry.field(
        permission_classes=AUTHENTICATED,
        description="The link (relative URL, GET with your bearer token) to a plant's monthly HACCP record as XLSX: "
        "per CCP and day (KST) the readings' count, min, max, mean, out-of-limit count and compliance, and the day "
        "seals' digests; of the CCPs whose records you may see (DETAIL)",
    )
    async def haccp_monthly_record(self, info: Info, site_gln: str, month: str) -> str:
        _, viewer = info.context.require_principal()
        gln = validate_gln(site_gln, field="siteGln")
        start, _ = month_range(month)
        rows = await ccps.list_ccps(info.context.graph, viewer, site_gln=gln, after=None, limit=1000)
        if not any(row["detail"] for row in rows):
            raise NotFound(f"no CCP of site {gln} whose records you may see", field="siteGln")
        return f"/haccp/records/{gln}?month={start:%Y-%m}"

    @strawberry.field(permission_classes=AUTHENTICATED, description="One CCP, when you may see it")
    async def ccp(self, info: Info, id: strawberry.ID) -> Ccp | None:
        _, viewer = info.context.require_principal()
        [row] = await ccps.ccps_by_id(info.context.graph, viewer, [str(id)])
        return _noted(info, row) if row is not None else None


@strawberry.type
class CcpMutation:
    @strawberry.mutation(
        permission_classes=AUTHENTICATED,
        description="Register (or update) a critical control point at one of your plants (admin or editor)",
    )
    async def register_ccp(self, info: Info, input: CcpInput) -> Ccp:
        principal, _ = info.context.require_principal()
        require_editor(principal, firm_id=principal.firm_id, what="register CCPs")
        site_gln = validate_gln(input.site_gln, field="siteGln")
        record = parse_record(
            CcpRecord,
            {
                "id": ccps.ccp_id(site_gln, input.code.strip()),
                "siteGln": site_gln,
                "firmId": principal.firm_id,
                "code": input.code,
                "name": input.name,
                "hazard": input.hazard,
                "limitLow": input.limit_low,
                "limitHigh": input.limit_high,
                "unit": input.unit,
                "monitoringIntervalSeconds": input.monitoring_interval_seconds,
                "devices": input.devices or [],
                "productGtins": input.product_gtins or [],
            },
            path="input",
        )
        row = await ccps.register_ccp(info.context.graph, record, firm_id=principal.firm_id)
        return Ccp.from_record({**row, "detail": True})
