"""Operating the hub over real HTTP: slow and oversized headers, the concurrency limit, bounded metrics, request
ids in responses and logs, CORS for named partner apps only, and data files for the hub's user only."""

from __future__ import annotations

import json
import logging
import os
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from auth.principal import Role
from graph_schema import parties
from graph_schema.db import Graph
from graph_schema.records import FirmRecord
from hub.app import create_app, open_issuer
from hub.logs import JsonFormatter
from hub.server import HEADER_TIMEOUT_VARIABLE, free_port, serve_in_thread, uvicorn_options
from hub.settings import Settings
from hub.tracing import tracing_middleware
from tests.e2e.hub_settings import hub_settings
from tests.epcis_chain import document

pytestmark = pytest.mark.neo4j

PARTNER = "https://app.partner.example"
UNSERVED_METHODS = ("PROPFIND", "MKCOL", "LOCK", "UNLOCK", "PURGE", "SEARCH", "REPORT", "LINK")


@pytest.fixture
def settings(neo4j_server: tuple[str, str, str], tmp_path: Path) -> Settings:
    return hub_settings(
        neo4j_server,
        tmp_path / "state",
        http_header_timeout_seconds=1.0,
        http_max_concurrency=3,
        cors_origins=[PARTNER],
    )


@pytest.fixture
def base_url(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv(HEADER_TIMEOUT_VARIABLE, "1.0")  # restored after the test; uvicorn_options sets it too
    with serve_in_thread(create_app(settings), port=settings.port, **uvicorn_options(settings)) as url:
        yield url


def raw_connection(base_url: str) -> socket.socket:
    host, port = base_url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=10)


def closed_after(sock: socket.socket, *, drip: bytes = b"", every: float = 0.3, limit: float = 8.0) -> float:
    """Seconds until the server closes ``sock`` while the client sends ``drip`` every ``every`` seconds."""
    started = time.monotonic()
    sock.settimeout(every)
    while time.monotonic() - started < limit:
        try:
            if sock.recv(4096) == b"":
                return time.monotonic() - started
        except TimeoutError:
            pass
        except ConnectionResetError:
            return time.monotonic() - started
        if drip:
            try:
                sock.sendall(drip)
            except (BrokenPipeError, ConnectionResetError):
                return time.monotonic() - started
    raise AssertionError(f"the connection was still open after {limit} s")


def test_a_client_that_never_finishes_its_headers_is_dropped(base_url: str) -> None:
    with raw_connection(base_url) as silent:
        silent_seconds = closed_after(silent)
    with raw_connection(base_url) as slowloris:
        slowloris.sendall(b"GET /healthz HTTP/1.1\r\nHost: hub\r\n")
        dripping_seconds = closed_after(slowloris, drip=b"X")  # one byte of a header every 0.3 s
    print(f"header timeout 1 s: a silent client dropped after {silent_seconds:.1f} s, a dripping one after "
          f"{dripping_seconds:.1f} s")  # fmt: skip
    with raw_connection(base_url) as kept_alive:  # after one answered request, blank lines dripped (no message)
        kept_alive.sendall(b"GET /healthz HTTP/1.1\r\nHost: hub\r\n\r\n")
        assert kept_alive.recv(4096).startswith(b"HTTP/1.1 200")
        blank_seconds = closed_after(kept_alive, drip=b"\r\n", every=0.2)
    assert blank_seconds < 5  # the keep-alive timeout (5 s) is reset by every byte: the head deadline closes it
    # keep-alive: a second request on the same connection is served, headers sent at once
    with httpx.Client() as client:
        assert [client.get(f"{base_url}/healthz").status_code for _ in range(2)] == [200, 200]


def test_oversized_headers_are_refused(base_url: str) -> None:
    at_once = httpx.get(f"{base_url}/healthz", headers={"X-Padding": "x" * 40_000})
    assert (at_once.status_code, at_once.json()["status"]) == (431, 431)
    with raw_connection(base_url) as dripping:  # the same block in pieces never reaches the app
        dripping.sendall(b"GET /healthz HTTP/1.1\r\nHost: hub\r\nX-Padding: " + b"x" * 40_000)
        answer = dripping.recv(4096)
        assert answer.startswith(b"HTTP/1.1 431"), answer
        assert b'"code":"BAD_USER_INPUT"' in answer
        assert dripping.recv(4096) == b""  # and the connection is closed: the parser buffers no more of it


