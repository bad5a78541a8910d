"""A trace answers exactly what it answered before its fast paths: times with their offsets, redaction, order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from auth.principal import Principal, Role
from graph_schema import lots, parties
from graph_schema.db import Graph
from graph_schema.identifiers import gtin_of_lot, lgtin_for
from graph_schema.records import LotQuantity, LotRecord, ProductRecord, ShipmentRecord, TransformationRecord
from resolvers.context import Context
from resolvers.schema import build_schema
from tests.factories import gtin, register_firms
from tests.graphql_client import REDACTION_KEY, SQL_ENGINE, execute, principal

pytestmark = pytest.mark.neo4j

SEOUL = timezone(timedelta(hours=9))
NEWFOUNDLAND = timezone(timedelta(hours=-3, minutes=-30))
MADE_AT = datetime(2026, 9, 1, 18, 0, 0, 123456, tzinfo=SEOUL)

TRACE = """query($id: ID!) { trace(lotId: $id, direction: DOWNSTREAM) {
  lots { id depth redacted ownerRole lot { id lotNumber productGtin quantity uom status producedAt expiresAt } }
  shipments { id lotId quantity uom shippedAt receivedAt redacted }
  summary { lotCount redactedCount } } }"""

# graphql-core's own completion of every field, as before the plain-fields fast path
REFERENCE = build_schema()
REFERENCE.execution_context_class = StrawberryGraphQLCoreExecutionContext


async def reference(graph: Graph, caller: Principal, variables: dict[str, Any]) -> Any:
    context = Context(
        graph=Graph(graph.driver, database=graph.database),
        principal=caller,
        redaction_key=REDACTION_KEY,
        max_page_size=100,
        sql_engine=SQL_ENGINE,
    )
    await context.decide()
    return await REFERENCE.execute(TRACE, variable_values=variables, context_value=context)


async def wide_chain(graph: Graph) -> tuple[str, list[str], str]:
    """plant: a raw lot made into 12 lots by 3 transformations, 2 of them shipped to shop, which makes 1 lot of
    its own from one. Returns the raw lot, the made lots and shop's lot."""
    sites = await register_firms(graph, ["plant", "shop"])
    raw_gtin, made_gtin, shop_gtin = gtin(), gtin(), gtin()
    await parties.upsert_products(
        graph,
        [
            ProductRecord(gtin=raw_gtin, owner_firm_id="plant", name="Soybean", category="raw", uom="kg"),
            ProductRecord(gtin=made_gtin, owner_firm_id="plant", name="Tofu", category="tofu", uom="kg"),
            ProductRecord(gtin=shop_gtin, owner_firm_id="shop", name="Tofu salad", category="deli", uom="kg"),
        ],
    )
    raw = lgtin_for(raw_gtin, "RAW-1")
    made = [lgtin_for(made_gtin, f"T{t}-{n}") for t in range(3) for n in range(4)]
    shop_lot = lgtin_for(shop_gtin, "SALAD-1")
    await lots.record_lots(
        graph,
        [
            LotRecord(
                id=raw,
                owner_firm_id="plant",
                site_gln=sites["plant"],
                quantity=30.0,
                uom="kg",
                produced_at=MADE_AT,
                expires_at=datetime(2026, 12, 1, tzinfo=UTC),
            ),
            *(
                LotRecord(
                    id=lot,
                    owner_firm_id="plant",
                    site_gln=sites["plant"],
                    quantity=2.5,
                    uom="kg",
                    produced_at=MADE_AT + timedelta(hours=1),
                )
                for lot in made
            ),
            LotRecord(
                id=shop_lot,
                owner_firm_id="shop",
                site_gln=sites["shop"],
                quantity=1.0,
                uom="kg",
                produced_at=datetime(2026, 9, 3, 7, 15, tzinfo=NEWFOUNDLAND),
            ),
        ],
    )
    await lots.record_transformations(
        graph,
        [
            TransformationRecord(
                id=f"T-{t}",
                firm_id="plant",
                site_gln=sites["plant"],
                occurred_at=MADE_AT + timedelta(hours=1),
                inputs=[LotQuantity(lot_id=raw, quantity=10.0, uom="kg")],
                outputs=[LotQuantity(lot_id=lot, quantity=2.5, uom="kg") for lot in made[4 * t : 4 * t + 4]],
            )
            for t in range(3)
        ],
    )
    await lots.record_shipments(
        graph,
        [
            ShipmentRecord(
                id="SH-1",
                from_gln=sites["plant"],
                to_gln=sites["shop"],
                shipped_at=datetime(2026, 9, 2, 6, 30, 0, 500000, tzinfo=NEWFOUNDLAND),
                received_at=None,
                items=[LotQuantity(lot_id=lot, quantity=2.5, uom="kg") for lot in made[:2]],
            )
        ],
        shipper_firm_id="plant",
    )
    await lots.record_transformations(
        graph,
        [
            TransformationRecord(
                id="T-SHOP",
                firm_id="shop",
                site_gln=sites["shop"],
                occurred_at=datetime(2026, 9, 3, 7, 15, tzinfo=NEWFOUNDLAND),
                inputs=[LotQuantity(lot_id=made[0], quantity=2.5, uom="kg")],
                outputs=[LotQuantity(lot_id=shop_lot, quantity=1.0, uom="kg")],
            )
        ],
    )
    return raw, made, shop_lot


