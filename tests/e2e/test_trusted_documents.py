"""Trusted documents in production settings (only registered operations run, no introspection, no field
suggestions) and Automatic Persisted Queries in development, over real HTTP with real tokens."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest

from auth.principal import Role
from graph_schema.db import Graph
from hub.app import create_app, open_issuer
from hub.cli import main as hub_cli
from hub.server import serve_in_thread
from hub.settings import Environment, Settings
from resolvers.documents import document_hash
from tests.e2e.hub_settings import hub_settings
from tests.factories import register_firms

pytestmark = pytest.mark.neo4j

ME = "query Me { me { firmId } }"
TYPO = "query Typo { me { firmid } }"
INTROSPECTION = "query Schema { __schema { queryType { name } } }"
UNREGISTERED = "{ me { firmId roles } }"


def production(neo4j_server: tuple[str, str, str], state: Path) -> Settings:
    return hub_settings(
        neo4j_server,
        state,
        env=Environment.PRODUCTION,
        sql_url=f"sqlite:///{state / 'hub.db'}",
        redaction_secret="a-production-secret-for-the-test",
    )


def cli(settings: Settings, monkeypatch: pytest.MonkeyPatch, *args: str) -> int:
    monkeypatch.setenv("HUB_STATE_DIR", str(settings.state_dir))
    monkeypatch.setenv("HUB_SQL_URL", str(settings.sql_url))
    return hub_cli(list(args))


@pytest.fixture(scope="module")
def prod(neo4j_server: tuple[str, str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    settings = production(neo4j_server, tmp_path_factory.mktemp("prod"))
    with serve_in_thread(create_app(settings), port=settings.port):
        yield settings


@pytest.fixture
async def bearer(prod: Settings, graph: Graph) -> dict[str, str]:
    await register_firms(graph, ["anchor"], roles=["ANCHOR"])
    return {"Authorization": f"Bearer {open_issuer(prod).mint(subject='erp', firm_id='anchor', roles=[Role.VIEWER])}"}


def post(settings: Settings, headers: dict[str, str], body: Mapping[str, object]) -> dict[str, object]:
    response = httpx.post(f"http://127.0.0.1:{settings.port}/graphql", json=body, headers=headers)
    answer: dict[str, object] = response.json()
    return answer


def codes(answer: dict[str, Any]) -> list[str]:
    return [error["extensions"]["code"] for error in answer.get("errors", [])]


async def test_production_runs_registered_operations_only(
    prod: Settings,
    bearer: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    operation = tmp_path / "me.graphql"
    operation.write_text(ME)
    manifest = tmp_path / "persisted-documents.json"
    manifest.write_text(json.dumps({document_hash(TYPO): TYPO, document_hash(INTROSPECTION): INTROSPECTION}))
    assert cli(prod, monkeypatch, "documents", "add", str(operation), str(manifest)) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"{document_hash(ME)}  Me",
        f"{document_hash(TYPO)}  Typo",
        f"{document_hash(INTROSPECTION)}  Schema",
    ]
    assert cli(prod, monkeypatch, "documents", "list") == 0
    listed = capsys.readouterr().out
    assert document_hash(ME) in listed
    assert "Schema" in listed

    # a registered operation runs, sent as its text or as its hash alone
    assert post(prod, bearer, {"query": ME}) == {"data": {"me": {"firmId": "anchor"}}}
    by_hash = {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": document_hash(ME)}}}
    assert post(prod, bearer, by_hash) == {"data": {"me": {"firmId": "anchor"}}}

    refused = post(prod, bearer, {"query": UNREGISTERED})
    assert refused.get("data") is None
    assert codes(refused) == ["OPERATION_NOT_TRUSTED"]
    assert "hub documents add" in refused["errors"][0]["message"]  # type: ignore[index]
    unknown = post(prod, bearer, {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": "0" * 64}}})
    assert codes(unknown) == ["PERSISTED_QUERY_NOT_FOUND"]
    # production learns nothing from a client: a text with its hash is still not registered by sending it
    hashed = {"persistedQuery": {"version": 1, "sha256Hash": document_hash(UNREGISTERED)}}
    sent: dict[str, object] = {"query": UNREGISTERED, "extensions": hashed}
    assert codes(post(prod, bearer, sent)) == ["OPERATION_NOT_TRUSTED"]

    # no introspection and no field suggestions, even for registered operations
    introspection = post(prod, bearer, {"query": INTROSPECTION})
    assert set(codes(introspection)) == {"BAD_USER_INPUT"}
    assert introspection.get("data") is None
    assert "introspection has been disabled" in introspection["errors"][0]["message"]  # type: ignore[index]
    typo = post(prod, bearer, {"query": TYPO})
    assert codes(typo) == ["BAD_USER_INPUT"]
    assert typo["errors"][0]["message"] == "Cannot query field 'firmid' on type 'Principal'."  # type: ignore[index]


def test_a_file_that_does_not_parse_registers_nothing(
    prod: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    good, bad = tmp_path / "good.graphql", tmp_path / "bad.graphql"
    good.write_text("query Firms { firms { totalCount } }")
    bad.write_text("query Broken { me { ")
    assert cli(prod, monkeypatch, "documents", "add", str(good), str(bad)) == 2
    assert "nothing was registered" in capsys.readouterr().err
    assert cli(prod, monkeypatch, "documents", "list") == 0
    assert "Firms" not in capsys.readouterr().out
    forged = tmp_path / "forged.json"
    forged.write_text(json.dumps({"0" * 64: "query Firms { firms { totalCount } }"}))
    assert cli(prod, monkeypatch, "documents", "add", str(forged)) == 2
    assert "is not the sha256 of its text" in capsys.readouterr().err


@pytest.fixture(scope="module")
def dev(neo4j_server: tuple[str, str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    settings = hub_settings(neo4j_server, tmp_path_factory.mktemp("dev"), env=Environment.DEVELOPMENT)
    with serve_in_thread(create_app(settings), port=settings.port):
        yield settings


async def test_development_remembers_a_hash_once_it_has_seen_the_text(dev: Settings, graph: Graph) -> None:
    await register_firms(graph, ["anchor"], roles=["ANCHOR"])
    token = open_issuer(dev).mint(subject="erp", firm_id="anchor", roles=[Role.VIEWER])
    bearer = {"Authorization": f"Bearer {token}"}
    text = "query MyFirm { me { firmId } }"
    persisted = {"persistedQuery": {"version": 1, "sha256Hash": document_hash(text)}}
    first = post(dev, bearer, {"extensions": persisted})
    assert codes(first) == ["PERSISTED_QUERY_NOT_FOUND"]
    assert first["errors"][0]["message"].startswith("PersistedQueryNotFound")  # type: ignore[index]
    assert post(dev, bearer, {"query": text, "extensions": persisted}) == {"data": {"me": {"firmId": "anchor"}}}
    assert post(dev, bearer, {"extensions": persisted}) == {"data": {"me": {"firmId": "anchor"}}}
    mismatch = {"persistedQuery": {"version": 1, "sha256Hash": "f" * 64}}
    assert codes(post(dev, bearer, {"query": text, "extensions": mismatch})) == ["BAD_USER_INPUT"]
    # development keeps introspection and suggestions
    assert post(dev, bearer, {"query": "{ __schema { queryType { name } } }"}) == {
        "data": {"__schema": {"queryType": {"name": "Query"}}}
    }
    typo = post(dev, bearer, {"query": "{ me { firmid } }"})
    assert "Did you mean 'firmId'" in typo["errors"][0]["message"]  # type: ignore[index]