def test_past_the_concurrency_limit_the_hub_answers_503(base_url: str) -> None:
    held = [raw_connection(base_url) for _ in range(3)]
    try:
        time.sleep(0.2)
        response = httpx.get(f"{base_url}/healthz")
        assert response.status_code == 503
    finally:
        for sock in held:
            sock.close()
    time.sleep(0.2)
    assert httpx.get(f"{base_url}/healthz").status_code == 200


async def test_made_up_methods_and_routes_add_no_metric_series(graph: Graph, settings: Settings, base_url: str) -> None:
    await parties.upsert_firms(graph, [FirmRecord(id="agency", name="HACCP agency", roles=["AGENCY"])])
    token = open_issuer(settings).mint(subject="ops@agency", firm_id="agency", roles=(Role.ADMIN,))
    admin = {"Authorization": f"Bearer {token}"}
    with httpx.Client() as client:

        def probe(batch: int) -> int:
            # the probe: 300 requests with made-up methods (they added 5,000 lines before); the HTTP parser
            # (llhttp) refuses a method HTTP does not define with a 400 before the app, and methods it knows that
            # the hub serves nowhere (WebDAV's, PURGE) reach the app and are counted as method "other"
            for i in range(300):
                path = f"{base_url}/{'graphql' if i % 2 else f'x{batch}-{i}'}"
                if i % 3:
                    assert client.request(f"M{batch}X{i}", path).status_code == 400
                else:
                    assert client.request(UNSERVED_METHODS[i % len(UNSERVED_METHODS)], path).status_code in (404, 405)
            metrics = client.get(f"{base_url}/metrics", headers=admin)
            assert metrics.status_code == 200
            assert 'method="other"' in metrics.text
            assert f"M{batch}X1" not in metrics.text
            return metrics.text.count("\n")

        start = client.get(f"{base_url}/metrics", headers=admin).text.count("\n")
        first, second = probe(1), probe(2)
    print(f"/metrics lines: {start} at start, {first} after 300 made-up methods, {second} after 300 more")
    assert first - start <= 100  # the series of method and route "other" (and of GET /metrics), once
    assert second == first


def test_every_response_carries_a_request_id_that_the_log_line_has(
    base_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="hub.requests"):
        mine = httpx.get(f"{base_url}/healthz", headers={"X-Request-ID": "gateway-trace-0001"})
        fresh = httpx.get(f"{base_url}/healthz")
        hostile = httpx.get(f"{base_url}/healthz", headers={"X-Request-ID": "a b" * 100})
        time.sleep(0.1)
    assert mine.headers["X-Request-ID"] == "gateway-trace-0001"
    assert len(fresh.headers["X-Request-ID"]) == 32
    assert hostile.headers["X-Request-ID"] not in ("a b" * 100, fresh.headers["X-Request-ID"])
    lines = [json.loads(JsonFormatter().format(r)) for r in caplog.records if r.name == "hub.requests"]
    ours = [line for line in lines if line["requestId"] == "gateway-trace-0001"]
    assert len(ours) == 1
    assert {k: ours[0][k] for k in ("method", "path", "status", "level")} == {
        "method": "GET",
        "path": "/healthz",
        "status": 200,
        "level": "INFO",
    }
    assert isinstance(ours[0]["durationMs"], float)


def test_cors_answers_the_named_partner_app_only(settings: Settings, base_url: str) -> None:
    preflight = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization"}
    allowed = httpx.options(f"{base_url}/graphql", headers={"Origin": PARTNER, **preflight})
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == PARTNER
    other = httpx.options(f"{base_url}/graphql", headers={"Origin": "https://evil.example", **preflight})
    assert other.status_code == 400
    assert "access-control-allow-origin" not in other.headers
    simple = httpx.get(f"{base_url}/healthz", headers={"Origin": PARTNER})
    assert simple.headers["access-control-allow-origin"] == PARTNER
    assert "X-Request-ID" in simple.headers["access-control-expose-headers"]


