"""``GET /imports/template?lang=en|ko&format=xlsx|csv``: the spreadsheet import's template for the caller's firm.

Who may import may download it (the firm's admin or editor, as ``importSpreadsheet`` decides); the XLSX lists
the caller's own sites only (``graph_schema.spreadsheet_template``). Errors are ``application/problem+json``
naming the parameter.
"""

from __future__ import annotations

from typing import Final

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from auth.backend import PrincipalUser
from auth.decisions import require_editor
from graph_schema import parties
from graph_schema.db import Graph
from graph_schema.errors import FORBIDDEN, HubError
from graph_schema.spreadsheet_template import TemplateLanguage, TemplateSite, csv_template, xlsx_template
from hub.exports import _STATUS, problem
from hub.graphql_app import unauthenticated_response
from hub.state import HubState

PATH: Final = "/imports/template"
XLSX: Final = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FILE_NAMES: Final = {TemplateLanguage.EN: "import-template", TemplateLanguage.KO: "import-template-ko"}


def _choice(request: Request, name: str, allowed: tuple[str, ...], default: str) -> str:
    value = request.query_params.get(name, default).lower()
    if value not in allowed:
        raise HubError(f"{name} must be one of {', '.join(allowed)}", field=name)
    return value


async def import_template(request: Request) -> Response:
    """The import template in the language and format asked for."""
    user = request.scope.get("user")
    if not isinstance(user, PrincipalUser):
        return unauthenticated_response()
    principal = user.principal
    state: HubState = request.app.state.hub
    try:
        lang = TemplateLanguage(_choice(request, "lang", ("en", "ko"), "en"))
        kind = _choice(request, "format", ("xlsx", "csv"), "xlsx")
        require_editor(principal, firm_id=principal.firm_id, what="import spreadsheets")
    except HubError as error:
        status, title = (403, "Forbidden") if error.code == FORBIDDEN else _STATUS.get(error.code, (400, "Bad request"))
        return problem(status, title, error)
    name = FILE_NAMES[lang]
    if kind == "csv":
        return Response(
            csv_template(lang),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
        )
    graph = Graph(state.driver, database=state.settings.neo4j_database)
    [own] = await parties.sites_of_firms(graph, [principal.firm_id])
    sites = [TemplateSite(gln=s["gln"], name=s["name"], kind=s["kind"]) for s in own]
    return Response(
        xlsx_template(lang, sites),
        media_type=XLSX,
        headers={"Content-Disposition": f'attachment; filename="{name}.xlsx"'},
    )


def import_template_routes() -> list[Route]:
    """The template's route."""
    return [Route(PATH, import_template, methods=["GET"])]
