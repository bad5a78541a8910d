"""GraphQL execution with a fast path for lists of plain objects, such as a trace's 10,000 lots.

graphql-core completes every field of every list item on its own: a Path, a resolve-info object, a resolver
call, an awaitable check and a value completion per field, which for a trace of 10,000 lots with a nested lot
is over 100,000 rounds of bookkeeping for values that are already plain attributes. When every field selected
on a list's items is a plain Strawberry field (no resolver, no arguments, no field extension or permission,
no directive but @skip/@include, which field collection has already applied) and leaves or nested plain
objects, the list is completed here in one loop: the attribute read and the scalar's own output coercion,
exactly what graphql-core would do for such a field. Anything else (a resolver, an error, a null in a
non-null position, an awaitable, @defer/@stream, a middleware) sends the whole list back to graphql-core,
which then completes it from scratch, so answers and errors stay what they were.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum
from math import isfinite
from typing import Any

from graphql import (
    GRAPHQL_MAX_INT,
    GRAPHQL_MIN_INT,
    GraphQLBoolean,
    GraphQLEnumType,
    GraphQLField,
    GraphQLFloat,
    GraphQLID,
    GraphQLInt,
    GraphQLLeafType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLResolveInfo,
    GraphQLString,
    Undefined,
    is_leaf_type,
)
from graphql.execution.collect_fields import FieldDetails
from graphql.pyutils import AwaitableOrValue, Path
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.field import StrawberryField

# The directives that field collection applies itself; any other one may need graphql-core's own handling.
_COLLECTED_DIRECTIVES = frozenset({"skip", "include"})

Completer = Callable[[Any], Any]


class _Fallback(Exception):
    """This list needs graphql-core's own completion."""


def _plain_directives(details: list[FieldDetails]) -> bool:
    return all(
        detail.defer_usage is None
        and detail.fragment_variable_values is None
        and all(directive.name.value in _COLLECTED_DIRECTIVES for directive in detail.node.directives or ())
        for detail in details
    )


