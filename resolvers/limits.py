"""Limits on one GraphQL document, checked before anything runs: a hostile member's query is refused in
milliseconds with QUERY_TOO_COMPLEX instead of holding Neo4j's connections for seconds.

The probe that set these: 2,000 aliased ``firms(first: 100)`` in one request ran for 16 s, and 10,000 of them
drained the driver's pool so that an honest ``lots(first: 5)`` waited 90 s. Tokens are bounded while parsing
(graphql-core's ``max_tokens``); aliases, repeated fields, directives and depth by cheap walks over the parsed
document that run before graphql-core's own validation (whose overlapping-fields rule is quadratic in
repeated fields); the cost, which depends on the variables, after validation.

The cost of a field is 1 plus its multiplier times the cost of what it selects. The multiplier is the page
size (``first``, its schema default when absent), the trace's ``maxDepth``, or ``default_list_size`` for any
other list; a connection's ``edges`` and ``nodes`` are already paid for by its ``first``, which multiplies only
them: its ``totalCount``, ``pageInfo`` and aggregates are read once, whatever the page size. Introspection fields
cost 1 each, without multipliers: their answer is bounded by the schema, not by the graph.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from graphql import (
    DirectiveNode,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationContext,
    ValidationRule,
    VariableNode,
    get_named_type,
    get_nullable_type,
    is_list_type,
    validate,
)
from strawberry.extensions.max_aliases import create_validator as alias_validator
from strawberry.extensions.query_depth_limiter import create_validator as depth_validator

QUERY_TOO_COMPLEX: Final = "QUERY_TOO_COMPLEX"
# fields whose list is paid for by the connection's own page size
_CONNECTION_LISTS: Final = frozenset({"edges", "nodes"})
_SIZE_ARGUMENTS: Final = ("first", "maxDepth")


@dataclass(frozen=True)
class DocumentLimits:
    """What one GraphQL document may ask for; each is a ``HUB_MAX_...`` setting."""

    tokens: int = 4_000
    aliases: int = 50
    field_duplicates: int = 10
    directives: int = 50
    depth: int = 12
    cost: int = 25_000
    default_list_size: int = 10


def too_complex(message: str, *, setting: str, **figures: int) -> GraphQLError:
    """A refusal naming the setting that refused, with its figures."""
    return GraphQLError(message, extensions={"code": QUERY_TOO_COMPLEX, "setting": setting, **figures})


def _duplication_rule(limit: int) -> type[ValidationRule]:
    class FieldDuplication(ValidationRule):
        """The same field (or fragment) many times in one selection set: graphql-core's check that they
        can merge compares every pair of them, so 10,000 copies take seconds before anything is refused."""

        def enter_selection_set(self, node: SelectionSetNode, *_: Any) -> None:
            counts: dict[str, int] = {}
            for selection in node.selections:
                if isinstance(selection, FieldNode):
                    key = (selection.alias or selection.name).value
                elif isinstance(selection, FragmentSpreadNode):
                    key = "..." + selection.name.value
                else:
                    continue
                counts[key] = counts.get(key, 0) + 1
                if counts[key] > limit:
                    self.report_error(
                        too_complex(
                            f"'{key}' is selected more than {limit} times in one selection set;"
                            " select it once (HUB_MAX_FIELD_DUPLICATES)",
                            setting="HUB_MAX_FIELD_DUPLICATES",
                            limit=limit,
                        )
                    )
                    return

    return FieldDuplication


def _directive_rule(limit: int) -> type[ValidationRule]:
    class DirectiveCount(ValidationRule):
        """Directives in the whole document."""

        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            self.count = 0

        def enter_directive(self, node: DirectiveNode, *_: Any) -> None:
            self.count += 1
            if self.count == limit + 1:
                self.report_error(
                    too_complex(
                        f"the document has more than {limit} directives (HUB_MAX_DIRECTIVES)",
                        setting="HUB_MAX_DIRECTIVES",
                        limit=limit,
                    )
                )

    return DirectiveCount


class DocumentChecks:
    """The structural limits, as validation rules made once per schema (so a cached result stays valid)."""

    def __init__(self, limits: DocumentLimits) -> None:
        self.limits = limits
        self._rules: tuple[tuple[type[ValidationRule], str, Callable[[GraphQLError], GraphQLError]], ...] = (
            (alias_validator(limits.aliases), "HUB_MAX_ALIASES", self._aliases),
            (_duplication_rule(limits.field_duplicates), "HUB_MAX_FIELD_DUPLICATES", lambda error: error),
            (_directive_rule(limits.directives), "HUB_MAX_DIRECTIVES", lambda error: error),
            (depth_validator(limits.depth, None), "HUB_MAX_QUERY_DEPTH", self._depth),
        )

    def _aliases(self, error: GraphQLError) -> GraphQLError:
        return too_complex(
            f"{error.message} (HUB_MAX_ALIASES): ask for fewer fields under other names, or page through them",
            setting="HUB_MAX_ALIASES",
            limit=self.limits.aliases,
        )

    def _depth(self, error: GraphQLError) -> GraphQLError:
        return GraphQLError(
            f"{error.message} (HUB_MAX_QUERY_DEPTH)",
            nodes=error.nodes,
            extensions={"code": QUERY_TOO_COMPLEX, "setting": "HUB_MAX_QUERY_DEPTH", "limit": self.limits.depth},
        )

    def check(self, schema: GraphQLSchema, document: DocumentNode) -> list[GraphQLError]:
        """The first limit the document passes, as errors (none when it keeps within every one)."""
        # first, in time linear in the text: fragments spread into each other can make a short document expand
        # into billions of fields, which every rule below (and graphql-core's) would walk one by one
        expanded = expanded_fields(document)
        if expanded > self.limits.cost:
            return [
                too_complex(
                    f"the query expands to {expanded} fields through its fragments, above the limit of"
                    f" {self.limits.cost} (HUB_MAX_QUERY_COST): spread fewer fragments into each other",
                    setting="HUB_MAX_QUERY_COST",
                    cost=expanded,
                    limit=self.limits.cost,
                )
            ]
        for rule, _setting, convert in self._rules:
            errors = validate(schema, document, [rule], max_errors=1)
            if errors:
                return [convert(error) for error in errors[:1]]
        return []


def expanded_fields(document: DocumentNode) -> int:
    """The number of fields once every fragment is spread in place, counted with each fragment's size once."""
    fragments = {
        definition.name.value: definition
        for definition in document.definitions
        if isinstance(definition, FragmentDefinitionNode)
    }
    sizes: dict[str, int] = {}

    def size(selection_set: SelectionSetNode | None) -> int:
        if selection_set is None:
            return 0
        total = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                total += 1 + size(selection.selection_set)
            elif isinstance(selection, InlineFragmentNode):
                total += size(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                if name not in sizes:
                    sizes[name] = 0  # a cycle (refused by validation) counts nothing here
                    definition = fragments.get(name)
                    sizes[name] = size(definition.selection_set) if definition else 0
                total += sizes[name]
        return total

    return sum(
        size(definition.selection_set)
        for definition in document.definitions
        if isinstance(definition, OperationDefinitionNode)
    )


def _size(node: FieldNode, arguments: Mapping[str, Any], name: str, variables: Mapping[str, Any], fallback: int) -> int:
    for argument in node.arguments or ():
        if argument.name.value != name:
            continue
        value = argument.value
        if isinstance(value, IntValueNode):
            return max(int(value.value), 0)
        if isinstance(value, VariableNode):
            given = variables.get(value.name.value)
            return max(given, 0) if isinstance(given, int) and not isinstance(given, bool) else fallback
        return fallback
    default = arguments[name].default_value
    return default if isinstance(default, int) and not isinstance(default, bool) else fallback


class _CostWalk:
    def __init__(
        self, schema: GraphQLSchema, document: DocumentNode, variables: Mapping[str, Any], default_list_size: int
    ) -> None:
        self.schema = schema
        self.variables = variables
        self.default_list_size = default_list_size
        self.fragments = {
            definition.name.value: definition
            for definition in document.definitions
            if isinstance(definition, FragmentDefinitionNode)
        }
        self.fragment_costs: dict[str, int] = {}

    def selections(self, selection_set: SelectionSetNode | None, parent: Any) -> int:
        if selection_set is None:
            return 0
        total = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                total += self.field(selection, parent)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                typed = self.schema.get_type(condition.name.value) if condition else parent
                total += self.selections(selection.selection_set, typed)
            elif isinstance(selection, FragmentSpreadNode):
                total += self.fragment(selection.name.value)
        return total

    def fragment(self, name: str) -> int:
        # a fragment costs the same wherever it is spread: computed once, so nested spreads stay linear
        if name not in self.fragment_costs:
            self.fragment_costs[name] = 0  # a cycle is a validation error; never loops here
            definition = self.fragments.get(name)
            if definition is not None:
                typed = self.schema.get_type(definition.type_condition.name.value)
                self.fragment_costs[name] = self.selections(definition.selection_set, typed)
        return self.fragment_costs[name]

    def field(self, node: FieldNode, parent: Any) -> int:
        name = node.name.value
        if name.startswith("__") or not isinstance(parent, (GraphQLObjectType, GraphQLInterfaceType)):
            return 1 + self._count(node.selection_set)
        definition = parent.fields.get(name)
        if definition is None:
            return 1
        multiplier = 1
        for size_argument in _SIZE_ARGUMENTS:
            if size_argument in definition.args:
                multiplier = _size(node, definition.args, size_argument, self.variables, self.default_list_size)
                break
        else:
            if is_list_type(get_nullable_type(definition.type)) and name not in _CONNECTION_LISTS:
                multiplier = self.default_list_size
        named = get_named_type(definition.type)
        if "first" in definition.args and isinstance(named, GraphQLObjectType) and "edges" in named.fields:
            # a connection: its page size multiplies its edges (and nodes), not its totalCount, pageInfo or
            # aggregates, which are read once whatever the page
            return 1 + self.connection(node.selection_set, named, multiplier)
        return 1 + multiplier * self.selections(node.selection_set, named)

    def connection(self, selection_set: SelectionSetNode | None, parent: GraphQLObjectType, page: int) -> int:
        if selection_set is None:
            return 0
        total = 0
        for selection in selection_set.selections:
            once = isinstance(selection, FieldNode) and selection.name.value not in _CONNECTION_LISTS
            cost = self.selections(SelectionSetNode(selections=(selection,)), parent)
            total += cost if once else page * cost
        return total

    def _count(self, selection_set: SelectionSetNode | None) -> int:
        if selection_set is None:
            return 0
        total = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                total += 1 + self._count(selection.selection_set)
            elif isinstance(selection, InlineFragmentNode):
                total += self._count(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                definition = self.fragments.get(selection.name.value)
                total += self._count(definition.selection_set) if definition else 0
        return total


def query_cost(
    schema: GraphQLSchema,
    document: DocumentNode,
    *,
    operation_name: str | None,
    variables: Mapping[str, Any] | None,
    default_list_size: int,
) -> int:
    """The cost of the operation that would run (the dearest one when it is not named)."""
    walk = _CostWalk(schema, document, variables or {}, default_list_size)
    operations: Sequence[OperationDefinitionNode] = [
        definition
        for definition in document.definitions
        if isinstance(definition, OperationDefinitionNode)
        and (operation_name is None or (definition.name is not None and definition.name.value == operation_name))
    ]
    costs = [
        walk.selections(operation.selection_set, schema.get_root_type(operation.operation)) for operation in operations
    ]
    return max(costs, default=0)


def cost_refusal(cost: int, limit: int) -> GraphQLError:
    """QUERY_TOO_COMPLEX with the cost and the limit, and what to do about it."""
    return too_complex(
        f"the query's cost is {cost}, above the limit of {limit} (HUB_MAX_QUERY_COST): ask for smaller pages"
        " (first), a shallower trace (maxDepth) or fewer fields, or split it into several requests",
        setting="HUB_MAX_QUERY_COST",
        cost=cost,
        limit=limit,
    )
