"""Parsing and validation done once per query text: partner apps send the same few operations all day.

Parsing a trace operation takes about 0.2 ms and validating it 1.7 ms, a tenth of a small trace's whole
request. Parsed documents are immutable and kept by text. Strawberry's own ParserCache raises a syntax error
from inside its hook, where Strawberry no longer turns it into a GraphQL error with a code; here a text that
does not parse is left to Strawberry's own parsing (with the same token limit), which reports it as before
(failures are not cached). Strawberry's ValidationCache keys on the validation rules too, and a limit's rule
made anew for every request would make it miss every time: here a schema builds its limit rules once
(resolvers/limits.py) and keeps its own results by query text, which is enough because one schema always
validates with the same rules. Both caches keep the ``maxsize`` most recently used texts
(HUB_GRAPHQL_CACHE_SIZE), and texts longer than MAX_CACHED_QUERY_CHARS are never kept, so the memory they
hold is bounded whatever clients send.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from contextlib import suppress
from typing import Final, Generic, TypeVar

from graphql import DocumentNode, GraphQLError, parse
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import validate_document

from resolvers.limits import DocumentChecks, cost_refusal, query_cost

# a partner app's operation is a few kilobytes; a longer text is parsed and validated every time it comes
MAX_CACHED_QUERY_CHARS: Final = 64 * 1024

V = TypeVar("V")


class _Recent(Generic[V]):
    """The ``maxsize`` most recently used values by query text."""

    def __init__(self, maxsize: int) -> None:
        self._maxsize = maxsize
        self._values: OrderedDict[str, V] = OrderedDict()

    def __len__(self) -> int:
        return len(self._values)

    def get(self, query: str) -> V | None:
        value = self._values.get(query)
        if value is not None:
            self._values.move_to_end(query)
        return value

    def put(self, query: str, value: V) -> None:
        if len(query) > MAX_CACHED_QUERY_CHARS or self._maxsize == 0:
            return
        self._values[query] = value
        self._values.move_to_end(query)
        while len(self._values) > self._maxsize:
            self._values.popitem(last=False)


class ParsedDocuments(_Recent[DocumentNode]):
    """One schema's parsed documents per query text."""


class ValidationResults(_Recent[list[GraphQLError]]):
    """One schema's validation errors per query text."""

    def __init__(self, maxsize: int = 256) -> None:
        super().__init__(maxsize)


class CachedParsing(SchemaExtension):
    """Parses a query text once per schema, within the token limit; a text that does not parse goes on to
    Strawberry's parsing, with the same limit."""

    def __init__(self, documents: ParsedDocuments, *, max_tokens: int) -> None:
        super().__init__()
        self.documents = documents
        self.max_tokens = max_tokens

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        context.parse_options["max_tokens"] = self.max_tokens
        if context.query is not None and context.graphql_document is None:
            document = self.documents.get(context.query)
            if document is None:
                with suppress(GraphQLError):
                    document = parse(context.query, max_tokens=self.max_tokens)
                    self.documents.put(context.query, document)
            context.graphql_document = document
        yield


class CachedValidation(SchemaExtension):
    """Validates a query text once per schema: first the cheap limits, then graphql-core's rules; later
    requests reuse the outcome (errors included). The cost depends on the variables: computed every time."""

    def __init__(self, results: ValidationResults, *, checks: DocumentChecks) -> None:
        super().__init__()
        self.results = results
        self.checks = checks

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        if context.query is not None and document is not None and context.pre_execution_errors is None:
            schema = context.schema._schema
            errors = self.results.get(context.query)
            if errors is None:
                errors = self.checks.check(schema, document) or validate_document(
                    schema, document, context.validation_rules
                )
                self.results.put(context.query, errors)
            # a list of its own per request: error handling downstream may replace or extend it
            context.pre_execution_errors = list(errors)
            if not errors:
                limits = self.checks.limits
                cost = query_cost(
                    schema,
                    document,
                    operation_name=context.operation_name,
                    variables=context.variables,
                    default_list_size=limits.default_list_size,
                )
                if cost > limits.cost:
                    context.pre_execution_errors = [cost_refusal(cost, limits.cost)]
        yield
