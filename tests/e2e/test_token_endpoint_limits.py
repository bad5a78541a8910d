"""The token endpoint under attack: wrong secrets from elsewhere lock nobody else out; a flood of them costs a
bounded share of the hashing, and a client that has proved its secret still gets its tokens meanwhile."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Iterator

import httpx
import pytest

from graph_schema import parties
from graph_schema.db import Graph
from graph_schema.records import FirmRecord
from hub.app import create_app
from hub.server import free_port, serve_in_thread
from hub.settings import Environment, Settings
from tests.e2e.hub_settings import hub_settings
from tests.e2e.test_builtin_issuer import FIRM, Client, assert_oauth_error, create_client

pytestmark = pytest.mark.neo4j

ELSEWHERE = "127.0.0.2"  # another source address on the loopback network


def hub_with(
    neo4j_server: tuple[str, str, str], tmp_path_factory: pytest.TempPathFactory, **limits: object
) -> Settings:
    port = free_port()
    return hub_settings(
        neo4j_server,
        tmp_path_factory.mktemp("state"),
        env=Environment.DEVELOPMENT,
        port=port,
        issuer_url=f"http://127.0.0.1:{port}",
        **limits,
    )


@pytest.fixture(scope="module")
def settings(neo4j_server: tuple[str, str, str], tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return hub_with(neo4j_server, tmp_path_factory)


@pytest.fixture(scope="module")
def base_url(settings: Settings) -> Iterator[str]:
    with serve_in_thread(create_app(settings), port=settings.port) as url:
        yield url


@pytest.fixture(scope="module")
def tight(neo4j_server: tuple[str, str, str], tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """A hub that hashes at most two secrets a second, one at a time."""
    return hub_with(
        neo4j_server, tmp_path_factory, oauth_secret_checks_per_second=2.0, oauth_concurrent_secret_checks=1
    )


@pytest.fixture(scope="module")
def tight_url(tight: Settings) -> Iterator[str]:
    with serve_in_thread(create_app(tight), port=tight.port) as url:
        yield url


@pytest.fixture(autouse=True)
async def member_firm(graph: Graph) -> None:
    await parties.upsert_firms(graph, [FirmRecord(id=FIRM, name="Tofu Maker", roles=["PLANT"])])


def token_from(base_url: str, client: Client, *, address: str = "127.0.0.1") -> httpx.Response:
    with httpx.Client(transport=httpx.HTTPTransport(local_address=address), timeout=30) as http:
        return http.post(
            f"{base_url}/oauth/token", data={"grant_type": "client_credentials"}, auth=(client.client_id, client.secret)
        )


def test_wrong_secrets_from_elsewhere_lock_out_only_that_address(
    base_url: str, settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    client = create_client(settings, monkeypatch, capsys, "--role", "viewer")
    guesser = Client(client_id=client.client_id, secret="guess", output="")
    for _ in range(settings.oauth_lockout_failures):
        assert_oauth_error(token_from(base_url, guesser, address=ELSEWHERE), 401, "invalid_client")
    locked = token_from(base_url, client, address=ELSEWHERE)  # even the right secret, from there
    body = assert_oauth_error(locked, 429, "invalid_client")
    assert body["error_description"].startswith("too many failed attempts for this client from your address")
    assert 0 < int(locked.headers["retry-after"]) <= settings.oauth_lockout_seconds
    # the real client, at its own address, is not locked out
    real = token_from(base_url, client)
    assert real.status_code == 200, real.text
    assert real.json()["token_type"] == "Bearer"


async def flood(base_url: str, client: Client) -> tuple[list[httpx.Response], httpx.Response]:
    """40 wrong secrets of made-up clients at once, then the real client's request."""

    async def guess(http: httpx.AsyncClient) -> httpx.Response:
        made_up = (secrets.token_hex(16), "wrong")
        return await http.post(f"{base_url}/oauth/token", data={"grant_type": "client_credentials"}, auth=made_up)

    async with httpx.AsyncClient(timeout=30) as http:
        answers = await asyncio.gather(*(guess(http) for _ in range(40)))
        during = await http.post(
            f"{base_url}/oauth/token", data={"grant_type": "client_credentials"}, auth=(client.client_id, client.secret)
        )
    return list(answers), during


def test_a_flood_of_wrong_secrets_is_refused_past_the_hashing_budget(
    tight_url: str, tight: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    client = create_client(tight, monkeypatch, capsys, "--role", "viewer")  # (the hub command runs its own loop)
    time.sleep(1.1)  # a full bucket
    assert token_from(tight_url, client).status_code == 200  # its secret proved once, by scrypt
    answers, during = asyncio.run(flood(tight_url, client))
    statuses = [answer.status_code for answer in answers]
    hashed = statuses.count(401)
    refused = [answer for answer in answers if answer.status_code == 429]
    assert hashed + len(refused) == 40
    assert hashed <= 4, statuses  # the bucket's two, and what it refilled while the flood lasted
    assert len(refused) >= 36
    for answer in refused:
        body = assert_oauth_error(answer, 429, "temporarily_unavailable")
        assert body["error_description"].startswith("the hub is checking as many client secrets as it can")
        assert int(answer.headers["retry-after"]) >= 1
    # the budget is spent, yet the client that proved its secret gets its token (no scrypt needed)
    assert during.status_code == 200, during.text


def test_a_revoked_client_is_refused_even_when_its_secret_was_proved_lately(
    base_url: str, settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.e2e.test_builtin_issuer import hub

    client = create_client(settings, monkeypatch, capsys, "--role", "viewer")
    assert token_from(base_url, client).status_code == 200
    hub(settings, monkeypatch, capsys, "clients", "revoke", client.client_id)
    assert_oauth_error(token_from(base_url, client), 401, "invalid_client")
