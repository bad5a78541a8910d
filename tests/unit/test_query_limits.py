"""Each GraphQL document limit refuses a hostile document before it runs, with QUERY_TOO_COMPLEX naming the
setting; an honest document of the same shape is still taken (refused later only for want of a caller)."""

from __future__ import annotations

from functools import cache
from typing import Any

import pytest
from graphql import GraphQLError, GraphQLSchema, parse

from resolvers import caching
from resolvers.limits import DocumentLimits, query_cost
from resolvers.schema import build_schema

TRACE = (
    '{ trace(lotId: "x", direction: DOWNSTREAM) { lots { id depth lot { lotNumber product { name } } }'
    " shipments { id lotId } summary { lotCount } } }"
)


def aliased_firms(count: int) -> str:
    """The issue's probe: many aliased pages of firms in one request."""
    return "{ " + " ".join(f"f{i}: firms(first: 100) {{ edges {{ node {{ id name }} }} }}" for i in range(count)) + " }"


def refusal(result: Any) -> dict[str, Any]:
    assert result.data is None
    assert result.errors is not None
    assert len(result.errors) == 1
    return dict(result.errors[0].extensions or {}) | {"message": result.errors[0].message}


def codes(result: Any) -> list[str]:
    return [str((error.extensions or {}).get("code")) for error in result.errors or []]


async def test_the_alias_probe_is_refused_on_its_tokens_by_default() -> None:
    refused = refusal(await build_schema().execute(aliased_firms(10_000)))
    assert refused["code"] == "QUERY_TOO_COMPLEX"
    assert refused["setting"] == "HUB_MAX_TOKENS"
    assert "more than 4000 tokens" in refused["message"]


async def test_aliases_past_the_limit_are_refused() -> None:
    schema = build_schema(limits=DocumentLimits(tokens=1_000_000, aliases=50, cost=10**9))
    refused = refusal(await schema.execute(aliased_firms(2_000)))
    assert refused["code"] == "QUERY_TOO_COMPLEX"
    assert refused["setting"] == "HUB_MAX_ALIASES"
    assert refused["message"].startswith("2000 aliases found. Allowed: 50")
    # 50 aliases are taken: refused only when they run, for want of a signed-in caller
    assert "QUERY_TOO_COMPLEX" not in codes(await schema.execute(aliased_firms(50)))


async def test_a_field_repeated_in_one_selection_is_refused() -> None:
    schema = build_schema(limits=DocumentLimits(tokens=1_000_000))
    refused = refusal(await schema.execute("{ me { " + "firmId " * 10_000 + "} }"))
    assert refused["setting"] == "HUB_MAX_FIELD_DUPLICATES"
    assert "'firmId' is selected more than 10 times" in refused["message"]
    spreads = "query { me { ...F " + "...F " * 20 + "} } fragment F on Me { firmId }"
    assert refusal(await schema.execute(spreads))["setting"] == "HUB_MAX_FIELD_DUPLICATES"
    assert "QUERY_TOO_COMPLEX" not in codes(await schema.execute("{ me { firmId roles } }"))


async def test_directives_past_the_limit_are_refused() -> None:
    schema = build_schema(limits=DocumentLimits(tokens=1_000_000))
    refused = refusal(await schema.execute("{ __typename " + "@include(if: true) " * 51 + "}"))
    assert refused["setting"] == "HUB_MAX_DIRECTIVES"
    assert refused["limit"] == 50
    ok = await schema.execute("{ __typename @include(if: true) }")
    assert ok.errors is None
    assert ok.data == {"__typename": "Query"}


async def test_depth_past_the_limit_is_refused() -> None:
    deep = "{ firms { edges { node { sites { firm { sites { firm { name } } } } } } } }"
    refused = refusal(await build_schema(max_query_depth=5).execute(deep))
    assert refused["setting"] == "HUB_MAX_QUERY_DEPTH"
    assert "exceeds maximum operation depth of 5" in refused["message"]


@cache
def graphql_schema() -> GraphQLSchema:
    return build_schema()._schema


def cost(text: str, variables: dict[str, Any] | None = None) -> int:
    return query_cost(graphql_schema(), parse(text), operation_name=None, variables=variables, default_list_size=10)


