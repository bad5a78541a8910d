"""GraphQL over HTTP (https://graphql.github.io/graphql-over-http/draft/): which media type an answer has,
and which status code.

``application/graphql-response+json``, when the client asks for it, has the spec's status codes: a request
error (the document did not parse, did not validate, was refused by a limit, or its variables did not
coerce: nothing ran, so the answer has no ``data`` entry) is 400, an answer with ``data`` is 200.
``application/json``, for clients that ask for it, send no Accept header or accept anything (partner apps
written before the spec), keeps the answers it always had: 200 with ``data`` and ``errors``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from graphql import GraphQLError

GRAPHQL_RESPONSE_JSON: Final = "application/graphql-response+json"
JSON: Final = "application/json"
_ACCEPTED: Final = {
    GRAPHQL_RESPONSE_JSON: GRAPHQL_RESPONSE_JSON,
    JSON: JSON,
    "application/*": JSON,
    "*/*": JSON,
}
BAD_REQUEST: Final = "BAD_REQUEST"


def response_media_type(accept: str | None) -> str:
    """The media type of the answer: the client's most preferred of the two the hub speaks (JSON by default)."""
    if not accept:
        return JSON
    ranked: list[tuple[float, int, str]] = []
    for position, item in enumerate(accept.split(",")):
        media_type, *parameters = (part.strip() for part in item.split(";"))
        quality = 1.0
        for parameter in parameters:
            name, _, value = parameter.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        chosen = _ACCEPTED.get(media_type.lower())
        if chosen is not None and quality > 0:
            ranked.append((-quality, position, chosen))
    return min(ranked)[2] if ranked else JSON


def is_request_error(data: Any, errors: Sequence[GraphQLError] | None) -> bool:
    """Nothing ran: no data, and no error at a field's path (field errors carry one; request errors do not)."""
    return data is None and bool(errors) and all(error.path is None for error in errors or ())


def request_error_body(message: str, code: str = BAD_REQUEST) -> Mapping[str, object]:
    """A GraphQL response holding one request error, for a request that could not be read as GraphQL."""
    return {"errors": [{"message": message, "extensions": {"code": code}}]}
