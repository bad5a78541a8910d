"""Reads compiled from a GraphQL selection into one Cypher query whose projection is the answer.

The resolvers answer a lot detail page in several queries: the lot, then its inputs and shipments through their
DataLoaders, then the inputs' shipments, each a round trip, and graphql-core then completes every field of the
Python objects built from the rows. For the reads partner apps send all day (``lot``, ``firm``, ``site``,
``product``, the connections ``lots``, ``firms`` and ``inventory``, and their nested fields: a firm's sites,
certifications and its lots' count and quantities, a lot's deviations; ``trace`` with its lots, shipments and
summary) this module compiles the
operation once into a plan: one Cypher query per root field whose map projection has the shape of the answer, with
the visibility predicates of graph_schema/access.py inside (the same builders every other read calls), and a
shaper that writes the JSON value of each field from the driver's values with the leaf's own GraphQL output
coercion. The trace keeps its own Cypher (graph_schema/trace.py) and its Python types, walked field by field.

The compiled path answers only what it is sure to answer as the resolvers would: anything it does not know (a
field with a resolver it cannot compile, a fragment, a directive, an argument out of its domain, a null where the
schema says non-null, an unknown enum value, an error of any kind) raises ``Fallback``, and the request is then
answered by the resolvers from scratch, so errors are always the resolvers' own. It notes the records it returns
for the access log as the resolvers do (tests/integration/test_compiled_reads.py runs both on every compilable
query of the test suite and compares answers and access counts). Plans are kept per document text and operation
name: the Cypher text holds nothing of the caller, whose visibility comes as parameters.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from math import isfinite
from typing import Any, Final
from weakref import WeakKeyDictionary

from graphql import (
    DocumentNode,
    FieldNode,
    GraphQLBoolean,
    GraphQLEnumType,
    GraphQLError,
    GraphQLField,
    GraphQLFloat,
    GraphQLID,
    GraphQLInt,
    GraphQLLeafType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLSchema,
    GraphQLString,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    Undefined,
    get_named_type,
    is_leaf_type,
    parse,
    validate,
)
from graphql.execution.values import VariableValues, get_argument_values, get_variable_values
from strawberry.schema.schema_converter import GraphQLCoreConverter

from graph_schema.access import deviation_in_detail, lot_in_detail, shipment_in_detail
from graph_schema.db import Graph, Row
from graph_schema.identifiers import normalize_gtin, parse_lgtin, validate_gln
from graph_schema.inventory import COUNT_STOCK, VISIBLE_STOCK
from graph_schema.lot_filters import (
    QUANTITY_ROWS,
    LotFilter,
    LotSort,
    count_lots_query,
    list_lots_page,
    optional_filters,
    page_params,
    quantity_rows,
    sum_quantities,
    visible_lots,
)
from graph_schema.model import TraceDirection
from graph_schema.parties import COUNT_FIRMS
from graph_schema.trace import TraceProjection
from resolvers.context import Context
from resolvers.limits import DocumentChecks, query_cost
from resolvers.redaction import Redactor
from resolvers.types.connection import check_page_size, decode_cursor, encode_cursor
from resolvers.types.lot_list import decode_lot_cursor, lot_cursor_key, lot_cursor_kind, lot_filter
from resolvers.types.node import PRODUCT_ID_PREFIX, SITE_ID_PREFIX
from resolvers.types.trace import summarize
from resolvers.types.values import native_datetime


class Fallback(Exception):
    """This operation, or this request of it, is answered by the resolvers."""


Convert = Callable[[Any], Any]
# a hidden key of a compiled map: GraphQL names never start with two underscores but __typename, handled apart
NOTE_KEY: Final = "__note"


def _leaf_output(leaf: GraphQLLeafType) -> Convert:
    """graphql-core's output coercion of a leaf, for the graph's values (an enum's stored text included)."""
    coerce = leaf.serialize
    if isinstance(leaf, GraphQLEnumType):
        definition = (leaf.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
        enum_class: type[Enum] | None = getattr(definition, "wrapped_cls", None)
        if enum_class is None:
            raise Fallback
        outputs: dict[Any, Any] = {}
        for member in enum_class:
            outputs[member] = outputs[member.value] = coerce(member)

        def enum_output(value: Any) -> Any:
            try:
                return outputs[value]
            except (KeyError, TypeError):
                raise Fallback from None

        return enum_output
    if leaf.name == "DateTime":
        return lambda value: coerce(native_datetime(value))

    def output(value: Any) -> Any:
        coerced = coerce(value)
        if coerced is None or coerced is Undefined:
            raise Fallback
        return coerced

    # the graph's values of the built-in scalars mostly come as the very type the coercion returns unchanged: they
    # skip graphql-core's checks (a 10,000-lot trace writes 100,000 of them); anything else goes through them
    exact = _EXACT.get(leaf)
    if exact is None:
        return output
    fast: Convert = eval(f"lambda v: v if {exact} else output(v)", {"output": output, "isfinite": isfinite})  # noqa: S307 - a fixed text of _EXACT
    _EXACT_OUTPUTS[fast] = exact  # the trace's writers inline the test (_writer)
    return fast


# When a built-in scalar's output coercion returns the value unchanged, as a Python expression of v
_EXACT: Final[dict[GraphQLLeafType, str]] = {
    GraphQLString: "type(v) is str",
    GraphQLID: "type(v) is str",
    GraphQLBoolean: "type(v) is bool",
    GraphQLFloat: "type(v) is float and isfinite(v)",
    GraphQLInt: "type(v) is int and -2147483648 <= v <= 2147483647",
}
_EXACT_OUTPUTS: Final[WeakKeyDictionary[Convert, str]] = WeakKeyDictionary()


@dataclass(frozen=True)
class Custom:
    """A field written from its compiled value by a function that may note records for the access log."""

    write: Callable[[Any, Callable[[Any], None]], Any]


@dataclass
class Shape:
    """How one object of the answer is written from a compiled map (or, for ``walk``, from a Python object)."""

    typename: str
    fields: list[tuple[str, str, Convert | Shape | Custom | None, bool, bool]] = field(default_factory=list)
    # (response key, source key or attribute, leaf output / nested shape / None for __typename, non-null, list)
    note: str | None = None  # the key whose value names the owner firm to note for the access log


def shape_map(shape: Shape, value: Mapping[str, Any], accessed: Callable[[Any], None]) -> dict[str, Any]:
    """The answer's object from a compiled Cypher map."""
    if shape.note is not None:
        accessed(value[shape.note])
    out: dict[str, Any] = {}
    for key, source, kind, non_null, is_list in shape.fields:
        if kind is None:
            out[key] = shape.typename
            continue
        item = value.get(source)
        if item is None:
            if non_null:
                raise Fallback
            out[key] = None
        elif isinstance(kind, Shape):
            if is_list:
                out[key] = [shape_map(kind, element, accessed) for element in item]
            else:
                out[key] = shape_map(kind, item, accessed)
        elif isinstance(kind, Custom):
            out[key] = kind.write(item, accessed)
        elif is_list:
            out[key] = [kind(element) for element in item]
        else:
            out[key] = kind(item)
    return out


def walk(shape: Shape, value: Any) -> dict[str, Any]:
    """The answer's object from a Python object of the resolvers' types (plain attributes only)."""
    out: dict[str, Any] = {}
    for key, attribute, kind, non_null, is_list in shape.fields:
        if kind is None:
            out[key] = shape.typename
            continue
        item = getattr(value, attribute)
        if item is None:
            if non_null:
                raise Fallback
            out[key] = None
        elif isinstance(kind, Shape):
            out[key] = [walk(kind, element) for element in item] if is_list else walk(kind, item)
        elif isinstance(kind, Custom):
            raise Fallback
        elif is_list:
            out[key] = [kind(element) for element in item]
        else:
            out[key] = kind(item)
    return out


def _unwrap(output: GraphQLOutputType) -> tuple[Any, bool, bool]:
    """The named type, whether the field is non-null, and whether it is a list (of non-null items)."""
    non_null = isinstance(output, GraphQLNonNull)
    inner: Any = output.of_type if isinstance(output, GraphQLNonNull) else output
    if isinstance(inner, GraphQLList):
        item = inner.of_type
        if not isinstance(item, GraphQLNonNull):
            raise Fallback  # a list with null items is not compiled
        return get_named_type(item.of_type), non_null, True
    return inner, non_null, False


def _fields(selection_set: SelectionSetNode | None) -> list[FieldNode]:
    """The selection's fields, when it holds fields only, without directives, each under a key of its own."""
    if selection_set is None:
        raise Fallback
    fields: list[FieldNode] = []
    keys: set[str] = set()
    for selection in selection_set.selections:
        if not isinstance(selection, FieldNode) or selection.directives:
            raise Fallback
        key = (selection.alias or selection.name).value
        if key in keys or (key.startswith("__") and selection.name.value != "__typename"):
            raise Fallback
        keys.add(key)
        fields.append(selection)
    return fields


def _quote(key: str) -> str:
    return f"`{key}`"


# --- Cypher for the graph's types -----------------------------------------------------------------------------

# The leaves of each type as Cypher expressions of its variable, with their temporal values as text
# (graph_schema.lots explains why); ids of sites and products get their node prefix in Python.
_LEAVES: Final[dict[str, dict[str, str]]] = {
    "Lot": {
        "id": "{v}.id",
        "lotNumber": "{v}.lotNumber",
        "productGtin": "{v}.productGtin",
        "quantity": "{v}.quantity",
        "uom": "{v}.uom",
        "producedAt": "toString({v}.producedAt)",
        "expiresAt": "toString({v}.expiresAt)",
        "status": "{v}.status",
    },
    "Firm": {"id": "{v}.id", "name": "{v}.name", "nameKo": "{v}.nameKo", "roles": "{v}.roles"},
    "Site": {"gln": "{v}.gln", "id": "{v}.gln", "name": "{v}.name", "kind": "{v}.kind", "region": "{v}.region"},
    "Product": {
        "gtin": "{v}.gtin",
        "id": "{v}.gtin",
        "name": "{v}.name",
        "nameKo": "{v}.nameKo",
        "category": "{v}.category",
        "uom": "{v}.uom",
    },
    "Shipment": {
        "id": "{v}.id",
        "lotId": "{lot}.id",
        "quantity": "{c}.quantity",
        "uom": "{c}.uom",
        "shippedAt": "toString({v}.shippedAt)",
        "receivedAt": "toString({v}.receivedAt)",
        "docType": "{v}.docType",
        "docNumber": "{v}.docNumber",
    },
    "Certification": {
        "id": "{v}.id",
        "kind": "{v}.kind",
        "number": "{v}.number",
        "validFrom": "toString({v}.validFrom)",
        "validUntil": "toString({v}.validUntil)",
    },
    # a row of graph_schema.inventory's VISIBLE_STOCK (a map: its firm, site and lot are null at SUMMARY)
    "Inventory": {
        "level": "{v}.level",
        "productGtin": "{v}.productGtin",
        "region": "{v}.region",
        "quantity": "{v}.quantity",
        "uom": "{v}.uom",
        "asOf": "toString({v}.asOf)",
        "lotCount": "{v}.lotCount",
        "lotId": "{v}.lotId",
    },
    "Deviation": {
        "id": "{v}.id",
        "ccpId": "{v}.ccpId",
        "kind": "{v}.kind",
        "status": "{v}.status",
        "openedAt": "toString({v}.openedAt)",
        "closedAt": "toString({v}.closedAt)",
        "windowStart": "toString({v}.windowStart)",
        "windowEnd": "toString({v}.windowEnd)",
        "worstValue": "{v}.worstValue",
    },
    "CorrectiveAction": {
        "action": "{v}.action",
        "takenAt": "toString({v}.takenAt)",
        "by": "{v}.by",
        "recordedAt": "toString({v}.recordedAt)",
    },
    "LotLink": {
        "transformationId": "{t}.id",
        "occurredAt": "toString({t}.occurredAt)",
        "quantity": "{c}.quantity",
        "uom": "{c}.uom",
        "redacted": "NOT {vis}",
    },
}
_ID_PREFIX: Final = {"Site": SITE_ID_PREFIX, "Product": PRODUCT_ID_PREFIX}

# Profiles every member may see, reached from a property of the object that names them.
_PROFILE: Final = {
    "Firm": "(x:Firm {{id: {key}}})",
    "Site": "(x:Site {{gln: {key}}})",
    "Product": "(x:Product {{gtin: {key}}})",
}
_PROFILE_OF: Final[dict[tuple[str, str], tuple[str, str]]] = {
    ("Lot", "product"): ("Product", "{v}.productGtin"),
    ("Lot", "site"): ("Site", "{v}.siteGln"),
    ("Lot", "owner"): ("Firm", "{v}.ownerFirmId"),
    ("Site", "firm"): ("Firm", "{v}.firmId"),
    ("Product", "brandOwner"): ("Firm", "{v}.ownerFirmId"),
    ("Shipment", "fromSite"): ("Site", "{v}.fromGln"),
    ("Shipment", "toSite"): ("Site", "{v}.toGln"),
    ("Shipment", "shipper"): ("Firm", "{v}.fromFirmId"),
    ("Shipment", "receiver"): ("Firm", "{v}.toFirmId"),
    ("Certification", "site"): ("Site", "{v}.siteGln"),
    ("Inventory", "product"): ("Product", "{v}.productGtin"),
    ("Inventory", "firm"): ("Firm", "{v}.firmId"),
    ("Inventory", "site"): ("Site", "{v}.siteGln"),
    ("Deviation", "site"): ("Site", "{v}.siteGln"),
}
# A firm's records every member may see, in the resolvers' order (graph_schema.parties)
_OF_FIRM: Final[dict[str, tuple[str, str, str]]] = {
    "sites": ("Site", "({x}:Site {{firmId: {v}.id}})", "{x}.gln"),
    "certifications": ("Certification", "({x}:Certification {{firmId: {v}.id}})", "{x}.kind, {x}.id"),
}


@dataclass(frozen=True)
class _Binding:
    """A nested field with arguments (Firm.lots): its parameters, named ``<prefix><name>``, are the request's."""

    prefix: str
    node: FieldNode
    definition: GraphQLField


def _bound(bindings: tuple[_Binding, ...], variables: VariableValues, context: Context) -> dict[str, Any]:
    """The parameters of the nested fields' arguments, checked as their resolvers check them (Fallback where they
    would refuse)."""
    params: dict[str, Any] = {}
    for binding in bindings:
        arguments = get_argument_values(binding.definition, binding.node, variables)
        try:
            check_page_size(arguments["first"], context.max_page_size)
            sort = arguments["sort"]
            if not isinstance(sort, LotSort):
                raise Fallback
            decode_lot_cursor(lot_cursor_kind(sort), arguments.get("after"))
            where = _lot_filter(arguments, owner=None)
        except Exception:
            raise Fallback from None
        params.update({binding.prefix + name: value for name, value in where.params().items()})
    return params


def _lot_filter(arguments: dict[str, Any], *, owner: Any) -> LotFilter:
    return lot_filter(
        product_gtin=arguments.get("productGtin"),
        site_gln=arguments.get("siteGln"),
        lot_number=arguments.get("lotNumber"),
        lot_number_prefix=arguments.get("lotNumberPrefix"),
        status=arguments.get("status"),
        owner_firm_id=owner,
        produced_from=arguments.get("producedFrom"),
        produced_to=arguments.get("producedTo"),
    )


def _quantity_fields(selection_set: SelectionSetNode | None) -> tuple[tuple[str, str], ...]:
    """The leaves asked of ProductQuantity in a lot connection's quantities (its product is the resolvers')."""
    fields = []
    for node in _fields(selection_set):
        name = node.name.value
        if name not in ("productGtin", "uom", "quantity", "lotCount", "__typename") or node.arguments:
            raise Fallback
        fields.append(((node.alias or node.name).value, name))
    return tuple(fields)


def _quantities(rows: list[Any], fields: tuple[tuple[str, str], ...], note: Callable[[Any], None]) -> list[Any]:
    """A lot connection's quantities from its rows per owner, product and unit (lot_filters.sum_quantities), the
    lots counted noted for the access log as LotConnection.quantities notes them."""
    for row in rows:
        for _ in range(row["lotCount"]):
            note(row["owner"])
    return [
        {key: "ProductQuantity" if name == "__typename" else total[name] for key, name in fields}
        for total in sum_quantities(rows)
    ]


_QUANTITY_MAP: Final = "{owner: owner, productGtin: productGtin, uom: uom, quantity: quantity, lotCount: lotCount}"


class _Compiler:
    """Builds the Cypher map and the shape of one selection, naming variables apart."""

    def __init__(self, schema: GraphQLSchema) -> None:
        self.schema = schema
        self.count = 0
        self.bindings: list[_Binding] = []

    def returning(self, projection: str, name: str | None = None) -> str:
        """RETURN of a projection; one holding a firm's lot aggregates (Firm.lots) is written in a WITH that keeps
        every variable first: Neo4j 5.26 takes an aggregate inside a subquery of a RETURN's expression for the
        RETURN's own and refuses the variables beside it as implicit grouping keys."""
        if not self.bindings:
            return f"RETURN {projection}" + (f" AS {name}" if name else "")
        column = name or self.fresh("m")
        return f"WITH *, {projection} AS {column} RETURN {column}"

    def fresh(self, prefix: str) -> str:
        self.count += 1
        return f"{prefix}{self.count}"

    def object_type(self, name: str) -> GraphQLObjectType:
        found = self.schema.get_type(name)
        if not isinstance(found, GraphQLObjectType):
            raise Fallback
        return found

    def selection(
        self, typename: str, selection_set: SelectionSetNode | None, names: dict[str, str], *, note: str | None = None
    ) -> tuple[str, Shape]:
        """The Cypher map of an object of ``typename`` bound to the variables in ``names`` ({v}, {lot}, ...)."""
        graphql_type = self.object_type(typename)
        shape = Shape(typename)
        entries: list[str] = []
        if note is not None:
            shape.note = NOTE_KEY
            entries.append(f"{NOTE_KEY}: {note.format(**names)}")
        for node in _fields(selection_set):
            key, name = (node.alias or node.name).value, node.name.value
            if name == "__typename":
                shape.fields.append((key, key, None, True, False))
                continue
            definition: GraphQLField | None = graphql_type.fields.get(name)
            if typename == "Firm" and name == "lots" and definition is not None:
                counted, custom = self.firm_lots(node, definition, names)
                entries.append(f"{_quote(key)}: {counted}")
                shape.fields.append((key, key, custom, True, False))
                continue
            if definition is None or node.arguments:
                raise Fallback
            named, non_null, is_list = _unwrap(definition.type)
            if is_leaf_type(named):
                expression = _LEAVES.get(typename, {}).get(name)
                if expression is None:
                    raise Fallback
                entries.append(f"{_quote(key)}: {expression.format(**names)}")
                output = _leaf_output(named)
                prefix = _ID_PREFIX.get(typename) if name == "id" else None
                if prefix is not None:
                    output = _prefixed(prefix, output)
                shape.fields.append((key, key, output, non_null, is_list))
                continue
            expression, child = self.nested(typename, name, named.name, node.selection_set, names)
            entries.append(f"{_quote(key)}: {expression}")
            shape.fields.append((key, key, child, non_null, is_list))
        return "{" + ", ".join(entries) + "}", shape

    def nested(
        self, typename: str, name: str, child: str, selection_set: SelectionSetNode | None, names: dict[str, str]
    ) -> tuple[str, Shape]:
        v = names["v"]
        profile = _PROFILE_OF.get((typename, name))
        if profile is not None:
            kind, key = profile
            x = self.fresh("p")
            projection, shape = self.selection(kind, selection_set, {"v": x})
            pattern = _PROFILE[kind].format(key=key.format(v=v)).replace("(x:", f"({x}:", 1)
            return f"COLLECT {{ MATCH {pattern} {self.returning(projection)} }}[0]", shape
        of_firm = _OF_FIRM.get(name) if typename == "Firm" else None
        if of_firm is not None:
            kind, pattern, order = of_firm
            x = self.fresh("r")
            projection, shape = self.selection(kind, selection_set, {"v": x})
            return (
                f"COLLECT {{ MATCH {pattern.format(x=x, v=v)} WITH {x} ORDER BY {order.format(x=x)}"
                f" {self.returning(projection)} }}",
                shape,
            )
        if typename == "Lot" and name == "deviations":
            # DEVIATIONS_OF_LOTS (graph_schema.haccp.deviations): those the viewer sees in detail, by window
            d, c = self.fresh("d"), self.fresh("c")
            projection, shape = self.selection("Deviation", selection_set, {"v": d})
            visible = deviation_in_detail(c, d, d.removeprefix("d"))
            return (
                f"COLLECT {{ MATCH ({v})<-[:DURING]-({d}:Deviation)<-[:HAS_DEVIATION]-({c}:CCP) WHERE {visible}"
                f" WITH {d} ORDER BY {d}.windowStart, {d}.id {self.returning(projection)} }}",
                shape,
            )
        if typename == "Deviation" and name == "lots":
            # Deviation.lots: the lots made during it that the viewer sees in detail, by LGTIN, each noted
            x = self.fresh("l")
            projection, shape = self.selection("Lot", selection_set, {"v": x}, note="{v}.ownerFirmId")
            return (
                f"COLLECT {{ MATCH ({v})-[:DURING]->({x}:Lot) WHERE {lot_in_detail(x, x.removeprefix('l'))}"
                f" WITH {x} ORDER BY {x}.id {self.returning(projection)} }}",
                shape,
            )
        if typename == "Deviation" and name == "correctiveActions":
            # in the order Deviation.from_record sorts them: by the text of their recording time, then id
            a = self.fresh("a")
            projection, shape = self.selection("CorrectiveAction", selection_set, {"v": a})
            return (
                f"COLLECT {{ MATCH ({v})-[:CORRECTED_BY]->({a}) WITH {a} ORDER BY toString({a}.recordedAt), {a}.id"
                f" {self.returning(projection)} }}",
                shape,
            )
        if typename == "Inventory" and name == "lot":
            # the held lot's record when the viewer sees it in detail (InventoryPosition.lot), noted when shown
            x = self.fresh("l")
            projection, shape = self.selection("Lot", selection_set, {"v": x}, note="{v}.ownerFirmId")
            return (
                f"COLLECT {{ MATCH ({x}:Lot {{id: {v}.lotId}}) WHERE {lot_in_detail(x, x.removeprefix('l'))}"
                f" {self.returning(projection)} }}[0]",
                shape,
            )
        if typename == "Lot" and name in ("inputs", "outputs"):
            t, c, lot, vis = self.fresh("t"), self.fresh("c"), self.fresh("l"), self.fresh("vis")
            link = {"v": lot, "t": t, "c": c, "vis": vis}
            suffix = lot.removeprefix("l")
            if name == "inputs":
                # the resolvers' INPUTS_OF_LOTS: quantities of the consumption, hidden inputs without their lot
                pattern = f"({v})<-[:PRODUCED]-({t}:Transformation)<-[{c}:CONSUMED_BY]-({lot}:Lot)"
            else:  # OUTPUTS_OF_LOTS: quantities of the production
                pattern = f"({v})-[{self.fresh('c')}:CONSUMED_BY]->({t}:Transformation)-[{c}:PRODUCED]->({lot}:Lot)"
            projection, shape = self.link(selection_set, link)
            return (
                f"COLLECT {{ MATCH {pattern} WITH *, {lot_in_detail(lot, suffix)} AS {vis} ORDER BY {lot}.id"
                f" {self.returning(projection)} }}",
                shape,
            )
        if typename == "Lot" and name == "shipments":
            sh, c = self.fresh("sh"), self.fresh("c")
            projection, shape = self.selection(
                "Shipment", selection_set, {"v": sh, "lot": v, "c": c}, note="{v}.fromFirmId"
            )
            return (
                f"COLLECT {{ MATCH ({v})<-[{c}:CARRIES]-({sh}:Shipment)"
                f" WHERE {shipment_in_detail(sh, sh.removeprefix('sh'))}"
                f" WITH * ORDER BY {sh}.shippedAt, {sh}.id {self.returning(projection)} }}",
                shape,
            )
        raise Fallback

    def firm_lots(self, node: FieldNode, definition: GraphQLField, names: dict[str, str]) -> tuple[str, Custom]:
        """Firm.lots asking only for totalCount and quantities (edges and pageInfo are the resolvers'): one sum per
        firm over its lots the viewer may see, under the rule of every lot read; its filters are the request's."""
        selection: list[tuple[str, str, tuple[tuple[str, str], ...]]] = []
        for sub in _fields(node.selection_set):
            key, name = (sub.alias or sub.name).value, sub.name.value
            if sub.arguments or name not in ("totalCount", "quantities", "__typename"):
                raise Fallback
            selection.append((key, name, _quantity_fields(sub.selection_set) if name == "quantities" else ()))
        x = self.fresh("l")
        self.bindings.append(_Binding(f"{x}_", node, definition))
        # a Firm.lots without arguments is filtered by nothing: Neo4j then tests no null filter on each lot
        filters = f" AND {optional_filters(x, x + '_')}" if node.arguments else ""
        expression = (
            f"COLLECT {{ MATCH ({x}:Lot) WHERE {x}.ownerFirmId = {names['v']}.id{filters}"
            f" AND {lot_in_detail(x, x.removeprefix('l'))}{quantity_rows(x)} RETURN {_QUANTITY_MAP} }}"
        )

        def write(rows: list[Any], note: Callable[[Any], None]) -> dict[str, Any]:
            out: dict[str, Any] = {}
            for key, name, inner in selection:
                if name == "__typename":
                    out[key] = "LotConnection"
                elif name == "totalCount":
                    out[key] = sum(row["lotCount"] for row in rows)
                else:
                    out[key] = _quantities(rows, inner, note)
            return out

        return expression, Custom(write)

    def link(self, selection_set: SelectionSetNode | None, names: dict[str, str]) -> tuple[str, Shape]:
        """A LotLink's map; its lot is there when visible, noted for the access log as LotLink.lot notes it."""
        graphql_type = self.object_type("LotLink")
        shape = Shape("LotLink")
        entries: list[str] = []
        for node in _fields(selection_set):
            key, name = (node.alias or node.name).value, node.name.value
            if name == "__typename":
                shape.fields.append((key, key, None, True, False))
                continue
            definition = graphql_type.fields.get(name)
            if definition is None or node.arguments:
                raise Fallback
            named, non_null, is_list = _unwrap(definition.type)
            if name == "lot":
                projection, child = self.selection("Lot", node.selection_set, {"v": names["v"]}, note="{v}.ownerFirmId")
                entries.append(f"{_quote(key)}: CASE WHEN {names['vis']} THEN {projection} END")
                shape.fields.append((key, key, child, non_null, False))
                continue
            expression = _LEAVES["LotLink"].get(name)
            if expression is None or not is_leaf_type(named):
                raise Fallback
            entries.append(f"{_quote(key)}: {expression.format(**names)}")
            shape.fields.append((key, key, _leaf_output(named), non_null, is_list))
        return "{" + ", ".join(entries) + "}", shape


def _prefixed(prefix: str, output: Convert) -> Convert:
    return lambda value: output(prefix + value)


def _walk_shape(schema: GraphQLSchema, typename: str, selection_set: SelectionSetNode | None) -> Shape:
    """The shape of a selection over the resolvers' Python objects: plain attributes only, no resolvers."""
    graphql_type = schema.get_type(typename)
    if not isinstance(graphql_type, GraphQLObjectType):
        raise Fallback
    shape = Shape(typename)
    for node in _fields(selection_set):
        key, name = (node.alias or node.name).value, node.name.value
        if name == "__typename":
            shape.fields.append((key, key, None, True, False))
            continue
        definition = graphql_type.fields.get(name)
        if definition is None or node.arguments:
            raise Fallback
        strawberry_field = (definition.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
        if strawberry_field is None or strawberry_field.base_resolver is not None:
            raise Fallback  # a field with a resolver of its own
        if strawberry_field.default_resolver is not getattr or strawberry_field.extensions:
            raise Fallback
        named, non_null, is_list = _unwrap(definition.type)
        kind: Convert | Shape = (
            _leaf_output(named) if is_leaf_type(named) else _walk_shape(schema, named.name, node.selection_set)
        )
        shape.fields.append((key, strawberry_field.python_name, kind, non_null, is_list))
    return shape


# --- plans ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Page:
    """A connection of lots or firms: the node's projection and shape, and the connection's own selection."""

    typename: str
    node_projection: str | None  # None when no edge's node is asked for
    node_shape: Shape | None
    selection: tuple[tuple[str, str, tuple[tuple[str, str], ...]], ...]  # (key, field, (subkey, subfield)...)
    counted: bool  # totalCount asked for
    paged: bool = True  # edges or pageInfo asked for
    quantities: bool = False  # a lot connection's quantities asked for
    bindings: tuple[_Binding, ...] = ()  # nested fields' arguments in the node's projection


@dataclass(frozen=True)
class _Root:
    """One root field: how its arguments become the query's, and how its rows become the answer."""

    key: str
    name: str
    node: FieldNode
    definition: GraphQLField
    cypher: str | None  # None: the trace and lots, whose Cypher depends on their arguments
    shape: Shape
    page: _Page | None = None
    bindings: tuple[_Binding, ...] = ()  # nested fields' arguments in the projection
    trace: TraceWriter | None = None


@dataclass(frozen=True)
class Plan:
    """A compiled read operation."""

    document: DocumentNode
    operation: OperationDefinitionNode
    roots: tuple[_Root, ...]
    label: str  # the operation as the access log names it (resolvers.access_log.AccessLog)


_ROOT_LOOKUP: Final = {
    # root field -> (type, MATCH of its variable v from $key, whether the object is noted for the access log)
    "lot": ("Lot", "MATCH (v:Lot {id: $key}) WHERE " + lot_in_detail("v", "0"), "{v}.ownerFirmId"),
    "firm": ("Firm", "MATCH (v:Firm {id: $key})", None),
    "site": ("Site", "MATCH (v:Site {gln: $key})", None),
    "product": ("Product", "MATCH (v:Product {gtin: $key})", None),
}


def compile_operation(schema: GraphQLSchema, document: DocumentNode, operation_name: str | None) -> Plan:
    """The plan of a document's query operation; Fallback when any of it is not compiled."""
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if len(operations) != len(document.definitions):
        raise Fallback  # fragments
    if operation_name is None:
        if len(operations) != 1:
            raise Fallback
        [operation] = operations
    else:
        named = [op for op in operations if op.name is not None and op.name.value == operation_name]
        if len(named) != 1:
            raise Fallback
        [operation] = named
    if operation.operation is not OperationType.QUERY or operation.directives:
        raise Fallback
    query_type = schema.query_type
    if query_type is None:
        raise Fallback
    roots = []
    for node in _fields(operation.selection_set):
        key, name = (node.alias or node.name).value, node.name.value
        definition = query_type.fields.get(name)
        if definition is None:
            raise Fallback
        named, _, _ = _unwrap(definition.type)
        if name == "trace":
            shape = _walk_shape(schema, named.name, node.selection_set)
            roots.append(_Root(key, name, node, definition, None, shape, trace=TraceWriter(shape)))
            continue
        if name in _PAGE_NODES:
            roots.append(_Root(key, name, node, definition, None, Shape(named.name), _page(schema, named.name, node)))
            continue
        lookup = _ROOT_LOOKUP.get(name)
        if lookup is None:
            raise Fallback
        typename, match, note = lookup
        compiler = _Compiler(schema)
        projection, shape = compiler.selection(typename, node.selection_set, {"v": "v"}, note=note)
        cypher = f"{match} {compiler.returning(projection, 'value')}"
        roots.append(_Root(key, name, node, definition, cypher, shape, bindings=tuple(compiler.bindings)))
    label_roots = ",".join(root.name for root in roots) or "?"
    name_value = operation.name.value if operation.name else None
    label = f"{name_value}:{label_roots}"[:200] if name_value else label_roots[:200]
    return Plan(document, operation, tuple(roots), label)


_PAGE_FIELDS: Final = {
    "edges": ("cursor", "node", "__typename"),
    "pageInfo": ("hasNextPage", "hasPreviousPage", "startCursor", "endCursor", "__typename"),
}


# root connections compiled: (the node's type, its variable in the page query)
_PAGE_NODES: Final = {"lots": ("Lot", "l"), "firms": ("Firm", "v"), "inventory": ("Inventory", "row")}


def _page(schema: GraphQLSchema, typename: str, node: FieldNode) -> _Page:
    """The plan of a connection's selection (edges, their cursors and nodes, pageInfo, totalCount, and a lot
    connection's quantities)."""
    node_type, variable = _PAGE_NODES[node.name.value]
    selection: list[tuple[str, str, tuple[tuple[str, str], ...]]] = []
    projection: str | None = None
    node_shape: Shape | None = None
    compiler = _Compiler(schema)
    counted = paged = quantities = False
    for field_node in _fields(node.selection_set):
        key, name = (field_node.alias or field_node.name).value, field_node.name.value
        if field_node.arguments:
            raise Fallback
        if name in ("totalCount", "__typename"):
            counted = counted or name == "totalCount"
            selection.append((key, name, ()))
            continue
        if name == "quantities" and node_type == "Lot":
            quantities = True
            selection.append((key, name, _quantity_fields(field_node.selection_set)))
            continue
        allowed = _PAGE_FIELDS.get(name)
        if allowed is None:
            raise Fallback
        paged = True
        inner: list[tuple[str, str]] = []
        for sub in _fields(field_node.selection_set):
            subkey, subname = (sub.alias or sub.name).value, sub.name.value
            if subname not in allowed or sub.arguments:
                raise Fallback
            if subname == "node":
                if projection is not None:
                    raise Fallback  # one node selection per connection
                projection, node_shape = compiler.selection(node_type, sub.selection_set, {"v": variable})
            inner.append((subkey, subname))
        selection.append((key, name, tuple(inner)))
    bindings = tuple(compiler.bindings)
    return _Page(typename, projection, node_shape, tuple(selection), counted, paged, quantities, bindings)


def _root_key(name: str, arguments: dict[str, Any]) -> str:
    """The key the root field looks up, checked as its resolver checks it (Fallback where it would refuse)."""
    try:
        if name == "lot":
            return parse_lgtin(str(arguments["id"]), field="id").uri
        if name == "firm":
            return str(arguments["id"])
        if name == "site":
            return validate_gln(arguments["gln"])
        if name == "product":
            return normalize_gtin(arguments["gtin"])
    except Exception:
        raise Fallback from None
    raise Fallback


def coerce_variables(schema: GraphQLSchema, plan: Plan, raw: dict[str, Any] | None) -> VariableValues:
    """The request's variables as graphql-core coerces them; Fallback on any error (the resolvers report it)."""
    coerced = get_variable_values(schema, plan.operation.variable_definitions or (), raw or {})
    if isinstance(coerced, list):
        raise Fallback
    return coerced


async def execute_plan(
    plan: Plan, context: Context, schema: GraphQLSchema, variables: VariableValues
) -> dict[str, Any]:
    """The answer's ``data`` for an authenticated caller; Fallback for anything the resolvers must answer."""
    principal, decision = context.require_decision()
    viewer = decision.viewer
    accessed = context.accessed
    own = principal.firm_id

    def note(owner: Any) -> None:
        if owner != own:
            accessed[owner] += 1

    data: dict[str, Any] = {}
    for root in plan.roots:
        arguments = get_argument_values(root.definition, root.node, variables)
        if root.page is not None:
            read = _PAGE_READS[root.name]
            bound = _bound(root.page.bindings, variables, context)
            data[root.key] = await read(root.page, context, arguments, bound, note)
            continue
        if root.cypher is None:
            data[root.key] = await _trace(root, context, arguments)
            continue
        graph: Graph = context.graph
        params = {
            "key": _root_key(root.name, arguments),
            **viewer.params(),
            **_bound(root.bindings, variables, context),
        }
        rows = await graph.read_maps(root.cypher, params)
        if len(rows) > 1:
            raise Fallback
        data[root.key] = shape_map(root.shape, rows[0]["value"], note) if rows else None
    return data


async def _trace(root: _Root, context: Context, arguments: dict[str, Any]) -> dict[str, Any]:
    from resolvers.query import read_trace_rows  # the trace's one reading, shared with its resolver

    direction = arguments["direction"]
    if not isinstance(direction, TraceDirection) or root.trace is None:
        raise Fallback
    try:
        rows = await read_trace_rows(
            context, arguments["lotId"], direction, arguments["maxDepth"], root.trace.projection
        )
    except Exception:
        raise Fallback from None
    return root.trace.write(rows, direction, context.redactor)


# --- the trace, written from its rows -------------------------------------------------------------------------

# A writer's field: (response key, Python expression of the writer's parameters giving the value, its output
# coercion, non-null); an expression None writes the type's name (__typename).
_Field = tuple[str, str | None, Convert | None, bool]


def _fallback() -> Any:
    raise Fallback


def _writer(parameters: str, fields: list[_Field], typename: str) -> Callable[..., dict[str, Any]]:
    """A function of ``parameters`` returning one object of the answer: a dict display with an entry per field.

    Generated once per plan, so that writing a 10,000-lot trace makes one call per lot instead of a getter and an
    output call per field. The source holds only response keys (GraphQL names, checked by the parser to match
    [_A-Za-z][_0-9A-Za-z]*, written with repr), type names, and the fixed expressions of this module."""
    namespace: dict[str, Any] = {"_fallback": _fallback}
    entries: list[str] = []
    for number, (key, expression, output, non_null) in enumerate(fields):
        if expression is None:
            entries.append(f"{key!r}: {typename!r}")
            continue
        namespace[f"out{number}"] = output
        missing = "_fallback()" if non_null else "None"
        exact = _EXACT_OUTPUTS.get(output) if output is not None else None
        value = f"(v if {exact} else out{number}(v))" if exact is not None else f"out{number}(v)"
        entries.append(f"{key!r}: ({value} if (v := {expression}) is not None else {missing})")
    source = f"def write({parameters}):\n    return {{{', '.join(entries)}}}\n"
    namespace["isfinite"] = isfinite
    exec(source, namespace)  # noqa: S102 - see the docstring: nothing of the request but checked names
    written: Callable[..., dict[str, Any]] = namespace["write"]
    return written


# where each attribute of the resolvers' trace types is in the trace's rows (graph_schema.trace): a Lot from its map
# (as Lot.from_record reads it), a TracedLot from (row, lot map or None, the lot's id as answered), a TracedShipment
# from (shipment map, its opaque id when hidden, its lot's id as answered)
_LOT_KEYS: Final = {
    "id": "id",
    "lot_number": "lotNumber",
    "product_gtin": "productGtin",
    "quantity": "quantity",
    "uom": "uom",
    "produced_at": "producedAt",
    "expires_at": "expiresAt",
    "status": "status",
}
_TRACED_LOT: Final = {
    "id": "lot_id",
    "depth": 'row["depth"]',
    "redacted": "lot is None",
    "owner_role": '(row["ownerRole"] or None)',
    "made_during_deviation": '(lot is not None and bool(row["madeDuringDeviation"]))',
    "lot": "lot",
}
_TRACED_SHIPMENT: Final = {
    "id": '(hidden_id or sh["id"])',
    "lot_id": "lot_id",
    "redacted": "hidden_id is not None",
    "quantity": '(None if hidden_id else sh["quantity"])',
    "uom": '(None if hidden_id else sh["uom"])',
    "shipped_at": '(None if hidden_id else sh["shippedAt"])',
    "received_at": '(None if hidden_id else sh["receivedAt"])',
}


def _lot_writer(shape: Shape) -> Callable[..., dict[str, Any]]:
    fields: list[_Field] = []
    for key, attribute, kind, non_null, is_list in shape.fields:
        if kind is None:
            fields.append((key, None, None, True))
            continue
        source = _LOT_KEYS.get(attribute)
        if source is None or isinstance(kind, Shape | Custom) or is_list:
            raise Fallback
        fields.append((key, f"value.get({source!r})", kind, non_null))
    return _writer("value", fields, shape.typename)


def _row_writer(shape: Shape, parameters: str, expressions: Mapping[str, str]) -> Callable[..., dict[str, Any]]:
    fields: list[_Field] = []
    for key, attribute, kind, non_null, is_list in shape.fields:
        if kind is None:
            fields.append((key, None, None, True))
            continue
        expression = expressions.get(attribute)
        if expression is None or is_list:
            raise Fallback
        output = _lot_writer(kind) if isinstance(kind, Shape) and attribute == "lot" else kind
        if isinstance(output, Shape | Custom):
            raise Fallback
        fields.append((key, expression, output, non_null))
    return _writer(parameters, fields, shape.typename)


# what each field of a TracedShipment reads of the trace's shipment map
_SHIPMENT_KEYS: Final = {"quantity": "quantity", "uom": "uom", "shipped_at": "shippedAt", "received_at": "receivedAt"}
# the fields of a trace's summary counted from its rows' depths and redaction alone (resolvers.types.trace.summarize
# reads the lots' owners, sites and quantities and the shipments for the others)
_SUMMARY_COUNTS: Final = frozenset({"lot_count", "redacted_count", "max_depth"})


@dataclass(frozen=True)
class _Counts:
    """The summary's counts that need no field of a lot or shipment (as summarize counts them)."""

    lot_count: int
    redacted_count: int
    max_depth: int


def _lot_keys(shape: Shape) -> set[str]:
    """The keys of the trace's lot map a Lot selection reads."""
    return {
        _LOT_KEYS[attribute] for _, attribute, kind, _, _ in shape.fields if kind is not None and attribute in _LOT_KEYS
    }


def _trace_projection(shape: Shape) -> TraceProjection:
    """What the trace's Cypher must return for this selection of a Trace: the lot and shipment fields it writes, and
    what the summary counts when it asks for more than the counts of lots, of redacted lots and the depth."""
    lot_fields: set[str] = set()
    shipment_fields: set[str] = set()
    shipments = deviations = aggregate = owner_role = False
    for _, attribute, kind, _, _ in shape.fields:
        if not isinstance(kind, Shape):
            continue
        selected = {name for _, name, inner, _, _ in kind.fields if inner is not None}
        if attribute == "origin":
            lot_fields |= _lot_keys(kind)
        elif attribute == "lots":
            deviations = "made_during_deviation" in selected
            owner_role = "owner_role" in selected
            for _, name, inner, _, _ in kind.fields:
                if name == "lot" and isinstance(inner, Shape):
                    lot_fields |= _lot_keys(inner)
        elif attribute == "shipments":
            shipments = True
            shipment_fields |= {_SHIPMENT_KEYS[name] for name in selected if name in _SHIPMENT_KEYS}
        elif attribute == "summary" and not selected <= _SUMMARY_COUNTS:
            # summarize reads all of these (resolvers.types.trace)
            shipments = aggregate = True
            lot_fields |= {"ownerFirmId", "siteGln", "productGtin", "uom", "quantity"}
            shipment_fields |= {"fromFirmId", "toFirmId", "fromGln", "toGln"}
    return TraceProjection(
        lot_fields=frozenset(lot_fields),
        shipment_fields=frozenset(shipment_fields),
        shipments=shipments,
        deviations=deviations,
        aggregate=aggregate,
        owner_role=owner_role,
    )


class TraceWriter:
    """The trace's answer written straight from the rows of graph_schema.trace, as Trace.from_rows and graphql-core
    would complete it (tests/graphql_client compares both on every trace of the test suite), without building a
    Python object per lot and shipment: a 10,000-lot trace built 20,000 of them and then walked them. The trace's
    Cypher returns only what the selection writes (``projection``): a 10,000-lot trace asking for six fields of
    each lot built and decoded ten, with the shipments' twelve and a walk for deviations nobody asked about."""

    def __init__(self, shape: Shape) -> None:
        if shape.typename != "Trace":
            raise Fallback
        self.shape = shape
        self.lot: Callable[..., dict[str, Any]] | None = None
        self.shipment: Callable[..., dict[str, Any]] | None = None
        self.origin: Callable[..., dict[str, Any]] | None = None
        for _, attribute, kind, _, _ in shape.fields:
            if attribute == "lots" and isinstance(kind, Shape):
                self.lot = _row_writer(kind, "row, lot, lot_id", _TRACED_LOT)
            elif attribute == "shipments" and isinstance(kind, Shape):
                self.shipment = _row_writer(kind, "sh, hidden_id, lot_id", _TRACED_SHIPMENT)
            elif attribute == "origin" and isinstance(kind, Shape):
                self.origin = _lot_writer(kind)
            elif attribute not in ("direction", "summary") and kind is not None:
                raise Fallback
        self.projection = _trace_projection(shape)

    def write(self, rows: list[Row], direction: TraceDirection, redactor: Redactor) -> dict[str, Any]:
        """The answer of the trace field from the trace's rows (origin first)."""
        lots: list[dict[str, Any]] = []
        shipments: list[dict[str, Any]] = []
        write_lot, write_shipment = self.lot, self.shipment
        if write_lot is not None or write_shipment is not None:
            opaque = redactor.opaque
            for row in rows:
                lot = row["lot"]
                lot_id = opaque("lot", row["hiddenRef"]) if lot is None else lot["id"]
                if write_lot is not None:
                    lots.append(write_lot(row, lot, lot_id))
                if write_shipment is not None:
                    for sh in row["shipments"]:
                        hidden = sh.get("hiddenRef")
                        shipments.append(
                            write_shipment(sh, None if hidden is None else opaque("shipment", hidden), lot_id)
                        )
        out: dict[str, Any] = {}
        for key, attribute, kind, _, _ in self.shape.fields:
            if kind is None:
                out[key] = "Trace"
            elif attribute == "lots":
                out[key] = lots
            elif attribute == "shipments":
                out[key] = shipments
            elif attribute == "origin":
                assert self.origin is not None
                out[key] = self.origin(rows[0]["lot"])
            elif attribute == "direction":
                assert not isinstance(kind, Shape | Custom)
                out[key] = kind(direction)
            else:  # summary
                assert isinstance(kind, Shape)
                # the rows hold what summarize reads only when the projection asked for the aggregate's fields
                out[key] = walk(kind, summarize(rows) if self.projection.aggregate else _counts(rows))
        return out


def _counts(rows: list[Row]) -> _Counts:
    """The trace's counts of lots, of redacted lots and its depth, as summarize counts them."""
    return _Counts(
        lot_count=len(rows),
        redacted_count=sum(1 for row in rows if row["lot"] is None),
        max_depth=max((row["depth"] for row in rows), default=0),
    )


async def _lots(
    page: _Page, context: Context, arguments: dict[str, Any], bound: dict[str, Any], note: Callable[[Any], None]
) -> Any:
    """A page of lots in one query: the resolver's page query (graph_schema.lot_filters) with the nodes' projection,
    its count and quantities queries beside it when asked for; arguments checked as the resolver checks them."""
    _, viewer = context.require_principal()
    try:
        first = arguments["first"]
        check_page_size(first, context.max_page_size)
        where = _lot_filter(arguments, owner=arguments.get("ownerFirmId"))
        sort = arguments["sort"]
        if not isinstance(sort, LotSort):
            raise Fallback
        kind = lot_cursor_kind(sort)
        after = arguments.get("after")
        cursor = decode_lot_cursor(kind, after)
    except Exception:
        raise Fallback from None
    given = where.given()
    node = page.node_projection or "null"
    cypher = (
        (
            list_lots_page(given, sort)
            # the node written before collect(): a node's own aggregates (Firm.lots) may not sit inside another
            + f"\nWITH l, k, {node} AS node"
            + "\nWITH collect({k: k, id: l.id, owner: l.ownerFirmId, node: node}) AS rows"
        )
        if page.paged
        else "WITH [] AS rows"
    )
    cypher += f"\nCALL () {{ {count_lots_query(given)} }}" if page.counted else "\nWITH rows, null AS total"
    if page.quantities:
        cypher += f"\nCALL () {{ {visible_lots(given)}{QUANTITY_ROWS} RETURN collect({_QUANTITY_MAP}) AS quantities }}"
    cypher += "\nRETURN rows, total" + (", quantities" if page.quantities else "")
    params = {**page_params(sort, cursor, first + 1), **where.params(), **viewer.params(), **bound}
    [record] = await context.graph.read_maps(cypher, params)
    rows = record["rows"]
    shown = rows[:first]
    for row in shown:
        note(row["owner"])
    cursors = [encode_cursor(kind, lot_cursor_key(sort, row["k"], row["id"])) for row in shown]
    return _connection(page, record, rows, first, after, cursors, note)


async def _firms(
    page: _Page, context: Context, arguments: dict[str, Any], bound: dict[str, Any], note: Callable[[Any], None]
) -> Any:
    """A page of firms (profiles every member may see) in one query, with what each node asks for (its lots'
    counts and quantities under the viewer's rule) and the count beside it; checked as the resolver checks."""
    _, viewer = context.require_principal()
    try:
        first = arguments["first"]
        check_page_size(first, context.max_page_size)
        role = arguments.get("role")
        if role is not None and not isinstance(role, Enum):
            raise Fallback
        after = arguments.get("after")
        after_id = decode_cursor("firm", after)
    except Exception:
        raise Fallback from None
    node = page.node_projection or "null"
    cypher = (
        (
            "MATCH (v:Firm) WHERE ($role IS NULL OR $role IN v.roles) AND ($after IS NULL OR v.id > $after)"
            f"\nWITH v ORDER BY v.id LIMIT $limit\nWITH v, {node} AS node"
            "\nWITH collect({id: v.id, node: node}) AS rows"
        )
        if page.paged
        else "WITH [] AS rows"
    )
    cypher += f"\nCALL () {{ {COUNT_FIRMS} }}" if page.counted else "\nWITH rows, null AS total"
    cypher += "\nRETURN rows, total"
    params = {"role": role.value if role is not None else None, "after": after_id, "limit": first + 1}
    [record] = await context.graph.read_maps(cypher, {**params, **viewer.params(), **bound})
    rows = record["rows"]
    cursors = [encode_cursor("firm", row["id"]) for row in rows[:first]]
    return _connection(page, record, rows, first, after, cursors, note)


async def _inventory(
    page: _Page, context: Context, arguments: dict[str, Any], bound: dict[str, Any], note: Callable[[Any], None]
) -> Any:
    """A page of stock positions in one query: the resolver's (graph_schema.inventory) with each row's projection
    (its lot under the TRACE rule) and the count beside it; the detail rows noted as the resolver notes them."""
    from resolvers.inventory import region_filter  # the resolver's own check of the argument

    _, viewer = context.require_principal()
    try:
        first = arguments["first"]
        check_page_size(first, context.max_page_size)
        gtin = arguments.get("productGtin")
        gtin = normalize_gtin(gtin, field="productGtin") if gtin is not None else None
        region = region_filter(arguments.get("region"))
        after = arguments.get("after")
        after_key = decode_cursor("inventory", after)
    except Exception:
        raise Fallback from None
    node = page.node_projection or "null"
    cypher = (
        (
            VISIBLE_STOCK
            + "WITH key, row WHERE $after IS NULL OR key > $after\nWITH key, row ORDER BY key LIMIT $limit"
            + f"\nWITH key, row, {node} AS node"
            + "\nWITH collect({key: key, level: row.level, firm: row.firmId, node: node}) AS rows"
        )
        if page.paged
        else "WITH [] AS rows"
    )
    cypher += f"\nCALL () {{ {COUNT_STOCK} }}" if page.counted else "\nWITH rows, null AS total"
    cypher += "\nRETURN rows, total"
    params = {"productGtin": gtin, "region": region, "after": after_key, "limit": first + 1, **bound}
    [record] = await context.graph.read_maps(cypher, {**params, **viewer.params(), **viewer.shared_params()})
    rows = record["rows"]
    for row in rows[:first]:
        if row["level"] == "DETAIL":
            note(row["firm"])
    cursors = [encode_cursor("inventory", str(row["key"] or "")) for row in rows[:first]]
    return _connection(page, record, rows, first, after, cursors, note)


_PAGE_READS: Final = {"lots": _lots, "firms": _firms, "inventory": _inventory}


def _connection(
    page: _Page,
    record: Mapping[str, Any],
    rows: list[Any],
    first: int,
    after: str | None,
    cursors: list[str],
    note: Callable[[Any], None],
) -> dict[str, Any]:
    """A connection's answer from its page query's record (rows, total, quantities) as build_connection builds it."""
    shown = rows[:first]
    out: dict[str, Any] = {}
    for key, name, inner in page.selection:
        if name == "__typename":
            out[key] = page.typename
        elif name == "totalCount":
            out[key] = record["total"]
        elif name == "quantities":
            out[key] = _quantities(record["quantities"], inner, note)
        elif name == "pageInfo":
            info = {
                "hasNextPage": len(rows) > first,
                "hasPreviousPage": after is not None,
                "startCursor": cursors[0] if cursors else None,
                "endCursor": cursors[-1] if cursors else None,
                "__typename": "PageInfo",
            }
            out[key] = {subkey: info[subname] for subkey, subname in inner}
        else:
            edges = []
            for row, cursor_text in zip(shown, cursors, strict=True):
                edge: dict[str, Any] = {}
                for subkey, subname in inner:
                    if subname == "cursor":
                        edge[subkey] = cursor_text
                    elif subname == "node":
                        assert page.node_shape is not None
                        edge[subkey] = shape_map(page.node_shape, row["node"], note)
                    else:
                        edge[subkey] = page.typename.removesuffix("Connection") + "Edge"
                edges.append(edge)
            out[key] = edges
    return out


class Plans:
    """Compiled plans per (document text, operation name), the ``maxsize`` most recently used; documents that do
    not compile are remembered as such."""

    def __init__(self, maxsize: int = 256) -> None:
        self._maxsize = maxsize
        self._plans: OrderedDict[tuple[str, str | None], Plan | None] = OrderedDict()

    def get(self, text: str, operation_name: str | None, compile_: Callable[[], Plan]) -> Plan | None:
        """The plan of a text, compiled on first sight (None when it does not compile)."""
        key = (text, operation_name)
        try:
            plan = self._plans[key]
        except KeyError:
            try:
                plan = compile_()
            except Fallback:
                plan = None
            if self._maxsize > 0 and len(text) <= 64 * 1024:
                self._plans[key] = plan
                while len(self._plans) > self._maxsize:
                    self._plans.popitem(last=False)
            return plan
        self._plans.move_to_end(key)
        return plan


class CompiledReads:
    """The compiled path of one schema: plans by text, for documents that pass the schema's validation and limits."""

    def __init__(self, schema: GraphQLSchema, checks: DocumentChecks, *, maxsize: int = 256) -> None:
        self.schema = schema
        self.checks = checks
        self.plans = Plans(maxsize)

    def plan_for(self, text: str, operation_name: str | None) -> Plan | None:
        """The plan of a text (parsed, checked and validated once, as resolvers/caching.py does), or None."""

        def build() -> Plan:
            try:
                document = parse(text, max_tokens=self.checks.limits.tokens)
            except GraphQLError:
                raise Fallback from None
            if self.checks.check(self.schema, document) or validate(self.schema, document):
                raise Fallback
            return compile_operation(self.schema, document, operation_name)

        return self.plans.get(text, operation_name, build)

    def within_cost(self, plan: Plan, variables: dict[str, Any] | None) -> bool:
        """Whether this request's cost (which depends on its variables) keeps within the limit."""
        limits = self.checks.limits
        cost = query_cost(
            self.schema,
            plan.document,
            operation_name=plan.operation.name.value if plan.operation.name else None,
            variables=variables,
            default_list_size=limits.default_list_size,
        )
        return cost <= limits.cost
