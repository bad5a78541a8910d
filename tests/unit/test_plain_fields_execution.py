"""The plain-fields fast path answers exactly what graphql-core answers, and takes over only plain lists."""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any, ClassVar

import pytest
import strawberry
from graphql import GraphQLObjectType
from graphql.execution.collect_fields import FieldDetails
from graphql.pyutils import AwaitableOrValue, Path
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from resolvers.execution import PlainFieldsExecutionContext


@strawberry.enum
class Colour(enum.Enum):
    RED = "red"
    GREEN = "green"


@strawberry.type
class Inner:
    code: str
    amount: float | None
    at: datetime | None


@strawberry.type
class Item:
    id: strawberry.ID
    rank: int
    colour: Colour | None
    inner: Inner | None
    must: str  # non-null: a None here is an error graphql-core reports
    _secret: strawberry.Private[str]

    @strawberry.field
    def shout(self) -> str:
        return self.must.upper()


def _items() -> list[Item]:
    at = datetime(2026, 11, 1, 8, 30, tzinfo=UTC)
    return [
        Item(
            id=strawberry.ID(f"i{n}"),
            rank=n,
            colour=Colour.RED if n % 2 else None,
            inner=Inner(code=f"c{n}", amount=n / 4, at=at) if n % 3 else None,
            must=f"m{n}",
            _secret="hidden",
        )
        for n in range(6)
    ]


@strawberry.type
class Query:
    @strawberry.field
    def items(self) -> list[Item]:
        return _items()

    @strawberry.field
    def maybe_items(self) -> list[Item | None]:
        return [*_items()[:2], None]

    @strawberry.field
    def strict_items(self) -> list[Item]:
        items = _items()
        items[1].must = None  # type: ignore[assignment]  # what a bad record would do
        return items


class CountingFast(PlainFieldsExecutionContext):
    """Counts the fields graphql-core executes one by one."""

    executed: ClassVar[list[str]] = []

    def execute_field(
        self,
        parent_type: GraphQLObjectType,
        source: Any,
        field_details_list: list[FieldDetails],
        path: Path,
        position_context: Any,
    ) -> AwaitableOrValue[Any]:
        CountingFast.executed.append(f"{parent_type.name}.{field_details_list[0].node.name.value}")
        return super().execute_field(parent_type, source, field_details_list, path, position_context)


FAST = strawberry.Schema(query=Query, execution_context_class=CountingFast)
REFERENCE = strawberry.Schema(query=Query, execution_context_class=StrawberryGraphQLCoreExecutionContext)


def both(query: str, variables: dict[str, Any] | None = None) -> tuple[Any, Any]:
    CountingFast.executed.clear()
    fast = FAST.execute_sync(query, variable_values=variables)
    reference = REFERENCE.execute_sync(query, variable_values=variables)
    return fast, reference


def test_plain_list_is_completed_in_one_loop_with_the_same_answer() -> None:
    fast, reference = both("""{ items { id rank colour inner { code amount at } must } }""")
    assert fast.errors is None
    assert fast.data == reference.data
    assert fast.data["items"][1] == {
        "id": "i1",
        "rank": 1,
        "colour": "RED",
        "inner": {"code": "c1", "amount": 0.25, "at": "2026-11-01T08:30:00+00:00"},
        "must": "m1",
    }
    assert fast.data["items"][0]["inner"] is None
    assert fast.data["items"][0]["colour"] is None
    # only the root field went through graphql-core's per-field execution
    assert CountingFast.executed == ["Query.items"]


def test_aliases_typename_fragments_and_skip_include() -> None:
    query = """query($yes: Boolean!, $no: Boolean!) {
      items {
        __typename
        key: id
        ...Parts
        ... on Item { again: rank }
        colour @include(if: $yes)
        must @skip(if: $yes)
        inner @include(if: $no) { code }
        inner { __typename c: code code }
      }
    }
    fragment Parts on Item { rank id }"""
    fast, reference = both(query, {"yes": True, "no": False})
    assert fast.errors is None
    assert fast.data == reference.data
    assert list(fast.data["items"][2]) == ["__typename", "key", "rank", "id", "again", "colour", "inner"]
    assert fast.data["items"][2]["inner"] == {"__typename": "Inner", "c": "c2", "code": "c2"}
    assert CountingFast.executed == ["Query.items"]


def test_a_resolver_field_leaves_the_list_to_graphql_core() -> None:
    fast, reference = both("{ items { id shout } }")
    assert fast.errors is None
    assert fast.data == reference.data
    assert fast.data["items"][3] == {"id": "i3", "shout": "M3"}
    assert "Item.shout" in CountingFast.executed


def test_null_items_of_a_nullable_list() -> None:
    fast, reference = both("{ maybeItems { id } }")
    assert fast.data == reference.data == {"maybeItems": [{"id": "i0"}, {"id": "i1"}, None]}


def test_a_null_in_a_non_null_field_is_the_same_error() -> None:
    fast, reference = both("{ strictItems { id must } }")
    assert fast.data == reference.data
    assert fast.data is None
    assert [(e.message, e.path) for e in fast.errors or []] == [(e.message, e.path) for e in reference.errors or []]
    assert fast.errors
    assert fast.errors[0].path == ["strictItems", 1, "must"]


@pytest.mark.parametrize("field", ["id", "inner { code }"])
def test_the_schema_is_the_same(field: str) -> None:
    # the fast path changes execution only: introspection and validation are graphql-core's
    fast, reference = both(f"{{ items {{ {field} }} __schema {{ queryType {{ name }} }} }}")
    assert fast.data == reference.data
