"""GraphQL over HTTP: the graphql-http audit (every MUST and every SHOULD) against a served hub, run with
Node from tests/e2e/graphql_http/ (its packages locked there), and the status codes of each media type."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

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

AUDIT_DIR = Path(__file__).parent / "graphql_http"
GRAPHQL_RESPONSE = "application/graphql-response+json"


def node_with_the_audit() -> str:
    """The node executable, after installing the audit's locked packages if a clean clone lacks them."""
    node = shutil.which("node")
    if node is None:
        pytest.fail("the GraphQL over HTTP audit needs Node.js 20 or later on PATH ('node' was not found)")
    if not (AUDIT_DIR / "node_modules" / "graphql-http").is_dir():
        npm = shutil.which("npm")
        if npm is None:
            pytest.fail(f"'npm' was not found: install it, or run 'npm ci' in {AUDIT_DIR}")
        installed = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"],
            cwd=AUDIT_DIR,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if installed.returncode != 0:
            pytest.fail(f"'npm ci' in {AUDIT_DIR} failed:\n{installed.stdout}\n{installed.stderr}")
    return node


@pytest.fixture(scope="module")
def settings(neo4j_server: tuple[str, str, str], tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return hub_settings(neo4j_server, tmp_path_factory.mktemp("state"))


@pytest.fixture(scope="module")
def base_url(settings: Settings) -> Iterator[str]:
    with serve_in_thread(create_app(settings), port=settings.port) as url:
        yield url


@pytest.fixture
async def token(settings: Settings, graph: Graph) -> str:
    await register_firms(graph, ["anchor"], roles=["ANCHOR"])
    return open_issuer(settings).mint(subject="erp", firm_id="anchor", roles=[Role.VIEWER])


def test_the_graphql_http_audit_passes_every_must_and_should(base_url: str, token: str) -> None:
    node = node_with_the_audit()
    ran = subprocess.run(
        [node, "audit.mjs", f"{base_url}/graphql"],
        cwd=AUDIT_DIR,
        env={**os.environ, "HUB_AUDIT_TOKEN": token},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert ran.returncode == 0, ran.stderr
    results = json.loads(ran.stdout)
    required = [result for result in results if result["name"].startswith(("MUST", "SHOULD"))]
    failed = [
        f"{result['id']} {result['name']}: {result.get('reason')}" for result in required if result["status"] != "ok"
    ]
    assert not failed, f"{len(failed)} of {len(required)} audits failed:\n" + "\n".join(failed)
    assert len(required) >= 23  # graphql-http 1.23.1 has 36 MUST and SHOULD audits


def post(base_url: str, token: str, *, accept: str | None, body: bytes | dict[str, object]) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    if accept is not None:
        headers["Accept"] = accept
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return httpx.post(f"{base_url}/graphql", content=content, headers=headers)


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("{ me { ", "BAD_USER_INPUT"),  # does not parse
        ("{ me { nosuchfield } }", "BAD_USER_INPUT"),  # does not validate
        ("{ " + " ".join(f"f{i}: firms(first: 100) {{ totalCount }}" for i in range(60)) + " }", "QUERY_TOO_COMPLEX"),
    ],
)
def test_a_request_error_is_400_without_data_in_graphql_response_json(
    base_url: str, token: str, query: str, code: str
) -> None:
    answer = post(base_url, token, accept=GRAPHQL_RESPONSE, body={"query": query})
    assert answer.status_code == 400
    assert answer.headers["content-type"] == GRAPHQL_RESPONSE
    assert "data" not in answer.json()
    assert [error["extensions"]["code"] for error in answer.json()["errors"]] == [code]
    # application/json keeps the answer partner apps have always had
    legacy = post(base_url, token, accept="application/json", body={"query": query})
    assert (legacy.status_code, legacy.headers["content-type"]) == (200, "application/json")
    assert legacy.json()["data"] is None
    assert [error["extensions"]["code"] for error in legacy.json()["errors"]] == [code]


def test_variables_that_do_not_coerce_are_a_request_error(base_url: str, token: str) -> None:
    body: dict[str, object] = {"query": "query($n: Int!) { lots(first: $n) { totalCount } }", "variables": {"n": "x"}}
    answer = post(base_url, token, accept=GRAPHQL_RESPONSE, body=body)
    assert answer.status_code == 400
    assert "data" not in answer.json()


def test_an_answer_with_data_is_200_even_with_field_errors(base_url: str, token: str) -> None:
    body: dict[str, object] = {"query": '{ lot(id: "not-a-lot") { id } me { firmId } }'}
    answer = post(base_url, token, accept=f"{GRAPHQL_RESPONSE}, application/json;q=0.9", body=body)
    assert (answer.status_code, answer.headers["content-type"]) == (200, GRAPHQL_RESPONSE)
    assert answer.json()["data"]["me"] == {"firmId": "anchor"}
    assert answer.json()["errors"][0]["path"] == ["lot"]
    assert answer.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


@pytest.mark.parametrize("accept", [None, "*/*", "application/json", f"application/json, {GRAPHQL_RESPONSE};q=0.5"])
def test_json_stays_the_answer_of_clients_that_ask_for_it(base_url: str, token: str, accept: str | None) -> None:
    answer = post(base_url, token, accept=accept, body={"query": "{ me { firmId } }"})
    assert (answer.status_code, answer.headers["content-type"]) == (200, "application/json")
    assert answer.json() == {"data": {"me": {"firmId": "anchor"}}}


@pytest.mark.parametrize("accept", ["application/json", GRAPHQL_RESPONSE])
def test_a_body_that_is_not_json_is_400_with_a_json_error(base_url: str, token: str, accept: str) -> None:
    answer = post(base_url, token, accept=accept, body=b"{ not json")
    assert (answer.status_code, answer.headers["content-type"]) == (400, accept)
    assert answer.json() == {
        "errors": [{"message": "Unable to parse request body as JSON", "extensions": {"code": "BAD_REQUEST"}}]
    }


def test_no_such_route_and_a_method_not_taken_are_problem_documents(base_url: str, token: str) -> None:
    bearer = {"Authorization": f"Bearer {token}"}
    missing = httpx.get(f"{base_url}/no/such/route", headers=bearer)
    assert (missing.status_code, missing.headers["content-type"]) == (404, "application/problem+json")
    assert missing.json()["code"] == "NOT_FOUND"
    assert "/no/such/route" in missing.json()["detail"]
    put = httpx.put(f"{base_url}/graphql", headers=bearer, json={"query": "{ me { firmId } }"})
    assert (put.status_code, put.headers["content-type"]) == (405, "application/problem+json")
    assert put.json()["code"] == "METHOD_NOT_ALLOWED"
    assert set(put.headers["allow"].split(", ")) == {"GET", "HEAD", "POST"}
