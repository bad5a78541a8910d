"""EPCIS master data over REST: a location's vocabulary element, as captured in documents' headers.

``GET /epcis/bizLocations/{id}/masterData`` and ``GET /epcis/readPoints/{id}/masterData`` answer the location's
element (``id``, ``attributes`` as captured, ``children``) with the CBV attributes the hub read from it. The id is
an SGLN URN or a GS1 Digital Link (URL-encoded). Master data is profile data, like the site it describes: any
member may read it, with a bearer token as everywhere.
"""

from __future__ import annotations

from typing import Any, Final

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from auth.backend import PrincipalUser
from graph_schema.db import Graph, GraphUnavailable
from graph_schema.epcis.epc import parse_identifier
from graph_schema.epcis.master_data_store import LOCATION_FIELDS, locations_by_link, vocabulary_element
from graph_schema.errors import BAD_USER_INPUT, NOT_FOUND, UNAVAILABLE, InvalidIdentifier
from hub.epcis import EPCIS_CONTEXT, EPCIS_HEADERS, problem
from hub.graphql_app import unauthenticated_response
from hub.state import HubState

RESOURCES: Final = ("bizLocations", "readPoints")


async def location_master_data(request: Request) -> Response:
    """The master data of one location (404 when none was captured for it)."""
    if not isinstance(request.scope.get("user"), PrincipalUser):
        return unauthenticated_response()
    given = request.path_params["location"]
    try:
        location = parse_identifier(given, field="id")
    except InvalidIdentifier as error:
        return problem(400, "Bad request", error.message, BAD_USER_INPUT, field="id")
    if location.scheme != "sgln" or location.digital_link is None:
        detail = f"'{given}' is not a location: give an SGLN URN or a GS1 Digital Link with AI 414"
        return problem(400, "Bad request", detail, BAD_USER_INPUT, field="id")
    state: HubState = request.app.state.hub
    try:
        (row,) = await locations_by_link(
            Graph(state.driver, database=state.settings.neo4j_database), [location.digital_link]
        )
    except GraphUnavailable as error:
        return problem(503, "Unavailable", error.message, UNAVAILABLE, store="neo4j")
    if row is None:
        return problem(404, "Not found", f"no master data was captured for {given}", NOT_FOUND)
    body: dict[str, Any] = {"@context": [EPCIS_CONTEXT], **vocabulary_element(row)}
    body["type"] = row.get("vocabularyTypes") or []
    body["site"] = row["siteGln"]
    body["cbvAttributes"] = {name: row[name] for name in LOCATION_FIELDS if row.get(name) is not None}
    if row.get("parents"):
        body["parents"] = row["parents"]
    return JSONResponse(body, media_type="application/ld+json", headers=EPCIS_HEADERS)


def master_data_routes() -> list[Route]:
    """The master data sub-resources of business locations and read points."""
    return [
        Route(f"/epcis/{resource}/{{location:path}}/masterData", location_master_data, methods=["GET"])
        for resource in RESOURCES
    ]
