"""The GraphQL schema: Query and Mutation roots, error codes and the query depth limit."""

from __future__ import annotations

import strawberry
from strawberry.extensions import QueryDepthLimiter

from resolvers.errors import ErrorCodes
from resolvers.mutation import Mutation
from resolvers.query import Query


def build_schema(*, max_query_depth: int = 12) -> strawberry.Schema:
    """The hub's schema; the depth limit keeps one request from walking the whole graph field by field."""
    return strawberry.Schema(
        query=Query,
        mutation=Mutation,
        extensions=[ErrorCodes, lambda: QueryDepthLimiter(max_depth=max_query_depth)],
    )
