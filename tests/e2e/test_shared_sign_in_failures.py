"""Two hub processes sharing one SQL store: wrong secrets spread over both lock the (client, address) out on both."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from graph_schema import parties
from graph_schema.db import Graph
from graph_schema.records import FirmRecord
from hub.app import create_app
from hub.server import free_port, serve_in_thread
from hub.settings import Settings
from tests.e2e.hub_settings import hub_settings
from tests.e2e.test_builtin_issuer import FIRM, Client, create_client, request_token

pytestmark = pytest.mark.neo4j


@pytest.fixture(scope="module", params=[True, False], ids=["shared", "per-process"])
def hubs(
    request: pytest.FixtureRequest, neo4j_server: tuple[str, str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[bool, Settings, str, str]]:
    state = tmp_path_factory.mktemp("state")
    issuer = f"http://127.0.0.1:{free_port()}"
    first, second = (
        hub_settings(
            neo4j_server, state, issuer_url=issuer, oauth_lockout_failures=4, oauth_lockout_shared=request.param
        )
        for _ in range(2)
    )
    with (
        serve_in_thread(create_app(first), port=first.port) as a,
        serve_in_thread(create_app(second), port=second.port) as b,
    ):
        yield request.param, first, a, b


@pytest.fixture
async def member_firm(graph: Graph) -> None:
    await parties.upsert_firms(graph, [FirmRecord(id=FIRM, name="Tofu Maker", roles=["PLANT"])])


def test_failures_on_two_hubs_add_up(
    hubs: tuple[bool, Settings, str, str],
    member_firm: None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    shared, settings, hub_a, hub_b = hubs
    client = create_client(settings, monkeypatch, capsys, "--role", "viewer")
    wrong = Client(client_id=client.client_id, secret="guess", output="")
    for base in (hub_a, hub_b, hub_a, hub_b):  # four wrong secrets, two on each hub
        assert request_token(base, wrong).status_code == 401
    answers = [request_token(base, client) for base in (hub_a, hub_b)]  # the right secret, from the same address
    if shared:
        assert [answer.status_code for answer in answers] == [429, 429]
        assert all(int(answer.headers["retry-after"]) > 0 for answer in answers)
    else:  # the control: each hub saw two failures, under its limit of four
        assert [answer.status_code for answer in answers] == [200, 200]