class PlainFieldsExecutionContext(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's execution context, completing lists of plain objects in one loop (see the module)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # (item type, id of the field's details) -> completer, or None when the selection is not plain; the
        # details list is kept alive with it so that its id is not reused during the operation
        self._completers: dict[tuple[GraphQLObjectType, int], tuple[object, Completer | None]] = {}

    def complete_list_value(
        self,
        return_type: GraphQLList[GraphQLOutputType],
        field_details_list: list[FieldDetails],
        info: GraphQLResolveInfo[Any],
        path: Path,
        result: Any,
        position_context: Any,
    ) -> AwaitableOrValue[list[Any]]:
        if isinstance(result, list | tuple) and _plain_directives(field_details_list):
            item_type = return_type.of_type
            non_null = isinstance(item_type, GraphQLNonNull)
            named = item_type.of_type if isinstance(item_type, GraphQLNonNull) else item_type
            if isinstance(named, GraphQLObjectType):
                completer = self._completer(named, field_details_list, info)
                if completer is not None:
                    try:
                        return [self._item(completer, item, non_null) for item in result]
                    except Exception:  # noqa: S110 (graphql-core completes it again and reports any error itself)
                        pass
        return super().complete_list_value(return_type, field_details_list, info, path, result, position_context)

    @staticmethod
    def _item(completer: Completer, item: Any, non_null: bool) -> Any:
        if item is None:
            if non_null:
                raise _Fallback
            return None
        return completer(item)

    def _completer(
        self, object_type: GraphQLObjectType, details: list[FieldDetails], info: GraphQLResolveInfo[Any]
    ) -> Completer | None:
        key = (object_type, id(details))
        cached = self._completers.get(key)
        if cached is None:
            cached = (details, self._build_completer(object_type, details, info))
            self._completers[key] = cached
        return cached[1]

    def _build_completer(
        self, object_type: GraphQLObjectType, details: list[FieldDetails], info: GraphQLResolveInfo[Any]
    ) -> Completer | None:
        if self.middleware_manager is not None and self.middleware_manager.middlewares:
            return None  # a schema extension wraps every resolver: every field must go through it
        grouped, new_defer_usages, _ = self.collect_subfields(object_type, details)
        if new_defer_usages:
            return None
        fields: list[tuple[str, Completer]] = []
        for response_name, field_details in grouped.items():
            if not _plain_directives(field_details):
                return None
            name = field_details[0].node.name.value
            if name == "__typename":
                fields.append((response_name, _constant(object_type.name)))
                continue
            field_def = object_type.fields.get(name)
            if field_def is None or field_details[0].node.arguments:
                return None
            completer = self._field_completer(field_def, field_details, info)
            if completer is None:
                return None
            fields.append((response_name, completer))
        is_type_of = object_type.is_type_of

        def complete(source: Any) -> dict[str, Any]:
            if is_type_of is not None and is_type_of(source, info) is not True:
                raise _Fallback
            return {response_name: field(source) for response_name, field in fields}

        return complete

    def _field_completer(
        self, field_def: GraphQLField, details: list[FieldDetails], info: GraphQLResolveInfo[Any]
    ) -> Completer | None:
        strawberry_field = (field_def.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
        if (
            not isinstance(strawberry_field, StrawberryField)
            or not getattr(field_def.resolve, "_is_default", False)  # Strawberry's resolver of a basic field
            or field_def.args
        ):
            return None
        read = _reader(strawberry_field)
        return_type = field_def.type
        non_null = isinstance(return_type, GraphQLNonNull)
        named = return_type.of_type if isinstance(return_type, GraphQLNonNull) else return_type
        inner: Completer | None
        if is_leaf_type(named):
            inner = _leaf(named)
        elif isinstance(named, GraphQLObjectType):
            inner = self._completer(named, details, info)
        else:
            return None  # lists of lists, interfaces and unions take graphql-core's path
        if inner is None:
            return None
        complete_inner = inner

        def complete_value(value: Any) -> Any:
            if value is None or value is Undefined:
                if non_null:
                    raise _Fallback
                return None
            return complete_inner(value)

        if strawberry_field.default_resolver is getattr:
            # the common case in one call: an attribute whose value the built-in scalar outputs unchanged
            # (serialize_string, serialize_id, serialize_int, serialize_float, serialize_boolean)
            name = strawberry_field.python_name
            if named is GraphQLString or named is GraphQLID:
                return lambda source: value if type(value := getattr(source, name)) is str else complete_value(value)
            if named is GraphQLInt:
                return lambda source: (
                    value
                    if type(value := getattr(source, name)) is int and GRAPHQL_MIN_INT <= value <= GRAPHQL_MAX_INT
                    else complete_value(value)
                )
            if named is GraphQLFloat:
                return lambda source: (
                    value
                    if type(value := getattr(source, name)) is float and isfinite(value)
                    else complete_value(value)
                )
            if named is GraphQLBoolean:
                return lambda source: value if type(value := getattr(source, name)) is bool else complete_value(value)
        read = _reader(strawberry_field)
        return lambda source: complete_value(read(source))


def _reader(field: StrawberryField) -> Completer:
    """The attribute read of a basic field, as Strawberry's own resolver of it does."""
    name = field.python_name
    default_resolver = field.default_resolver
    if default_resolver is getattr:
        return lambda source: getattr(source, name)
    return lambda source: default_resolver(source, name)


def _constant(value: str) -> Completer:
    return lambda _source: value


def _leaf(leaf_type: GraphQLLeafType) -> Completer:
    """graphql-core's leaf completion, refusing what it would refuse (and awaitables, left to it)."""
    coerce = leaf_type.coerce_output_value
    # an enum's output depends on its member alone, and Strawberry finds it by a scan of the values
    memo: dict[tuple[type, Any], Any] | None = {} if isinstance(leaf_type, GraphQLEnumType) else None

    def complete(value: Any) -> Any:
        if isinstance(value, Exception) or hasattr(value, "__await__"):
            raise _Fallback
        if memo is not None:
            key = (type(value), value)
            try:
                return memo[key]
            except (KeyError, TypeError):
                pass
        coerced = coerce(value)
        if coerced is None or coerced is Undefined:
            raise _Fallback
        if memo is not None and isinstance(value, Enum):
            memo[(type(value), value)] = coerced
        return coerced

    return complete
