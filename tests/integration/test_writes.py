"""Writes: constraints reject duplicates, references are checked, a rejected batch writes nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from neo4j.exceptions import ConstraintError

from auth.principal import Role
from graph_schema import lots, parties
from graph_schema.constraints import apply_schema, schema_statements
from graph_schema.db import Graph
from graph_schema.errors import Conflict, Forbidden, NotFound
from graph_schema.identifiers import lgtin_for
from graph_schema.model import NATURAL_KEYS
from graph_schema.records import LotQuantity, LotRecord, ProductRecord, ShipmentRecord, TransformationRecord
from tests.factories import T0, gln, gtin, register_firms
from tests.graphql_client import codes, execute, principal

pytestmark = pytest.mark.neo4j


@pytest.mark.parametrize(("label", "key"), [(label.value, key) for label, key in NATURAL_KEYS.items()])
async def test_constraints_reject_a_second_node_with_the_same_key(graph: Graph, label: str, key: str) -> None:
    await graph.driver.execute_query(f"CREATE (:{label} {{{key}: 'dup'}})")
    with pytest.raises(ConstraintError):
        await graph.driver.execute_query(f"CREATE (:{label} {{{key}: 'dup'}})")


async def test_schema_apply_is_idempotent(graph: Graph) -> None:
    assert await apply_schema(graph) == len(schema_statements())
    result = await graph.driver.execute_query("SHOW CONSTRAINTS YIELD name RETURN count(*) AS n")
    before = result.records[0]["n"]
    await apply_schema(graph)
    result = await graph.driver.execute_query("SHOW CONSTRAINTS YIELD name RETURN count(*) AS n")
    assert result.records[0]["n"] == before == len(NATURAL_KEYS)


async def lot_count(graph: Graph) -> int:
    return int((await graph.read("MATCH (l:Lot) RETURN count(l) AS n"))[0]["n"])


async def test_a_batch_with_one_bad_lot_writes_nothing(graph: Graph) -> None:
    sites = await register_firms(graph, ["maker", "other"])
    product = gtin()
    await parties.upsert_products(
        graph, [ProductRecord(gtin=product, owner_firm_id="maker", name="Kimchi", category="kimchi", uom="kg")]
    )
    good = [
        LotRecord(
            id=lgtin_for(product, f"G{i}"),
            owner_firm_id="maker",
            site_gln=sites["maker"],
            quantity=1.0,
            uom="kg",
            produced_at=T0,
        )
        for i in range(3)
    ]
    at_foreign_site = LotRecord(
        id=lgtin_for(product, "BAD"),
        owner_firm_id="maker",
        site_gln=sites["other"],
        quantity=1.0,
        uom="kg",
        produced_at=T0,
    )
    with pytest.raises(Forbidden, match=r"lots\[3\]: the site belongs to another firm") as raised:
        await lots.record_lots(graph, [*good, at_foreign_site])
    assert raised.value.field == "lots[3].siteGln"
    assert await lot_count(graph) == 0

    unknown_product = LotRecord(
        id=lgtin_for(gtin(), "X"),
        owner_firm_id="maker",
        site_gln=sites["maker"],
        quantity=1.0,
        uom="kg",
        produced_at=T0,
    )
    with pytest.raises(NotFound, match=r"lots\[1\]: no product is registered"):
        await lots.record_lots(graph, [good[0], unknown_product])
    assert await lot_count(graph) == 0

    assert await lots.record_lots(graph, good) == 3
    assert await lots.record_lots(graph, good) == 0  # idempotent on the LGTIN
    assert await lot_count(graph) == 3
    stolen = LotRecord(
        id=good[0].id, owner_firm_id="other", site_gln=sites["other"], quantity=1.0, uom="kg", produced_at=T0
    )
    with pytest.raises(Conflict):
        await lots.record_lots(graph, [stolen])


async def test_transformations_and_shipments_check_who_holds_the_lots(graph: Graph) -> None:
    sites = await register_firms(graph, ["farm", "plant"])
    product = gtin()
    await parties.upsert_products(
        graph, [ProductRecord(gtin=product, owner_firm_id="farm", name="Soybean", category="raw", uom="kg")]
    )
    soy, tofu = lgtin_for(product, "SOY"), lgtin_for(product, "TOFU")
    await lots.record_lots(
        graph,
        [
            LotRecord(id=soy, owner_firm_id="farm", site_gln=sites["farm"], quantity=5.0, uom="kg", produced_at=T0),
            LotRecord(id=tofu, owner_firm_id="plant", site_gln=sites["plant"], quantity=5.0, uom="kg", produced_at=T0),
        ],
    )
    make_tofu = TransformationRecord(
        id="T",
        firm_id="plant",
        site_gln=sites["plant"],
        occurred_at=T0,
        inputs=[LotQuantity(lot_id=soy, quantity=1.0, uom="kg")],
        outputs=[LotQuantity(lot_id=tofu, quantity=1.0, uom="kg")],
    )
    with pytest.raises(Forbidden, match=r"input lot .* is neither yours nor shipped to you"):
        await lots.record_transformations(graph, [make_tofu])
    plant_ships_farm_lot = ShipmentRecord(
        id="S0",
        from_gln=sites["plant"],
        to_gln=sites["farm"],
        shipped_at=T0,
        items=[LotQuantity(lot_id=soy, quantity=1.0, uom="kg")],
    )
    with pytest.raises(Forbidden):
        await lots.record_shipments(graph, [plant_ships_farm_lot], shipper_firm_id="plant")
    await lots.record_shipments(
        graph,
        [
            ShipmentRecord(
                id="S1",
                from_gln=sites["farm"],
                to_gln=sites["plant"],
                shipped_at=T0,
                items=[LotQuantity(lot_id=soy, quantity=5.0, uom="kg")],
            )
        ],
        shipper_firm_id="farm",
    )
    await lots.record_transformations(graph, [make_tofu])
    again_elsewhere = make_tofu.model_copy(update={"id": "T2"})
    with pytest.raises(Conflict, match="already made by another transformation"):
        await lots.record_transformations(graph, [again_elsewhere])
    with pytest.raises(NotFound):
        await lots.receive_shipment(graph, shipment_id="S1", firm_id="farm", received_at=T0 + timedelta(hours=1))
    await lots.receive_shipment(graph, shipment_id="S1", firm_id="plant", received_at=T0 + timedelta(hours=1))


REGISTER_SITE = """mutation($in: SiteInput!) { registerSite(input: $in) { gln name kind firm { id } } }"""
RECORD_LOTS = """mutation($in: [LotInput!]!) { recordLots(input: $in) { id quantity owner { id } } }"""


async def test_mutations_go_through_the_permission_decision(graph: Graph) -> None:
    await register_firms(graph, ["agency"], roles=["AGENCY"])
    new_firm = """mutation { registerFirm(input: {id: "sprouts", name: "Sprout Co", nameKo: "새싹", roles: [PLANT]})
                  { id name nameKo roles } }"""
    refused = await execute(graph, new_firm, principal("agency", Role.EDITOR))
    assert codes(refused) == ["FORBIDDEN"]
    admitted = await execute(graph, new_firm, principal("agency", Role.ADMIN))
    assert admitted.data == {
        "registerFirm": {"id": "sprouts", "name": "Sprout Co", "nameKo": "새싹", "roles": ["PLANT"]}
    }
    assert codes(await execute(graph, new_firm, principal("sprouts", Role.ADMIN))) == ["FORBIDDEN"]

    site = {"gln": gln(), "firmId": "sprouts", "name": "Sprout plant", "kind": "PLANT", "region": "Gyeonggi"}
    assert codes(await execute(graph, REGISTER_SITE, principal("agency"), {"in": site})) == ["FORBIDDEN"]
    assert codes(await execute(graph, REGISTER_SITE, principal("sprouts", Role.VIEWER), {"in": site})) == ["FORBIDDEN"]
    ok = await execute(graph, REGISTER_SITE, principal("sprouts", Role.EDITOR), {"in": site})
    assert ok.data == {
        "registerSite": {"gln": site["gln"], "name": "Sprout plant", "kind": "PLANT", "firm": {"id": "sprouts"}}
    }
    bad_gln = await execute(graph, REGISTER_SITE, principal("sprouts"), {"in": {**site, "gln": "8800000000011"}})
    assert codes(bad_gln) == ["BAD_USER_INPUT"]
    assert bad_gln.errors is not None
    assert "check digit" in bad_gln.errors[0].message

    product = gtin()
    registered = await execute(
        graph,
        """mutation($g: String!) { registerProduct(input: {gtin: $g, name: "Bean sprouts",
        nameKo: "콩나물", category: "sprouts", uom: "kg"}) { gtin brandOwner { id } } }""",
        principal("sprouts"),
        {"g": product},
    )
    assert registered.data == {"registerProduct": {"gtin": product, "brandOwner": {"id": "sprouts"}}}

    batch = [
        {
            "id": lgtin_for(product, f"B{i}"),
            "siteGln": site["gln"],
            "quantity": 20.0,
            "uom": "kg",
            "producedAt": "2026-09-02T06:00:00+09:00",
        }
        for i in range(2)
    ]
    naive_time = [*batch, {**batch[0], "id": lgtin_for(product, "B9"), "producedAt": "2026-09-02T06:00:00"}]
    rejected = await execute(graph, RECORD_LOTS, principal("sprouts"), {"in": naive_time})
    assert codes(rejected) == ["BAD_USER_INPUT"]
    assert rejected.errors is not None
    assert rejected.errors[0].message.startswith("input[2].producedAt")
    assert await lot_count(graph) == 0
    written = await execute(graph, RECORD_LOTS, principal("sprouts"), {"in": batch})
    assert written.data == {
        "recordLots": [{"id": b["id"], "quantity": 20.0, "owner": {"id": "sprouts"}} for b in batch]
    }
