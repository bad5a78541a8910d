"""``GET /exports/access-log``: the access log of the caller's firm as CSV (admins and auditors), with the
GraphQL field's filters (``since`` inclusive, ``until`` exclusive, ISO 8601 with an offset; ``accessorFirmId``;
``operation``). Text cells are written formula-safe (graph_schema.spreadsheet_safety.safe_cell): a reader's
subject or an operation name starting with ``=``, ``+``, ``-`` or ``@`` reaches a spreadsheet as text."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from typing import Final

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from auth.audit import read_access_log
from auth.backend import PrincipalUser
from auth.principal import Role
from graph_schema.errors import FORBIDDEN, HubError
from graph_schema.spreadsheet_safety import safe_cell
from hub.exports import _STATUS, problem
from hub.graphql_app import unauthenticated_response
from hub.state import HubState
from resolvers.access_log import ACCESS_LOG_EXPORT_PATH, access_log_filter

MAX_ROWS: Final = 100_000
PAGE: Final = 5_000
HEADER: Final = ["id", "at_utc", "accessor_firm_id", "accessor_subject", "operation", "record_count"]


def _time(query: Request, name: str) -> datetime | None:
    text = query.query_params.get(name)
    if not text:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise HubError(f"{name} must be an ISO 8601 date-time with an offset", field=name) from None


async def access_log_csv(request: Request) -> Response:
    """The caller's firm's access log as CSV, newest first (at most 100,000 entries)."""
    user = request.scope.get("user")
    if not isinstance(user, PrincipalUser):
        return unauthenticated_response()
    state: HubState = request.app.state.hub
    principal = user.principal
    try:
        if not principal.roles & {Role.ADMIN, Role.AUDITOR}:
            raise HubError("reading the access log needs the admin or auditor role", code=FORBIDDEN)
        where = access_log_filter(
            since=_time(request, "since"),
            until=_time(request, "until"),
            accessor_firm_id=request.query_params.get("accessorFirmId") or None,
            operation=request.query_params.get("operation") or None,
        )
    except HubError as error:
        forbidden = error.code == FORBIDDEN
        status, title = (403, "Forbidden") if forbidden else _STATUS.get(error.code, (400, "Bad request"))
        return problem(status, title, error)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(HEADER)
    before: int | None = None
    written = 0
    while written < MAX_ROWS:
        rows = await read_access_log(
            state.sql_engine, owner_firm_id=principal.firm_id, before_id=before, limit=PAGE, where=where
        )
        for row in rows:
            at = row.at if row.at.tzinfo else row.at.replace(tzinfo=UTC)
            writer.writerow(
                [
                    row.id,
                    at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                    safe_cell(row.accessor_firm_id),
                    safe_cell(row.accessor_subject),
                    safe_cell(row.operation),
                    row.record_count,
                ]
            )
        written += len(rows)
        if len(rows) < PAGE:
            break
        before = rows[-1].id
    return Response(
        "\ufeff" + out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="access-log-{principal.firm_id}.csv"'},
    )


def access_log_routes() -> list[Route]:
    """The access log export, mounted by the app factory (a bearer token, like /graphql)."""
    return [Route(ACCESS_LOG_EXPORT_PATH, access_log_csv, methods=["GET"])]