async def test_owner_trace_keeps_times_offsets_and_redaction(graph: Graph) -> None:
    raw, made, _shop_lot = await wide_chain(graph)
    result = await execute(graph, TRACE, principal("plant", Role.VIEWER), {"id": raw})
    assert result.errors is None
    assert result.data is not None
    trace = result.data["trace"]
    assert trace["summary"] == {"lotCount": 14, "redactedCount": 1}
    assert trace["lots"][0] == {
        "id": raw,
        "depth": 0,
        "redacted": False,
        "ownerRole": "PLANT",
        "lot": {
            "id": raw,
            "lotNumber": "RAW-1",
            "productGtin": gtin_of_lot(raw),
            "quantity": 30.0,
            "uom": "kg",
            "status": "ACTIVE",
            "producedAt": "2026-09-01T18:00:00.123456+09:00",
            "expiresAt": "2026-12-01T00:00:00+00:00",
        },
    }
    assert [t["lot"]["id"] for t in trace["lots"][1:13]] == sorted(made)
    assert {t["lot"]["producedAt"] for t in trace["lots"][1:13]} == {"2026-09-01T19:00:00.123456+09:00"}
    # shop's salad: plant may not see it, so it comes back redacted at depth 2 with its owner's role
    hidden = trace["lots"][13]
    assert (hidden["depth"], hidden["redacted"], hidden["ownerRole"], hidden["lot"]) == (2, True, "PLANT", None)
    assert not hidden["id"].startswith("urn:")
    assert trace["shipments"] == [
        {
            "id": "SH-1",
            "lotId": lot,
            "quantity": 2.5,
            "uom": "kg",
            "shippedAt": "2026-09-02T06:30:00.500000-03:30",
            "receivedAt": None,
            "redacted": False,
        }
        for lot in sorted(made[:2])
    ]


@pytest.mark.parametrize("firm", ["plant", "shop"])
async def test_the_answer_is_graphql_cores_own(graph: Graph, firm: str) -> None:
    raw, made, _ = await wide_chain(graph)
    # shop traces from the lot it received (one step back): the rest of plant's lots are not its to see
    origin = raw if firm == "plant" else made[0]
    caller = principal(firm, Role.VIEWER)
    fast = await execute(graph, TRACE, caller, {"id": origin})
    slow = await reference(graph, caller, {"id": origin})
    assert fast.errors is None
    assert slow.errors is None
    assert fast.data == slow.data
