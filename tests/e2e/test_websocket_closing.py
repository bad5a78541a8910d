"""A websocket is closed when its token expires (4401) or when the API client that got the token is revoked
(4403), with subscriptions running on it."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from auth.clients import create_client, revoke_client
from auth.people import PasswordHashing, create_account, disable_account
from auth.principal import Role
from hub.app import create_app, open_issuer
from hub.server import serve_in_thread
from hub.settings import Settings
from hub.sql_store import create_sql_engine
from tests.e2e.hub_settings import hub_settings
from tests.integration.conftest import Chain, chain  # noqa: F401  (the fixture, shared with the integration tests)

pytestmark = pytest.mark.neo4j


@pytest.fixture
def served(neo4j_server: tuple[str, str, str], tmp_path: Path) -> Iterator[tuple[Settings, str]]:
    settings = hub_settings(neo4j_server, tmp_path, websocket_recheck_seconds=0.3)
    with serve_in_thread(create_app(settings), port=settings.port) as url:
        yield settings, url


async def signed_in(url: str, token: str) -> ClientConnection:
    ws = await connect(url.replace("http://", "ws://") + "/graphql", subprotocols=["graphql-transport-ws"])  # type: ignore[list-item]
    await ws.send(json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}))
    assert json.loads(await ws.recv())["type"] == "connection_ack"
    await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": "{ me { firmId } }"}}))
    assert json.loads(await ws.recv())["type"] == "next"
    assert json.loads(await ws.recv())["type"] == "complete"
    await ws.send(
        json.dumps({"id": "2", "type": "subscribe", "payload": {"query": "subscription { recallDeclared { id } }"}})
    )
    return ws


async def closed_with(ws: ClientConnection, *, within: float) -> tuple[int, str]:
    """The close code and reason the server sends within ``within`` seconds (nothing else may arrive before)."""
    try:
        message = await asyncio.wait_for(ws.recv(), timeout=within)
    except ConnectionClosed as closed:
        frame = closed.rcvd
        assert frame is not None, "the server closed without a close frame"
        return frame.code, frame.reason
    raise AssertionError(f"the server sent {message!r} instead of closing")


async def test_a_websocket_is_closed_when_its_token_expires(
    served: tuple[Settings, str],
    chain: Chain,  # noqa: F811
) -> None:
    settings, url = served
    short = dataclasses.replace(open_issuer(settings), ttl_seconds=3)
    token = short.mint(subject="app", firm_id="farm", roles=[Role.VIEWER])
    expires_at = time.time() + 3
    ws = await signed_in(url, token)
    code, reason = await closed_with(ws, within=10)
    assert code == 4401
    assert "expired" in reason
    assert time.time() >= expires_at - 1  # at its expiry, not before (exp has whole seconds)
    assert time.time() < expires_at + 2


async def test_a_websocket_is_closed_when_its_api_client_is_revoked(
    served: tuple[Settings, str],
    chain: Chain,  # noqa: F811
) -> None:
    settings, url = served
    engine = create_sql_engine(settings.database_url)
    try:
        client_id, secret = await create_client(engine, firm_id="farm", roles=[Role.VIEWER])
        async with httpx.AsyncClient() as http:
            answer = await http.post(
                url + "/oauth/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret)
            )
        assert answer.status_code == 200, answer.text
        ws = await signed_in(url, answer.json()["access_token"])
        other = await signed_in(url, open_issuer(settings).mint(subject="app", firm_id="farm", roles=[Role.VIEWER]))
        assert await revoke_client(engine, client_id)
        revoked_at = time.monotonic()
        code, reason = await closed_with(ws, within=10)
        assert code == 4403
        assert "revoked" in reason
        assert time.monotonic() - revoked_at < 3  # within a few rechecks of 0.3 s
        # a connection of another token of the same firm stays open and answers
        await other.send(json.dumps({"id": "3", "type": "subscribe", "payload": {"query": "{ me { firmId } }"}}))
        assert json.loads(await other.recv())["payload"] == {"data": {"me": {"firmId": "farm"}}}
        await other.close()
    finally:
        engine.dispose()


async def test_a_websocket_is_closed_when_its_persons_account_is_disabled(
    served: tuple[Settings, str],
    chain: Chain,  # noqa: F811
) -> None:
    settings, url = served
    engine = create_sql_engine(settings.database_url)
    try:
        account = await create_account(
            engine,
            username="farm-hand",
            password="quiet harbour lantern 1987",
            firm_id="farm",
            roles=[Role.VIEWER],
            hashing=PasswordHashing(time_cost=1, memory_kib=8192),
        )
        issuer = open_issuer(settings)
        ws = await signed_in(url, issuer.mint(subject=account.subject, firm_id="farm", roles=account.role_set))
        assert await disable_account(engine, "farm-hand") is not None
        disabled_at = time.monotonic()
        code, reason = await closed_with(ws, within=10)
        assert (code, reason) == (4403, "the account was disabled")
        assert time.monotonic() - disabled_at < 3  # within a few rechecks of 0.3 s
    finally:
        engine.dispose()
