"""EPCIS query subscriptions over real HTTP and websockets, with a real signed-webhook receiver.

The DC follows a named query ("shipping events") by webhook and by the standard's websocket. The plant shares its
trace data with the DC for a while: its shipping events are pushed while the grant lasts and not after it is
revoked (decided at each push); a rival's are never pushed; the DC's own always are. An event pushed later than
one that is not pushed marks that the other was passed over, so nothing here waits on a clock.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlmodel import Session, col, select
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from auth.principal import Role
from graph_schema.db import Graph
from graph_schema.epcis.capture import capture as capture_events
from graph_schema.epcis.schedule import parse_schedule
from graph_schema.epcis.validation import validate_event
from graph_schema.notifications import WebhookDelivery
from hub.app import create_app, open_issuer
from hub.epcis_schedule import SubscriptionScheduler
from hub.server import serve_in_thread
from hub.settings import Settings
from hub.sql_store import create_sql_engine
from resolvers.epcis_subscriptions import publish_unpublished
from tests.e2e.hub_settings import hub_settings
from tests.e2e.test_notifications import Receiver, receiver, wait_for  # noqa: F401  (the receiver fixture)
from tests.epcis_chain import document, sgln
from tests.epcis_schema import schema_errors
from tests.factories import register_firms

pytestmark = pytest.mark.neo4j

TOKEN = "dc-chosen-signature-token-0123456789"
GRANT = 'mutation { grantSharing(input: {scope: TRACE, level: DETAIL, toFirmId: "dc"}) { id } }'
ACCESS_LOG = "{ accessLog(first: 10) { edges { node { accessorFirmId operation recordCount } } } }"
QUERY = {"name": "shipping", "query": {"EQ_bizStep": ["shipping"]}}


@pytest.fixture(scope="module")
def settings(neo4j_server: tuple[str, str, str], tmp_path_factory: pytest.TempPathFactory) -> Settings:
    fast = {"notifications_poll_seconds": 0.1, "webhook_retry_base_seconds": 0.2, "webhook_max_attempts": 4}
    return hub_settings(neo4j_server, tmp_path_factory.mktemp("state"), **fast)


@pytest.fixture(scope="module")
def base_url(settings: Settings) -> Iterator[str]:
    with serve_in_thread(create_app(settings), port=settings.port) as url:
        yield url


def bearer(settings: Settings, firm: str, *roles: Role) -> dict[str, str]:
    token = open_issuer(settings).mint(subject=f"app@{firm}", firm_id=firm, roles=list(roles or [Role.ADMIN]))
    return {"Authorization": f"Bearer {token}"}


def shipping(gln: str, event_id: str) -> dict[str, Any]:
    return {
        "type": "ObjectEvent",
        "eventID": event_id,
        "eventTime": "2026-11-28T09:00:00+09:00",
        "eventTimeZoneOffset": "+09:00",
        "action": "OBSERVE",
        "bizStep": "shipping",
        "epcList": [f"urn:epc:id:sscc:8801234.{uuid.uuid4().int % 10**10:010d}"],
        "bizLocation": {"id": sgln(gln)},
    }


async def capture(
    http: httpx.AsyncClient, base_url: str, headers: dict[str, str], events: list[dict[str, Any]]
) -> None:
    answer = await http.post(
        f"{base_url}/epcis/capture",
        content=json.dumps(document(events)),
        headers={**headers, "Content-Type": "application/ld+json"},
    )
    assert answer.status_code == 202, answer.text
    for _ in range(1200):
        job = (await http.get(f"{base_url}{answer.headers['Location']}", headers=headers)).json()
        if not job["running"]:
            assert (job["success"], job["capturedCount"]) == (True, len(events)), job
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the capture job did not finish")


async def graphql(http: httpx.AsyncClient, base_url: str, headers: dict[str, str], query: str) -> dict[str, Any]:
    answer = (await http.post(f"{base_url}/graphql", json={"query": query}, headers=headers)).json()
    assert "errors" not in answer, answer
    return dict(answer["data"])


async def stream(base_url: str, headers: dict[str, str], name: str = "shipping") -> ClientConnection:
    url = base_url.replace("http://", "ws://") + f"/epcis/queries/{name}/events?stream=true"
    return await connect(url, additional_headers=headers, open_timeout=120)


def event_ids(document_: dict[str, Any]) -> list[str]:
    return [event["eventID"] for event in document_["epcisBody"]["queryResults"]["resultsBody"]["eventList"]]


def signed(received: Any) -> dict[str, Any]:
    """The body, once its GS1-Signature is checked with the subscriber's own token."""
    expected = "sha256=" + hmac.new(TOKEN.encode(), received.body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(received.headers["gs1-signature"], expected)
    body: dict[str, Any] = json.loads(received.body)
    assert received.headers["hub-delivery"] == body["id"]
    return body


async def test_pushes_follow_the_subscribers_permissions_at_each_push(
    graph: Graph,
    settings: Settings,
    base_url: str,
    receiver: Receiver,  # noqa: F811
) -> None:
    sites = await register_firms(graph, ["plant", "dc", "rival"])
    plant, dc, rival = (bearer(settings, firm) for firm in ("plant", "dc", "rival"))
    receiver.fail_first["/dc"] = 1  # the DC's receiver is down at first: the push is retried
    async with httpx.AsyncClient(timeout=60) as http:
        await http.delete(f"{base_url}/epcis/queries/shipping", headers=dc)  # the SQL store outlives each test
        created = await http.post(f"{base_url}/epcis/queries", json=QUERY, headers=dc)
        assert created.status_code == 201, created.text
        subscribed = await http.post(
            f"{base_url}/epcis/queries/shipping/subscriptions",
            json={"dest": receiver.url("/dc"), "signatureToken": TOKEN, "stream": True},
            headers=dc,
        )
        assert subscribed.status_code == 201, subscribed.text
        subscription = subscribed.json()
        location = subscribed.headers["Location"]
        assert location == f"/epcis/queries/shipping/subscriptions/{subscription['subscriptionID']}"
        assert "signatureToken" not in subscription  # the subscriber's own: never echoed
        socket = await stream(base_url, dc)
        grant = await graphql(
            http,
            base_url,
            plant,
            'mutation { grantSharing(input: {scope: TRACE, level: DETAIL, toFirmId: "dc"}) { id } }',
        )
        await asyncio.sleep(0.5)  # the socket's subscription is listening (a capture before it is not its concern)

        await capture(http, base_url, plant, [shipping(sites["plant"], "urn:uuid:plant-a")])  # shared: pushed
        await graphql(http, base_url, plant, f'mutation {{ revokeSharing(id: "{grant["grantSharing"]["id"]}") }}')
        await capture(http, base_url, plant, [shipping(sites["plant"], "urn:uuid:plant-b")])  # revoked: not pushed
        await capture(http, base_url, rival, [shipping(sites["rival"], "urn:uuid:rival-c")])  # never pushed
        await capture(http, base_url, dc, [shipping(sites["dc"], "urn:uuid:dc-d")])  # its own: pushed

        pushed = [json.loads(await asyncio.wait_for(socket.recv(), timeout=120)) for _ in range(2)]
        assert [event_ids(each) for each in pushed] == [["urn:uuid:plant-a"], ["urn:uuid:dc-d"]]
        for each in pushed:
            assert each["epcisBody"]["queryResults"]["queryName"] == "shipping"
            assert schema_errors(each) == []
        await socket.close()

        # the webhook: the same two, signed with the DC's token, the first after one refusal (same delivery)
        await wait_for(lambda: len(receiver.at("/dc")) == 3, seconds=30)
        bodies = [signed(received) for received in receiver.at("/dc")]
        assert bodies[0] == bodies[1]
        assert [event_ids(body) for body in bodies[1:]] == [["urn:uuid:plant-a"], ["urn:uuid:dc-d"]]
        assert all(
            body["epcisBody"]["queryResults"]["subscriptionID"] == subscription["subscriptionID"] for body in bodies
        )
        assert all(schema_errors(body) == [] for body in bodies)
        # the deliveries written are these two: nothing was rendered for the revoked or the rival's capture
        engine = create_sql_engine(settings.database_url)
        with Session(engine) as session:
            written = session.exec(
                select(WebhookDelivery).where(col(WebhookDelivery.webhook_id) == subscription["subscriptionID"])
            ).all()
        assert sorted(
            json.loads(row.body)["epcisBody"]["queryResults"]["resultsBody"]["eventList"][0]["eventID"]
            for row in written
        ) == [
            "urn:uuid:dc-d",
            "urn:uuid:plant-a",
        ]

        # the plant's access log says the DC was pushed one of its events
        log = await graphql(
            http,
            base_url,
            plant,
            "{ accessLog(first: 10) { edges { node { accessorFirmId operation recordCount } } } }",
        )
        assert {"accessorFirmId": "dc", "operation": "EPCIS query subscription", "recordCount": 1} in [
            edge["node"] for edge in log["accessLog"]["edges"]
        ]

        listed = (await http.get(f"{base_url}/epcis/queries/shipping/subscriptions", headers=dc)).json()
        assert [each["subscriptionID"] for each in listed] == [subscription["subscriptionID"]]
        gone = await http.delete(f"{base_url}{location}", headers=dc)
        assert gone.status_code == 204
        assert (await http.get(f"{base_url}{location}", headers=dc)).status_code == 404


async def refusal(socket: ClientConnection) -> tuple[dict[str, Any], int | None]:
    """The problem document a refused socket is sent, and the code it is closed with."""
    problem = json.loads(await asyncio.wait_for(socket.recv(), timeout=120))
    with pytest.raises(ConnectionClosed):
        await asyncio.wait_for(socket.recv(), timeout=120)
    return problem, socket.close_code


async def test_what_is_refused_and_what_bounds_a_subscriber(
    graph: Graph,
    settings: Settings,
    base_url: str,
    receiver: Receiver,  # noqa: F811
) -> None:
    sites = await register_firms(graph, ["plant", "dc"])
    plant, dc = bearer(settings, "plant"), bearer(settings, "dc")
    editor = bearer(settings, "dc", Role.EDITOR)
    subscriptions = f"{base_url}/epcis/queries/shipping/subscriptions"
    async with httpx.AsyncClient(timeout=60) as http:
        await http.delete(f"{base_url}/epcis/queries/shipping", headers=dc)  # the SQL store outlives each test
        assert (await http.post(f"{base_url}/epcis/queries", json=QUERY, headers=dc)).status_code == 201
        hook = {"dest": receiver.url("/dc"), "stream": True}
        for body, field in [
            ({**hook, "schedule": {"hour": "1"}}, "stream"),
            ({"dest": receiver.url("/dc")}, "stream"),
            ({**hook, "signatureToken": "short"}, "signatureToken"),
            ({**hook, "initialRecordTime": "2999-01-01T00:00:00Z"}, "initialRecordTime"),
            ({**hook, "reportIfEmpty": True}, "reportIfEmpty"),
            ({"dest": receiver.url("/dc"), "schedule": {"second": "[0-59]"}}, "schedule.second"),
            ({"dest": receiver.url("/dc"), "schedule": {"minute": "=1+1"}}, "schedule.minute"),
            ({"dest": receiver.url("/dc"), "hour": "1"}, "hour"),
            ({**hook, "dest": "ftp://example.com/x"}, "dest"),
            ({**hook, "colour": "red"}, "colour"),
        ]:
            answer = await http.post(subscriptions, json=body, headers=dc)
            assert (answer.status_code, answer.json()["field"]) == (400, field), answer.text
        assert (await http.post(subscriptions, json=hook, headers=editor)).status_code == 403
        # another firm's query of that name is not the plant's to follow: the same answer as no query at all
        answer = await http.post(subscriptions, json=hook, headers=plant)
        assert (answer.status_code, answer.json()["code"]) == (404, "NOT_FOUND")
        assert (await http.post(subscriptions, json=hook)).status_code == 401
        # at most 20 webhook subscriptions per firm
        made = [await http.post(subscriptions, json=hook, headers=dc) for _ in range(20)]
        assert [answer.status_code for answer in made] == [201] * 20
        assert made[0].json()["signatureToken"].startswith("whsec_")  # made by the hub, shown this once
        assert "signatureToken" not in (await http.get(f"{base_url}{made[0].headers['Location']}", headers=dc)).json()
        over = await http.post(subscriptions, json=hook, headers=dc)
        assert (over.status_code, over.json()["code"]) == (429, "LIMIT_EXCEEDED")
        for answer in made[1:]:
            assert (await http.delete(f"{base_url}{answer.headers['Location']}", headers=dc)).status_code == 204
        # deleting the named query ends its subscriptions
        assert (await http.delete(f"{base_url}/epcis/queries/shipping", headers=dc)).status_code == 204
        assert (await http.get(f"{base_url}{made[0].headers['Location']}", headers=dc)).status_code == 404
        assert (await http.post(f"{base_url}/epcis/queries", json=QUERY, headers=dc)).status_code == 201
        assert (await http.get(subscriptions, headers=dc)).json() == []

    # websockets: no token, no stream=true, a schedule, another firm's query
    ws = base_url.replace("http://", "ws://") + "/epcis/queries/shipping/events"
    async with connect(f"{ws}?stream=true", open_timeout=30) as socket:
        problem, code = await refusal(socket)
        assert (problem["status"], problem["code"], code) == (401, "UNAUTHENTICATED", 1008)
    async with connect(ws, additional_headers=dc, open_timeout=30) as socket:
        assert (await refusal(socket))[1] == 1003
    async with connect(f"{ws}?minute=5&hour=1", additional_headers=dc, open_timeout=30) as socket:
        problem, code = await refusal(socket)
        assert ("scheduled subscriptions" in problem["detail"], code) == (True, 1003)
    async with connect(f"{ws}?stream=true", additional_headers=plant, open_timeout=30) as socket:
        assert (await refusal(socket))[0]["status"] == 404
    # at most 10 streams per firm on one hub process
    opened = [await stream(base_url, dc) for _ in range(10)]
    await asyncio.sleep(0.5)  # their subscriptions are listening
    async with connect(f"{ws}?stream=true", additional_headers=dc, open_timeout=30) as socket:
        problem, code = await refusal(socket)
        assert (problem["status"], code) == (429, 1013)

    # one capture matching 1,200 events is pushed as two documents of at most 1,000
    many = [shipping(sites["dc"], f"urn:uuid:{uuid.uuid4()}") for _ in range(1200)]
    async with httpx.AsyncClient(timeout=120) as http:
        await capture(http, base_url, dc, many)
    documents = [json.loads(await asyncio.wait_for(opened[0].recv(), timeout=180)) for _ in range(2)]
    assert [len(event_ids(each)) for each in documents] == [1000, 200]
    assert sorted(event_ids(documents[0]) + event_ids(documents[1])) == sorted(e["eventID"] for e in many)
    for socket in opened:
        await socket.close()


async def test_initial_record_time_and_scheduled_runs_once_across_processes(
    graph: Graph,
    settings: Settings,
    base_url: str,
    receiver: Receiver,  # noqa: F811
) -> None:
    sites = await register_firms(graph, ["plant", "dc", "rival"])
    plant, dc, rival = (bearer(settings, firm) for firm in ("plant", "dc", "rival"))
    morning = {"name": "morning", "query": {"EQ_bizStep": ["shipping"]}}
    before = datetime.now(UTC) - timedelta(minutes=5)
    async with httpx.AsyncClient(timeout=60) as http:
        await http.delete(f"{base_url}/epcis/queries/morning", headers=dc)  # the SQL store outlives each test
        assert (await http.post(f"{base_url}/epcis/queries", json=morning, headers=dc)).status_code == 201
        grant = (await graphql(http, base_url, plant, GRANT))["grantSharing"]["id"]
        # captured before anyone subscribes: the plant's (shared with the DC), the rival's, the DC's own
        await capture(http, base_url, plant, [shipping(sites["plant"], "urn:uuid:plant-early")])
        await capture(http, base_url, rival, [shipping(sites["rival"], "urn:uuid:rival-early")])
        await capture(http, base_url, dc, [shipping(sites["dc"], "urn:uuid:dc-early")])
        early = ["urn:uuid:dc-early", "urn:uuid:plant-early"]

        # initialRecordTime: what was recorded since then is pushed at once, by webhook and by websocket
        subscriptions = f"{base_url}/epcis/queries/morning/subscriptions"
        since = before.isoformat()
        streamed = await http.post(
            subscriptions,
            json={
                "dest": receiver.url("/initial"),
                "stream": True,
                "signatureToken": TOKEN,
                "initialRecordTime": since,
            },
            headers=dc,
        )
        assert streamed.status_code == 201, streamed.text
        assert streamed.json()["initialRecordTime"] == before.astimezone(UTC).isoformat()
        await wait_for(lambda: len(receiver.at("/initial")) == 1, seconds=60)
        assert sorted(event_ids(signed(receiver.at("/initial")[0]))) == early
        url = (
            base_url.replace("http://", "ws://")
            + f"/epcis/queries/morning/events?stream=true&initialRecordTime={since.replace('+', '%2B')}"
        )
        async with connect(url, additional_headers=dc, open_timeout=120) as socket:
            first = json.loads(await asyncio.wait_for(socket.recv(), timeout=120))
        assert sorted(event_ids(first)) == early

        # a schedule: every day at an hour ago's minute and second; its first run tomorrow (the hub's own ticks will
        # not reach it during this test), taken by one of two processes
        ago = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
        daily = {"second": str(ago.second), "minute": str(ago.minute), "hour": str(ago.hour)}
        scheduled = await http.post(
            subscriptions,
            json={
                "dest": receiver.url("/scheduled"),
                "schedule": daily,
                "reportIfEmpty": True,
                "signatureToken": TOKEN,
                "initialRecordTime": since,
            },
            headers=dc,
        )
        assert scheduled.status_code == 201, scheduled.text
        assert (scheduled.json()["stream"], scheduled.json()["schedule"]) == (False, daily)
        # a capture now is streamed to the first subscription, not to the scheduled one
        await capture(http, base_url, dc, [shipping(sites["dc"], "urn:uuid:dc-late")])
        await wait_for(lambda: len(receiver.at("/initial")) == 2, seconds=60)
        assert event_ids(signed(receiver.at("/initial")[1])) == ["urn:uuid:dc-late"]

        engine = create_sql_engine(settings.database_url)
        one, other = SubscriptionScheduler(engine), SubscriptionScheduler(engine)
        tomorrow = ago + timedelta(days=1)
        assert not parse_schedule(daily).matches(tomorrow + timedelta(seconds=1))
        assert sorted([await one.fire_due(tomorrow), await other.fire_due(tomorrow)]) == [0, 1]
        await wait_for(lambda: len(receiver.at("/scheduled")) == 1, seconds=60)
        run = signed(receiver.at("/scheduled")[0])
        assert sorted(event_ids(run)) == ["urn:uuid:dc-early", "urn:uuid:dc-late", "urn:uuid:plant-early"]
        assert run["epcisBody"]["queryResults"]["subscriptionID"] == scheduled.json()["subscriptionID"]
        assert schema_errors(run) == []
        # the plant stops sharing, then ships again: decided at the run, that event is not the DC's to be sent
        await graphql(http, base_url, plant, f'mutation {{ revokeSharing(id: "{grant}") }}')
        await capture(http, base_url, plant, [shipping(sites["plant"], "urn:uuid:plant-late")])
        # so the next day's run finds nothing new it may see: reportIfEmpty sends an empty result, once
        day_after = tomorrow + timedelta(days=1)
        assert sorted([await other.fire_due(day_after), await one.fire_due(day_after)]) == [0, 1]
        assert await one.fire_due(day_after) == 0
        await wait_for(lambda: len(receiver.at("/scheduled")) == 2, seconds=60)
        assert event_ids(signed(receiver.at("/scheduled")[1])) == []
        # the other subscription was sent none of the scheduled runs
        await asyncio.sleep(0.5)
        assert len(receiver.at("/initial")) == 2

    # a capture committed by a process that died before it published: found and pushed by the next one's sweep, once
    lost = validate_event(shipping(sites["dc"], "urn:uuid:dc-lost"), index=0, namespaces={})
    assert not isinstance(lost, list)
    outcome = await capture_events(
        graph,
        lambda: iter([(0, lost)]),
        firm_id="dc",
        capture_id="died-before-publishing",
        proceed=False,
        placeholders=False,
        record_time=datetime.now(UTC),
    )
    assert outcome.committed
    assert await publish_unpublished(graph, engine) == 1
    assert await publish_unpublished(graph, engine) == 0
    await wait_for(lambda: len(receiver.at("/initial")) == 3, seconds=60)
    assert event_ids(signed(receiver.at("/initial")[2])) == ["urn:uuid:dc-lost"]
