"""Webhooks through GraphQL, who a recall is told to, and the sweep that publishes what a crash left behind."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from auth.decisions import decide_for_request
from auth.principal import Role
from graph_schema import lots, notifications, recalls
from graph_schema.access import Viewer
from graph_schema.db import Graph
from graph_schema.records import LotQuantity, ShipmentRecord
from resolvers.notifications import publish_unnotified_recalls, render_recall
from tests.factories import T0
from tests.graphql_client import SQL_ENGINE, codes, execute, principal
from tests.integration.conftest import Chain

pytestmark = pytest.mark.neo4j

REGISTER = (
    "mutation($url: String!) { registerWebhook(input: {url: $url, events: [RECALL_DECLARED]})"
    " { id url events secret } }"
)


async def test_a_firms_admin_registers_lists_and_deletes_its_webhooks(graph: Graph, chain: Chain) -> None:
    registered = await execute(graph, REGISTER, principal("farm"), {"url": "https://8.8.8.8/hooks/recalls"})
    assert registered.errors is None, registered.errors
    assert registered.data is not None
    hook = registered.data["registerWebhook"]
    assert hook["secret"].startswith("whsec_")
    assert hook["events"] == ["RECALL_DECLARED"]
    listed = await execute(graph, "{ webhooks { id url secret deliveries { id } } }", principal("farm"))
    assert listed.data == {
        "webhooks": [{"id": hook["id"], "url": "https://8.8.8.8/hooks/recalls", "secret": None, "deliveries": []}]
    }
    # another firm sees none of it and cannot delete it
    assert (await execute(graph, "{ webhooks { id } }", principal("rival"))).data == {"webhooks": []}
    delete = "mutation($id: ID!) { deleteWebhook(id: $id) }"
    stranger = await execute(graph, delete, principal("rival"), {"id": hook["id"]})
    assert codes(stranger) == ["NOT_FOUND"]
    assert (await execute(graph, delete, principal("farm"), {"id": hook["id"]})).data == {"deleteWebhook": True}
    assert (await execute(graph, "{ webhooks { id } }", principal("farm"))).data == {"webhooks": []}


@pytest.mark.parametrize("role", [Role.VIEWER, Role.EDITOR, Role.RECALL_COORDINATOR, Role.AUDITOR])
async def test_only_the_firms_admin_manages_webhooks(graph: Graph, chain: Chain, role: Role) -> None:
    caller = principal("farm", role)
    assert codes(await execute(graph, REGISTER, caller, {"url": "https://8.8.8.8/h"})) == ["FORBIDDEN"]
    assert codes(await execute(graph, "{ webhooks { id } }", caller)) == ["FORBIDDEN"]


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:9/h", "http://localhost/h", "http://10.0.0.8/h", "http://169.254.169.254/latest"]
)
async def test_a_webhook_into_the_hubs_own_network_is_refused_in_production(graph: Graph, url: str) -> None:
    # the test client's context has no notifier: URLs are checked as in production
    result = await execute(graph, REGISTER, principal("farm"), {"url": url})
    assert codes(result) == ["BAD_USER_INPUT"]
    assert result.errors is not None
    assert result.errors[0].extensions == {"code": "BAD_USER_INPUT", "field": "input.url"}
    assert "public address" in result.errors[0].message


async def test_hostile_webhook_input_is_refused_with_the_field(graph: Graph) -> None:
    huge = await execute(graph, REGISTER, principal("farm"), {"url": "https://8.8.8.8/" + "a" * 100_000})
    assert codes(huge) == ["BAD_USER_INPUT"]
    scheme = await execute(graph, REGISTER, principal("farm"), {"url": "gopher://8.8.8.8/"})
    assert codes(scheme) == ["BAD_USER_INPUT"]
    none = await execute(
        graph, 'mutation { registerWebhook(input: {url: "https://8.8.8.8/", events: []}) { id } }', principal("farm")
    )
    assert codes(none) == ["BAD_USER_INPUT"]
    for _ in range(notifications.MAX_WEBHOOKS_PER_FIRM):
        assert (await execute(graph, REGISTER, principal("farm"), {"url": "https://8.8.8.8/"})).errors is None
    assert codes(await execute(graph, REGISTER, principal("farm"), {"url": "https://8.8.8.8/"})) == ["BAD_USER_INPUT"]


async def _ship_tofu_to_rival(graph: Graph, chain: Chain) -> None:
    await lots.record_shipments(
        graph,
        [
            ShipmentRecord(
                id="DESADV-2",
                from_gln=chain.sites["plant"],
                to_gln=chain.sites["rival"],
                shipped_at=T0 + timedelta(days=2),
                items=[LotQuantity(lot_id=chain.tofu, quantity=100.0, uom="kg")],
            )
        ],
        shipper_firm_id="plant",
    )


async def _declare(graph: Graph, chain: Chain, lot: str) -> str:
    row = await recalls.declare_recall(
        graph,
        Viewer(firm_id="plant", detail_firm_ids=frozenset({"plant"})),
        recall_id=f"recall-{lot[-8:]}",
        lot_ids=[lot],
        reason="undeclared allergen",
        recall_class="I",
        overseer=False,
        now=datetime.now(UTC),
    )
    return str(row["id"])


async def test_a_recall_is_told_to_the_owners_and_receivers_of_its_lots_and_they_may_read_it(
    graph: Graph, chain: Chain
) -> None:
    await _ship_tofu_to_rival(graph, chain)
    recall_id = await _declare(graph, chain, chain.tofu)
    # the tofu (plant's, shipped to the rival) and its soybeans upstream (the farm's, shipped to the plant)
    assert await recalls.recall_audience(graph, recall_id=recall_id) == {"plant", "rival", "farm"}
    query = "query($id: ID!) { recall(id: $id) { id affectedLots { edges { node { redacted lot { id } } } } } }"
    answer = await execute(graph, query, principal("rival"), {"id": recall_id})
    assert answer.errors is None, answer.errors
    assert answer.data is not None
    nodes = [e["node"] for e in answer.data["recall"]["affectedLots"]["edges"]]
    assert [n["lot"]["id"] for n in nodes if not n["redacted"]] == [chain.tofu]  # its own receipt; not the soybeans
    assert len(nodes) == 2


async def test_a_firm_holding_no_affected_lot_is_rendered_nothing(graph: Graph, chain: Chain) -> None:
    recall_id = await _declare(graph, chain, chain.tofu)
    rival = await decide_for_request(graph, principal("rival"))
    assert await render_recall(graph, rival, {"recallId": recall_id}) is None
    farm = await decide_for_request(graph, principal("farm"))
    told = await render_recall(graph, farm, {"recallId": recall_id})
    assert told is not None
    assert [lot["id"] for lot in told["recall"]["yourLots"]] == [chain.soy]
    assert told["recall"]["otherLotCount"] == 1
    assert chain.tofu not in str(told["recall"]["yourLots"])


async def test_a_recall_event_a_crash_left_unpublished_is_published_once_by_the_sweep(
    graph: Graph, chain: Chain
) -> None:
    # declared straight in the graph, as if the process died before publishing
    recall_id = await _declare(graph, chain, chain.soy)
    assert await publish_unnotified_recalls(graph, SQL_ENGINE, older_than_seconds=60) == 0  # too young to sweep
    assert await publish_unnotified_recalls(graph, SQL_ENGINE, older_than_seconds=0) == 1
    assert await publish_unnotified_recalls(graph, SQL_ENGINE, older_than_seconds=0) == 0
    # a publish that reached the outbox but not the graph's marker: the sweep's publish writes nothing new
    await recalls.close_recall(graph, recall_id=recall_id, firm_id="plant", now=datetime.now(UTC))
    await notifications.publish(
        SQL_ENGINE, kind="RECALL_CLOSED", payload={"recallId": recall_id}, key=f"RECALL_CLOSED:{recall_id}"
    )
    assert await publish_unnotified_recalls(graph, SQL_ENGINE, older_than_seconds=0) == 1
    events = notifications.events_after(SQL_ENGINE, after_id=0)
    assert [(e.kind, e.payload) for e in events] == [
        ("RECALL_DECLARED", {"recallId": recall_id}),
        ("RECALL_CLOSED", {"recallId": recall_id}),
    ]


async def test_declare_recall_through_graphql_publishes_its_event(graph: Graph, chain: Chain) -> None:
    declared = await execute(
        graph,
        'mutation($lots: [ID!]!) { declareRecall(input: {lotIds: $lots, reason: "mould", recallClass: II}) { id } }',
        principal("plant", Role.RECALL_COORDINATOR),
        {"lots": [chain.tofu]},
    )
    assert declared.errors is None, declared.errors
    assert declared.data is not None
    recall_id = declared.data["declareRecall"]["id"]
    assert [(e.kind, e.payload) for e in notifications.events_after(SQL_ENGINE, after_id=0)] == [
        ("RECALL_DECLARED", {"recallId": recall_id})
    ]
    assert await publish_unnotified_recalls(graph, SQL_ENGINE, older_than_seconds=0) == 0  # marked published
