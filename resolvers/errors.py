"""Errors as clients see them: a message a person can act on and a stable ``extensions.code``.

Known errors (HubError) keep their message and code; GraphQL syntax and validation errors become
BAD_USER_INPUT (or QUERY_TOO_COMPLEX past a limit of resolvers/limits.py); anything else is logged and
masked, so no stack trace or internal name reaches a client.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension

from graph_schema.errors import QUERY_TOO_COMPLEX, UNAVAILABLE, HubError
from graph_schema.faults import store_fault

log = logging.getLogger(__name__)

INTERNAL = "INTERNAL_SERVER_ERROR"


def _convert(error: GraphQLError) -> GraphQLError:
    extensions = dict(error.extensions or {})
    original = error.original_error
    if isinstance(original, HubError):
        extensions["code"] = original.code
        if original.field is not None:
            extensions["field"] = original.field
        if (fault := store_fault(original)) is not None:
            extensions["store"] = fault.store
        return GraphQLError(original.message, nodes=error.nodes, path=error.path, extensions=extensions)
    if "code" in extensions:
        return error
    fault = store_fault(original) if original is not None else None
    if fault is not None:  # GraphUnavailable is a HubError, handled above: this is the SQL store
        return GraphQLError(
            fault.message, nodes=error.nodes, path=error.path, extensions={"code": UNAVAILABLE, "store": fault.store}
        )
    if original is None:
        message = error.message
        if "tokens. Parsing aborted" in message:  # graphql-core's max_tokens (resolvers/caching.py)
            extensions.update(code=QUERY_TOO_COMPLEX, setting="HUB_MAX_TOKENS")
            message += " (HUB_MAX_TOKENS): send a shorter document, with values as variables"
        else:
            extensions["code"] = "BAD_USER_INPUT"
        return GraphQLError(
            message,
            nodes=error.nodes,
            source=error.source,
            positions=error.positions,
            path=error.path,
            extensions=extensions,
        )
    return GraphQLError(
        "internal error; it has been logged", nodes=error.nodes, path=error.path, extensions={"code": INTERNAL}
    )


def is_expected(error: GraphQLError) -> bool:
    """Errors the caller caused (bad input, no permission): answered, not logged as faults."""
    original = error.original_error
    return (
        original is None
        or isinstance(original, HubError)
        or "code" in (error.extensions or {})
        or store_fault(original) is not None
    )


# graphql-core's "Did you mean 'lotNumber'?" in validation and coercion messages: it spells out the schema
_SUGGESTION = re.compile(r" Did you mean [^?]*\?")


def _without_suggestion(error: GraphQLError) -> GraphQLError:
    message = _SUGGESTION.sub("", error.message)
    if message == error.message:
        return error
    return GraphQLError(
        message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        extensions=error.extensions,
    )


class ErrorCodes(SchemaExtension):
    """Gives every error of a result its stable code (and masks unexpected ones); in production, without
    graphql-core's field suggestions, which would list the schema to a caller who may not introspect it."""

    def __init__(self, *, suggestions: bool = True) -> None:
        super().__init__()
        self.suggestions = suggestions

    def _convert(self, error: GraphQLError) -> GraphQLError:
        converted = _convert(error)
        return converted if self.suggestions else _without_suggestion(converted)

    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        if result is not None and result.errors:
            result.errors = [self._convert(error) for error in result.errors]
        pre = self.execution_context.pre_execution_errors
        if pre:
            self.execution_context.pre_execution_errors = [self._convert(error) for error in pre]
