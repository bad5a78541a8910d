"""No field of the schema is reachable without a verified principal: every root field is walked and tried."""

from __future__ import annotations

from typing import Any

import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
)

from graph_schema.db import Graph
from resolvers.permissions import IsAuthenticated
from tests.graphql_client import SCHEMA, codes, execute

pytestmark = pytest.mark.neo4j

SAMPLES = {
    "ID": "urn:epc:class:lgtin:8801234.012345.X",
    "String": "x",
    "Int": 1,
    "Float": 1.0,
    "Boolean": True,
    "DateTime": "2030-01-01T00:00:00+00:00",
    "Date": "2030-01-01",
    "Upload": "x",  # refused before the file is read
}


def sample(kind: GraphQLInputType) -> Any:
    """A value of the right shape for an argument, so the request reaches the field's permission check."""
    if isinstance(kind, GraphQLNonNull):
        return sample(kind.of_type)
    if isinstance(kind, GraphQLList):
        return [sample(kind.of_type)]
    if isinstance(kind, GraphQLEnumType):
        return next(iter(kind.values))
    if isinstance(kind, GraphQLInputObjectType):
        return {name: sample(field.type) for name, field in kind.fields.items()}
    assert isinstance(kind, GraphQLScalarType)
    return SAMPLES[kind.name]


def literal(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {literal(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(literal(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str) and value.isupper() and value.isidentifier():
        return value  # an enum value
    return repr(value).replace("'", '"') if isinstance(value, str) else str(value)


def root_fields() -> list[tuple[str, str, str]]:
    schema = SCHEMA._schema
    found = []
    for operation, root in (("query", schema.query_type), ("mutation", schema.mutation_type)):
        assert isinstance(root, GraphQLObjectType)
        for name, field in root.fields.items():
            args = ", ".join(
                f"{arg}: {literal(sample(spec.type))}"
                for arg, spec in field.args.items()
                if isinstance(spec.type, GraphQLNonNull)
            )
            call = f"{name}({args})" if args else name
            kind = field.type.of_type if isinstance(field.type, GraphQLNonNull) else field.type
            selection = (
                ""
                if isinstance(kind, GraphQLScalarType)
                or (isinstance(kind, GraphQLList) and isinstance(kind.of_type, GraphQLScalarType))
                else " { __typename }"
            )
            found.append((operation, name, f"{operation} {{ {call}{selection} }}"))
    return found


def test_every_root_field_carries_the_permission() -> None:
    for type_name in ("Query", "Mutation", "Subscription"):
        definition = SCHEMA.get_type_by_name(type_name)
        assert definition is not None
        for field in definition.fields:  # type: ignore[union-attr]
            assert IsAuthenticated in field.permission_classes, f"{type_name}.{field.name}"


@pytest.mark.parametrize(("operation", "name", "document"), root_fields())
async def test_every_root_field_refuses_an_anonymous_caller(
    graph: Graph, operation: str, name: str, document: str
) -> None:
    result = await execute(graph, document, None)
    assert codes(result) == ["UNAUTHENTICATED"], (document, result.errors)
    assert result.data is None or result.data == {name: None}
    assert result.extensions == {"roundTrips": 0}  # refused before any database query


def test_the_walk_covers_the_contract() -> None:
    names = {name for _, name, _ in root_fields()}
    assert {
        "me",
        "firm",
        "firms",
        "site",
        "product",
        "lot",
        "lots",
        "trace",
        "recall",
        "accessLog",
        "inventory",
        "salesChannels",
        "registerFirm",
        "registerSite",
        "registerProduct",
        "grantSharing",
        "revokeSharing",
        "declareRecall",
        "closeRecall",
    } <= names
