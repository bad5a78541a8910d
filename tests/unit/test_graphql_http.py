"""GraphQL over HTTP: the answer's media type from the client's Accept header, and what a request error is."""

from __future__ import annotations

import pytest
from graphql import GraphQLError

from hub.graphql_http import GRAPHQL_RESPONSE_JSON, JSON, is_request_error, response_media_type


@pytest.mark.parametrize(
    ("accept", "media_type"),
    [
        (None, JSON),
        ("", JSON),
        ("*/*", JSON),
        ("application/json", JSON),
        (GRAPHQL_RESPONSE_JSON, GRAPHQL_RESPONSE_JSON),
        (f"{GRAPHQL_RESPONSE_JSON}, application/json;q=0.9", GRAPHQL_RESPONSE_JSON),
        (f"application/json, {GRAPHQL_RESPONSE_JSON}", JSON),  # equal quality: the first listed
        (f"application/json;q=0.5, {GRAPHQL_RESPONSE_JSON}", GRAPHQL_RESPONSE_JSON),
        (f"{GRAPHQL_RESPONSE_JSON};q=0, application/json", JSON),
        ("text/html, application/xhtml+xml", JSON),  # nothing the hub speaks: JSON, as the spec allows
        ("APPLICATION/GRAPHQL-RESPONSE+JSON; charset=utf-8", GRAPHQL_RESPONSE_JSON),
        (f"{GRAPHQL_RESPONSE_JSON};q=nonsense, application/json", JSON),
    ],
)
def test_the_media_type_follows_the_accept_header(accept: str | None, media_type: str) -> None:
    assert response_media_type(accept) == media_type


def test_a_request_error_has_no_data_and_no_field_path() -> None:
    parse_error = GraphQLError("Syntax Error")
    field_error = GraphQLError("not found", path=["lot"])
    assert is_request_error(None, [parse_error])
    assert not is_request_error(None, [field_error])  # a non-null root field failed: data is null, not absent
    assert not is_request_error({"me": None}, [field_error])
    assert not is_request_error(None, None)
