"""A query text is parsed and validated once per schema; the outcome, errors included, stays what it was."""

from __future__ import annotations

from typing import Any

import pytest
from graphql import GraphQLError

from resolvers import caching
from resolvers.caching import ValidationResults
from resolvers.schema import build_schema

DEEP = "{ firms { edges { node { sites { firm { sites { firm { name } } } } } } } }"  # depth 8


@pytest.fixture
def validations(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The query texts validated for real, in order."""
    seen: list[str] = []
    real = caching.validate_document  # type: ignore[attr-defined]  # the name the module looks up

    def counting(schema: Any, document: Any, rules: Any) -> list[GraphQLError]:
        seen.append(document.loc.source.body if document.loc else "?")
        return real(schema, document, rules)

    monkeypatch.setattr(caching, "validate_document", counting)
    return seen


def codes(result: Any) -> list[str]:
    return [str((error.extensions or {}).get("code")) for error in result.errors or []]


async def test_a_valid_query_is_validated_once(validations: list[str]) -> None:
    schema = build_schema()
    for _ in range(3):
        result = await schema.execute("{ __typename }")
        assert result.errors is None
        assert result.data == {"__typename": "Query"}
    assert validations == ["{ __typename }"]


async def test_refusals_are_remembered_alike(validations: list[str]) -> None:
    strict = build_schema(max_query_depth=5)
    first = await strict.execute(DEEP)
    again = await strict.execute(DEEP)
    assert codes(first) == codes(again) == ["QUERY_TOO_COMPLEX"]
    assert first.data is None
    assert again.data is None
    bad = await strict.execute("{ lots { nosuchfield } }")
    assert codes(bad) == ["BAD_USER_INPUT"]
    assert codes(await strict.execute("{ lots { nosuchfield } }")) == ["BAD_USER_INPUT"]
    # a text past a limit never reaches graphql-core's rules (resolvers/limits.py), and is refused from the cache
    assert validations == ["{ lots { nosuchfield } }"]


async def test_each_schema_validates_with_its_own_rules(validations: list[str]) -> None:
    strict, lenient = build_schema(max_query_depth=5), build_schema(max_query_depth=12)
    assert codes(await strict.execute(DEEP)) == ["QUERY_TOO_COMPLEX"]
    # within the lenient limit: refused only later, for want of a signed-in caller
    assert "QUERY_TOO_COMPLEX" not in codes(await lenient.execute(DEEP))
    assert validations == [DEEP]  # the strict schema refused it on its depth alone


def test_least_recently_used_texts_leave_first() -> None:
    results = ValidationResults(maxsize=2)
    results.put("a", [])
    results.put("b", [])
    assert results.get("a") == []  # "a" used last: "b" leaves first
    results.put("c", [])
    assert results.get("b") is None
    assert results.get("a") == []
    assert results.get("c") == []


async def test_a_syntax_error_keeps_its_code_every_time() -> None:
    schema = build_schema()
    for _ in range(2):
        result = await schema.execute("{ lots { ")
        assert codes(result) == ["BAD_USER_INPUT"]
        assert result.data is None


async def test_a_query_text_is_parsed_once(monkeypatch: pytest.MonkeyPatch) -> None:
    parsed: list[str] = []
    real = caching.parse  # type: ignore[attr-defined]  # the name the module looks up

    def counting(text: str, **options: Any) -> Any:
        parsed.append(text)
        return real(text, **options)

    monkeypatch.setattr(caching, "parse", counting)
    schema = build_schema()
    text = "{ __typename parsedOnce: __typename }"  # a text no other test sends: the cache is per process
    for _ in range(3):
        assert (await schema.execute(text)).data == {"__typename": "Query", "parsedOnce": "Query"}
    assert parsed == [text]