def test_the_cost_counts_pages_depths_and_nesting() -> None:
    # firms: 1 + 100 pages x (edges 1 + node (1 + id 1 + name 1))
    assert cost("{ firms(first: 100) { edges { node { id name } } } }") == 401
    assert cost("{ firms { edges { node { id name } } } }") == 81  # first's default, 20
    assert cost("query($n: Int!) { lots(first: $n) { edges { node { id } } } }", {"n": 5}) == 1 + 5 * 3
    # a list without a size counts 10: sites of a firm, 10 x (1 + name)
    assert cost('{ firm(id: "f") { sites { name } } }') == 1 + (1 + 10 * 1)
    # trace: maxDepth (default 25) x its lists of 10
    assert cost(TRACE) == 1 + 25 * ((1 + 10 * (1 + 1 + (1 + 1 + (1 + 1)))) + (1 + 10 * 2) + (1 + 1))
    assert cost(TRACE.replace("DOWNSTREAM", "DOWNSTREAM, maxDepth: 2")) == 1 + 2 * (61 + 21 + 2)
    # a fragment costs what it selects, wherever it is spread
    fragments = (
        "{ a: firms(first: 2) { ...P } b: firms(first: 3) { ...P } } fragment P on FirmConnection { totalCount }"
    )
    assert cost(fragments) == (1 + 2 * 1) + (1 + 3 * 1)


async def test_a_dear_query_is_refused_with_its_cost_and_the_limit() -> None:
    schema = build_schema()
    # 1 + 100 x (edges, node, id, name: 4 + sites 1 + 10) = 1,501
    page = "firms(first: 100) { edges { node { id name sites { name } } } }"
    refused = refusal(await schema.execute("{ " + " ".join(f"f{i}: {page}" for i in range(20)) + " }"))
    assert refused["code"] == "QUERY_TOO_COMPLEX"
    assert refused["setting"] == "HUB_MAX_QUERY_COST"
    assert (refused["cost"], refused["limit"]) == (20 * 1_501, 25_000)
    assert "the query's cost is 30020, above the limit of 25000 (HUB_MAX_QUERY_COST)" in refused["message"]
    honest = await schema.execute("{ " + " ".join(f"f{i}: {page}" for i in range(16)) + " }")  # 24,016
    assert "QUERY_TOO_COMPLEX" not in codes(honest)


async def test_the_cost_follows_the_variables_of_a_cached_text(monkeypatch: pytest.MonkeyPatch) -> None:
    validated: list[str] = []
    real = caching.validate_document  # type: ignore[attr-defined]  # the name the module looks up

    def counting(schema: Any, document: Any, rules: Any) -> list[GraphQLError]:
        validated.append("once")
        return real(schema, document, rules)

    monkeypatch.setattr(caching, "validate_document", counting)
    schema = build_schema()
    text = "query PageOfLots($n: Int!) { lots(first: $n) { edges { node { id lotNumber } } } }"
    refused = refusal(await schema.execute(text, variable_values={"n": 100_000}))
    assert (refused["cost"], refused["limit"]) == (1 + 100_000 * 4, 25_000)
    honest = await schema.execute(text, variable_values={"n": 5})
    assert "QUERY_TOO_COMPLEX" not in codes(honest)
    assert refusal(await schema.execute(text, variable_values={"n": 100_000}))["cost"] == 400_001
    assert validated == ["once"]  # graphql-core's rules ran once for the three requests


def test_caches_keep_the_most_recently_used_texts() -> None:
    parsed = caching.ParsedDocuments(3)
    for index in range(10):
        parsed.put(str(index), parse("{ __typename }"))
    assert len(parsed) == 3
    assert parsed.get("0") is None
    assert parsed.get("9") is not None
    huge = "{ __typename }" + " " * caching.MAX_CACHED_QUERY_CHARS
    parsed.put(huge, parse("{ __typename }"))
    assert parsed.get(huge) is None  # never kept: the cache's memory stays bounded


async def test_fragments_spread_into_each_other_are_refused_before_they_expand() -> None:
    """20 fragments, each spreading the next into 4 fields: 4^20 fields once expanded, from 1,000 characters."""
    fragments = " ".join(
        f"fragment F{level} on Firm {{ "
        + " ".join(f"{alias}: sites {{ firm {{ ...F{level + 1} }} }}" for alias in "abcd")
        + " }"
        for level in range(20)
    )
    text = '{ firm(id: "f") { ...F0 } } ' + fragments + " fragment F20 on Firm { id }"
    refused = refusal(await build_schema(limits=DocumentLimits(tokens=100_000, aliases=1_000)).execute(text))
    assert refused["setting"] == "HUB_MAX_QUERY_COST"
    assert refused["cost"] > 4**20
    assert "expands to" in refused["message"]