def test_by_default_no_origin_is_allowed(neo4j_server: tuple[str, str, str], tmp_path: Path) -> None:
    settings = hub_settings(neo4j_server, tmp_path / "state")
    assert settings.cors_origins == []
    with serve_in_thread(create_app(settings), port=settings.port) as url:
        preflight = {"Origin": PARTNER, "Access-Control-Request-Method": "POST"}
        answer = httpx.options(f"{url}/graphql", headers=preflight)
        simple = httpx.get(f"{url}/healthz", headers={"Origin": PARTNER})
    assert "access-control-allow-origin" not in answer.headers
    assert "access-control-allow-origin" not in simple.headers


async def test_data_files_are_for_the_hubs_user_only(graph: Graph, settings: Settings, base_url: str) -> None:
    await parties.upsert_firms(graph, [FirmRecord(id="farm", name="A farm", roles=["FARM"])])
    token = open_issuer(settings).mint(subject="app@farm", firm_id="farm", roles=(Role.EDITOR,))
    captured = httpx.post(
        f"{base_url}/epcis/capture",
        json=document([]),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/ld+json"},
    )
    assert captured.status_code == 202, captured.text

    def mode(path: Path) -> int:
        return stat.S_IMODE(path.stat().st_mode)

    state = settings.state_dir
    assert mode(state) == 0o700
    assert mode(state / "hub.db") == 0o600
    assert mode(state / "hub.db-wal") == 0o600
    assert mode(state / "epcis-spool") == 0o700
    assert mode(state / "secrets" / "redaction") == 0o600


def test_hub_serve_logs_one_json_line_per_request_with_its_id(
    neo4j_server: tuple[str, str, str], tmp_path: Path
) -> None:
    uri, user, password = neo4j_server
    port = free_port()
    env = {
        **os.environ,
        "HUB_ENV": "test",
        "HUB_PORT": str(port),
        "HUB_STATE_DIR": str(tmp_path / "state"),
        "HUB_NEO4J_URI": uri,
        "HUB_NEO4J_USER": user,
        "HUB_NEO4J_PASSWORD": password,
        "HUB_LOG_FORMAT": "json",
        "HUB_HTTP_HEADER_TIMEOUT_SECONDS": "1",
    }
    hub = str(Path(sys.executable).parent / "hub")
    with subprocess.Popen([hub, "serve"], env=env, stderr=subprocess.PIPE, text=True) as server:
        try:
            base_url = f"http://127.0.0.1:{port}"
            give_up = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(f"{base_url}/healthz", headers={"X-Request-ID": "probe-from-the-test"}).is_success:
                        break
                except httpx.TransportError:
                    assert time.monotonic() < give_up, "hub serve did not answer in 60 s"
                    time.sleep(0.2)
            with raw_connection(base_url) as silent:
                silent_seconds = closed_after(silent)
        finally:
            server.terminate()
        assert server.stderr is not None
        output = server.stderr.read()
    lines = [json.loads(line) for line in output.splitlines() if line.strip()]  # every line is JSON
    ours = [line for line in lines if line.get("requestId") == "probe-from-the-test"]
    assert [(line["logger"], line["path"], line["status"]) for line in ours] == [("hub.requests", "/healthz", 200)]
    assert any(line["logger"].startswith("uvicorn") for line in lines)  # uvicorn's own lines too
    assert silent_seconds < 5  # hub serve hands uvicorn the header timeout
    assert stat.S_IMODE((tmp_path / "state" / "hub.db").stat().st_mode) == 0o600


def test_tracing_is_off_by_default_and_traces_each_request_with_its_id_when_on(
    neo4j_server: tuple[str, str, str], tmp_path: Path
) -> None:
    assert tracing_middleware(hub_settings(neo4j_server, tmp_path / "off")) == []
    settings = hub_settings(neo4j_server, tmp_path / "state", tracing=True)
    exporter = InMemorySpanExporter()
    with serve_in_thread(create_app(settings, span_exporter=exporter), port=settings.port) as url:
        assert httpx.get(f"{url}/healthz", headers={"X-Request-ID": "traced-request-01"}).status_code == 200
    spans = [span for span in exporter.get_finished_spans() if span.attributes]
    traced = [s for s in spans if s.attributes and s.attributes.get("http.response.header.x_request_id")]
    assert len(traced) == 1, [s.attributes for s in spans]
    attributes = traced[0].attributes or {}
    assert attributes["http.response.header.x_request_id"] == ("traced-request-01",)
    assert traced[0].name == "GET /healthz"
