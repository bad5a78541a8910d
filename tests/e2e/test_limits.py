"""Hostile requests against a served hub: each limit refuses with its code before anything runs, and an
honest request is answered right after (tests/unit/test_query_limits.py has each GraphQL limit in detail)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest

from auth.principal import Role
from graph_schema.db import Graph
from hub.app import create_app, open_issuer
from hub.server import serve_in_thread
from hub.settings import Settings
from tests.e2e.hub_settings import hub_settings
from tests.factories import register_firms

pytestmark = pytest.mark.neo4j

PROBE_PAGE = "firms(first: 100) { edges { node { id name } } }"


@pytest.fixture(scope="module")
def settings(neo4j_server: tuple[str, str, str], tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return hub_settings(neo4j_server, tmp_path_factory.mktemp("state"))


@pytest.fixture(scope="module")
def base_url(settings: Settings) -> Iterator[str]:
    with serve_in_thread(create_app(settings), port=settings.port) as url:
        yield url


@pytest.fixture
async def viewer(settings: Settings, graph: Graph) -> dict[str, str]:
    await register_firms(graph, ["anchor", "oem1"], roles=["ANCHOR"])
    token = open_issuer(settings).mint(subject="erp", firm_id="anchor", roles=[Role.VIEWER])
    return {"Authorization": f"Bearer {token}"}


def probe(count: int) -> str:
    return "{ " + " ".join(f"f{index}: {PROBE_PAGE}" for index in range(count)) + " }"


@pytest.mark.parametrize(("aliases", "setting"), [(2_000, "HUB_MAX_TOKENS"), (10_000, "HUB_MAX_TOKENS")])
def test_the_alias_probe_is_refused_and_an_honest_query_answered(
    base_url: str, viewer: dict[str, str], aliases: int, setting: str
) -> None:
    refused = httpx.post(f"{base_url}/graphql", json={"query": probe(aliases)}, headers=viewer, timeout=30)
    body = refused.json()
    assert body.get("data") is None
    assert [error["extensions"]["code"] for error in body["errors"]] == ["QUERY_TOO_COMPLEX"]
    assert body["errors"][0]["extensions"]["setting"] == setting
    honest = httpx.post(
        f"{base_url}/graphql", json={"query": "{ lots(first: 5) { totalCount } }"}, headers=viewer, timeout=30
    )
    assert honest.json() == {"data": {"lots": {"totalCount": 0}}}


def test_a_dear_query_says_its_cost_and_the_limit(base_url: str, viewer: dict[str, str]) -> None:
    text = "query($n: Int!) { lots(first: $n) { edges { node { id lotNumber } } } }"
    refused = httpx.post(f"{base_url}/graphql", json={"query": text, "variables": {"n": 10_000}}, headers=viewer)
    (error,) = refused.json()["errors"]
    assert error["extensions"] == {
        "code": "QUERY_TOO_COMPLEX",
        "setting": "HUB_MAX_QUERY_COST",
        "cost": 40_001,
        "limit": 25_000,
    }
    assert "the query's cost is 40001, above the limit of 25000" in error["message"]
    honest = httpx.post(f"{base_url}/graphql", json={"query": text, "variables": {"n": 5}}, headers=viewer)
    assert honest.json() == {"data": {"lots": {"edges": []}}}


def test_a_declared_body_past_the_limit_is_refused_unread(base_url: str, viewer: dict[str, str]) -> None:
    response = httpx.post(
        f"{base_url}/graphql",
        content=b'{"query": "' + b" " * (2 * 1024 * 1024) + b'{ me { firmId } }"}',
        headers={**viewer, "Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json() == {
        "type": "about:blank",
        "title": "Payload too large",
        "status": 413,
        "detail": "this route takes a body of at most 1048576 bytes (HUB_MAX_BODY_KB)",
        "code": "PAYLOAD_TOO_LARGE",
        "limit": 1_048_576,
    }


async def test_a_streamed_body_is_refused_as_soon_as_it_passes_the_limit(base_url: str, viewer: dict[str, str]) -> None:
    """A chunked body with no length: the 413 comes after 1 MiB of it, while the client is still sending."""
    host, port = base_url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(
        b"POST /graphql HTTP/1.1\r\nHost: hub\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\nAuthorization: " + viewer["Authorization"].encode() + b"\r\n\r\n"
    )
    chunk = b" " * 65_536
    sent = 0
    status_line = b""
    try:
        while sent < 200 * 1024 * 1024:  # a 200 MB body, unless the hub stops it first
            writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            await writer.drain()
            sent += len(chunk)
            if sent > 1024 * 1024:
                try:
                    status_line = await asyncio.wait_for(reader.readline(), timeout=0.05)
                except TimeoutError:
                    continue
                break
    except ConnectionError:
        status_line = status_line or await reader.readline()
    finally:
        writer.close()
    assert status_line.startswith(b"HTTP/1.1 413"), status_line
    assert sent < 4 * 1024 * 1024  # refused after 1 MiB, not after reading 200 MB


def test_a_capture_document_may_be_larger_than_other_bodies(base_url: str, viewer: dict[str, str]) -> None:
    document = b'{"type": "EPCISDocument", "padding": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    response = httpx.post(
        f"{base_url}/epcis/capture", content=document, headers={**viewer, "Content-Type": "application/ld+json"}
    )
    assert response.status_code != 413  # HUB_EPCIS_MAX_DOCUMENT_MB (512) applies, not HUB_MAX_BODY_KB


@pytest.fixture(scope="module")
def tight(neo4j_server: tuple[str, str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """A hub allowing each client 3 requests at once (then 1 a second) and each firm 4."""
    settings = hub_settings(
        neo4j_server,
        tmp_path_factory.mktemp("tight"),
        rate_limit_client_per_second=1,
        rate_limit_client_burst=3,
        rate_limit_firm_per_second=1,
        rate_limit_firm_burst=4,
    )
    with serve_in_thread(create_app(settings), port=settings.port):
        yield settings


async def test_past_a_client_or_firm_rate_is_429_with_retry_after(tight: Settings, graph: Graph) -> None:
    await register_firms(graph, ["anchor", "oem1"], roles=["ANCHOR"])
    issuer = open_issuer(tight)

    def bearer(subject: str, firm: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {issuer.mint(subject=subject, firm_id=firm, roles=[Role.VIEWER])}"}

    erp, mes, other = bearer("erp", "anchor"), bearer("mes", "anchor"), bearer("oem-erp", "oem1")
    query = {"query": "{ me { firmId } }"}
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{tight.port}") as client:
        answered = [(await client.post("/graphql", json=query, headers=erp)).status_code for _ in range(4)]
        assert answered == [200, 200, 200, 429]
        refused = await client.post("/graphql", json=query, headers=erp)
        assert refused.status_code == 429
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert refused.headers["retry-after"] == "1"
        assert refused.json()["code"] == "RATE_LIMITED"
        assert "retry in 1 s" in refused.json()["detail"]
        # the firm's fourth request comes from another of its clients; its fifth is one too many
        assert (await client.post("/graphql", json=query, headers=mes)).status_code == 200
        firm_refused = await client.post("/graphql", json=query, headers=mes)
        assert (firm_refused.status_code, firm_refused.json()["code"]) == (429, "RATE_LIMITED")
        # another firm is not slowed down by this one
        assert (await client.post("/graphql", json=query, headers=other)).json() == {"data": {"me": {"firmId": "oem1"}}}
        await asyncio.sleep(1.1)  # Retry-After said 1 s
        assert (await client.post("/graphql", json=query, headers=erp)).status_code == 200
