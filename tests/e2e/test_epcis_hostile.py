"""Hostile EPCIS requests over real HTTP: too deep, too large, too many at once; each refused with its reason."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from auth.principal import Role
from graph_schema import parties
from graph_schema.db import Graph
from graph_schema.records import FirmRecord
from hub.app import create_app, open_issuer
from hub.server import serve_in_thread
from hub.settings import Settings
from tests.e2e.hub_settings import hub_settings

pytestmark = pytest.mark.neo4j

CONTEXT = "https://ref.gs1.org/standards/epcis/epcis-context.jsonld"
HEADER = {
    "@context": [CONTEXT],
    "type": "EPCISDocument",
    "schemaVersion": "2.0",
    "creationDate": "2026-09-01T00:00:00Z",
}
DEPTH = 20_000
MB = 1_048_576


@pytest.fixture(scope="module")
def settings(neo4j_server: tuple[str, str, str], tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return hub_settings(
        neo4j_server,
        tmp_path_factory.mktemp("state"),
        epcis_max_jobs_per_firm=1,
        epcis_max_jobs=2,
        epcis_max_spool_mb_per_firm=2,
        epcis_max_document_mb=4,
    )


@pytest.fixture(scope="module")
def base_url(settings: Settings) -> Iterator[str]:
    with serve_in_thread(create_app(settings), port=settings.port) as url:
        yield url


@pytest.fixture(autouse=True)
async def firms(graph: Graph) -> None:
    firms = ("deep-firm", "big-firm", "busy-a", "busy-b", "busy-c", "spool-firm")
    await parties.upsert_firms(graph, [FirmRecord(id=firm, name=firm, roles=["PLANT"]) for firm in firms])


def bearer(settings: Settings, firm: str) -> dict[str, str]:
    token = open_issuer(settings).mint(subject=f"app@{firm}", firm_id=firm, roles=[Role.EDITOR])
    return {"Authorization": f"Bearer {token}"}


def deep_document() -> bytes:
    head = json.dumps({**HEADER, "epcisBody": {"eventList": []}})[: -len("[]}}")]
    return (head + "[" + "[" * DEPTH + "]" * DEPTH + "]}}").encode()


async def test_a_document_nested_20000_deep_fails_its_job_at_once_naming_the_limit(
    base_url: str, settings: Settings
) -> None:
    headers = {**bearer(settings, "deep-firm"), "Content-Type": "application/ld+json"}
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
        started = await http.post("/epcis/capture", content=deep_document(), headers=headers)
        assert started.status_code == 202, started.text
        for _ in range(200):
            job = (await http.get(started.headers["Location"], headers=headers)).json()
            if not job["running"]:
                break
            await asyncio.sleep(0.05)
    assert (job["success"], job["capturedCount"]) == (False, 0)
    assert [(error["code"], error["index"], error["field"]) for error in job["errors"]] == [
        ("LIMIT_EXCEEDED", 0, "event")
    ]
    assert "nests deeper than 32 levels" in job["errors"][0]["message"]


async def test_a_single_event_nested_20000_deep_is_400_naming_the_limit(base_url: str, settings: Settings) -> None:
    body = '{"@context": ["' + CONTEXT + '"], "type": "ObjectEvent", "x": ' + "[" * DEPTH + "]" * DEPTH + "}"
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
        response = await http.post("/epcis/events", content=body, headers=bearer(settings, "deep-firm"))
    assert (response.status_code, response.json()["code"]) == (400, "LIMIT_EXCEEDED")
    assert response.json()["detail"].startswith("the event nests deeper than 32 levels")


@asynccontextmanager
async def raw_post(base_url: str, path: str, headers: dict[str, str]) -> AsyncIterator[RawUpload]:
    """A chunked POST whose body the test sends piece by piece, reading the answer whenever it comes."""
    address = urlsplit(base_url)
    reader, writer = await asyncio.open_connection(address.hostname, address.port)
    lines = [f"POST {path} HTTP/1.1", f"Host: {address.netloc}", "Transfer-Encoding: chunked"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
    try:
        yield RawUpload(reader, writer)
    finally:
        writer.close()


class RawUpload:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.sent = 0

    async def send(self, data: bytes) -> None:
        self.writer.write(b"%x\r\n%s\r\n" % (len(data), data))
        await self.writer.drain()
        self.sent += len(data)

    async def answer(self, wait: float) -> tuple[int, dict[str, str], Any] | None:
        """The status, headers and JSON body, once the hub has answered; None if it has not within ``wait`` s."""
        try:
            head = await asyncio.wait_for(self.reader.readuntil(b"\r\n\r\n"), wait)
        except TimeoutError:
            return None
        status_line, *header_lines = head.decode().split("\r\n")
        headers = dict(line.split(": ", 1) for line in header_lines if line)
        body = await self.reader.readexactly(int(headers["content-length"]))
        return int(status_line.split()[1]), headers, json.loads(body)


async def test_a_200_mb_event_is_refused_after_the_first_megabyte(base_url: str, settings: Settings) -> None:
    chunk = b"[" * 65_536
    async with raw_post(base_url, "/epcis/events", bearer(settings, "big-firm")) as upload:
        answer = None
        while answer is None and upload.sent < 200 * MB:
            try:
                await upload.send(chunk)
            except ConnectionError:  # the hub answered and closed while the test was still sending
                answer = await upload.answer(5)
                break
            answer = await upload.answer(0.001)
        assert answer is not None
        status, _, body = answer
        assert (status, body["code"]) == (413, "PAYLOAD_TOO_LARGE")
        # the hub stopped reading at 1 MB; what else was sent sat in the sockets' buffers
        assert upload.sent < 20 * MB, f"{upload.sent / MB:.0f} MB sent before the answer"


async def test_a_declared_200_mb_body_is_refused_before_it_is_sent(base_url: str, settings: Settings) -> None:
    address = urlsplit(base_url)
    for path in ("/epcis/events", "/epcis/capture"):
        reader, writer = await asyncio.open_connection(address.hostname, address.port)
        head = [f"POST {path} HTTP/1.1", f"Host: {address.netloc}", f"Content-Length: {200 * MB}"]
        head += ["Content-Type: application/ld+json", *(f"{k}: {v}" for k, v in bearer(settings, "big-firm").items())]
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode())
        status = await asyncio.wait_for(reader.readline(), 5)
        writer.close()
        assert status.split()[1] == b"413", path


async def test_a_firm_past_its_running_captures_gets_429_and_the_hub_past_its_own_503(
    base_url: str, settings: Settings
) -> None:
    content = {"Content-Type": "application/ld+json"}
    one, two, three = (bearer(settings, firm) for firm in ("busy-a", "busy-b", "busy-c"))
    async with (
        raw_post(base_url, "/epcis/capture", {**one, **content}) as first,
        raw_post(base_url, "/epcis/capture", {**two, **content}) as second,
    ):
        await first.send(b'{"type": "EPCISDocument", ')  # two uploads in progress: the hub's cap is 2
        await second.send(b'{"type": "EPCISDocument", ')
        await asyncio.sleep(0.5)
        async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
            again = await http.post("/epcis/capture", content=b"{}", headers={**one, **content})
            other = await http.post("/epcis/capture", content=b"{}", headers={**three, **content})
    assert (again.status_code, again.json()["code"], again.headers["Retry-After"]) == (429, "RATE_LIMITED", "10")
    assert "your firm already has 1 EPCIS documents being received or captured" in again.json()["detail"]
    assert other.status_code == 503, other.text
    assert (other.status_code, other.json()["code"], other.headers["Retry-After"]) == (503, "RATE_LIMITED", "10")
    # both uploads went away: their slots are free again
    deadline = time.monotonic() + 10
    while True:
        async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
            after = await http.post("/epcis/capture", content=b"{}", headers={**three, **content})
        if after.status_code == 202 or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.1)
    assert after.status_code == 202, after.text


async def test_a_firm_past_its_spooled_bytes_gets_429(base_url: str, settings: Settings) -> None:
    body = json.dumps({**HEADER, "epcisBody": {"eventList": []}, "padding": "x" * (3 * MB)}).encode()
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
        response = await http.post(
            "/epcis/capture",
            content=body,
            headers={**bearer(settings, "spool-firm"), "Content-Type": "application/json"},
        )
    assert response.status_code == 429, response.text
    assert (response.status_code, response.json()["code"], response.headers["Retry-After"]) == (
        429,
        "RATE_LIMITED",
        "10",
    )
    assert "hold more than 2 MB" in response.json()["detail"]
