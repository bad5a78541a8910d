"""The built-in issuer over real HTTP: discovery, JWKS, client credentials from ``hub clients create``, tokens
that the GraphQL API accepts, RFC 6749 errors, revocation, key rotation while serving, and switching it off."""

from __future__ import annotations

import base64
import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from joserfc import jws, jwt
from joserfc.jwk import KeySet
from starlette.applications import Starlette

from graph_schema import parties
from graph_schema.db import Graph
from graph_schema.records import FirmRecord
from hub.app import create_app
from hub.cli import main as hub_cli
from hub.oauth import FailedAttempts
from hub.server import free_port, serve_in_thread
from hub.settings import Environment, Settings
from tests.e2e.hub_settings import hub_settings

pytestmark = pytest.mark.neo4j

FIRM = "tofu-maker"
ME = "{ me { firmId roles scopes } }"


def serving(app: Starlette, port: int) -> AbstractContextManager[str]:
    """An ASGI app in uvicorn on a thread; yields its base URL."""
    return serve_in_thread(app, port=port)


@pytest.fixture(scope="module")
def settings(neo4j_server: tuple[str, str, str], tmp_path_factory: pytest.TempPathFactory) -> Settings:
    port = free_port()
    return hub_settings(
        neo4j_server,
        tmp_path_factory.mktemp("state"),
        env=Environment.DEVELOPMENT,
        port=port,
        issuer_url=f"http://127.0.0.1:{port}",
    )


@pytest.fixture(scope="module")
def base_url(settings: Settings) -> Iterator[str]:
    with serving(create_app(settings), settings.port) as url:
        yield url


@pytest.fixture(scope="module")
def settings_off(settings: Settings, base_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """A second hub with the issuer switched off, but the same issuer name and signing keys as the first."""
    state_dir = tmp_path_factory.mktemp("state-off")
    (state_dir / "issuer").mkdir(mode=0o700)
    key_file = Path("issuer") / "signing-keys.json"
    shutil.copy2(settings.state_dir / key_file, state_dir / key_file)
    return settings.model_copy(update={"port": free_port(), "state_dir": state_dir, "issuer_enabled": False})


@pytest.fixture(scope="module")
def base_url_off(settings_off: Settings) -> Iterator[str]:
    with serving(create_app(settings_off), settings_off.port) as url:
        yield url


@pytest.fixture(autouse=True)
async def member_firm(graph: Graph) -> None:
    """The firm the clients act for is a member of the cluster (tokens of non-members are refused anyway)."""
    await parties.upsert_firms(graph, [FirmRecord(id=FIRM, name="Tofu Maker", roles=["PLANT"])])


@dataclass(frozen=True)
class Client:
    client_id: str
    secret: str
    output: str


def hub(settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str) -> str:
    """Run the ``hub`` command as an operator would on the hub's machine; returns what it printed."""
    monkeypatch.setenv("HUB_STATE_DIR", str(settings.state_dir))
    monkeypatch.setenv("HUB_PORT", str(settings.port))
    capsys.readouterr()
    assert hub_cli(list(args)) == 0
    return capsys.readouterr().out


def create_client(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str
) -> Client:
    output = hub(settings, monkeypatch, capsys, "clients", "create", "--firm", FIRM, *args)
    printed = dict(line.split(":", 1) for line in output.splitlines()[:2])
    return Client(client_id=printed["client_id"].strip(), secret=printed["client_secret"].strip(), output=output)


# a fresh hub's first answer on a busy shared machine may take longer than httpx's 5 s default; not a limit under test
SLOW_MACHINE = 30.0


def request_token(base_url: str, client: Client, **form: str) -> httpx.Response:
    return httpx.post(
        f"{base_url}/oauth/token",
        data={"grant_type": "client_credentials", **form},
        auth=(client.client_id, client.secret),
        timeout=SLOW_MACHINE,
    )


def me(base_url: str, token: str) -> httpx.Response:
    return httpx.post(
        f"{base_url}/graphql", json={"query": ME}, headers={"Authorization": f"Bearer {token}"}, timeout=SLOW_MACHINE
    )


def assert_oauth_error(response: httpx.Response, status: int, error: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["error"] == error
    assert body["error_description"]
    assert response.headers["cache-control"] == "no-store"
    if status == 401:
        assert response.headers["www-authenticate"].startswith("Basic")
    return body


def test_the_hub_creates_its_sql_tables_at_start_up(settings_off: Settings, base_url_off: str) -> None:
    # a fresh state folder where no command ran: only the hub's start-up can have made the tables
    tables = sqlite3.connect(settings_off.state_dir / "hub.db").execute("SELECT name FROM sqlite_master").fetchall()
    assert {"api_client", "access_log"} <= {name for (name,) in tables}


def test_the_discovery_document_names_the_endpoints(base_url: str, settings: Settings) -> None:
    response = httpx.get(f"{base_url}/.well-known/openid-configuration")
    assert response.status_code == 200
    document = response.json()
    assert document["issuer"] == settings.issuer == base_url
    assert document["token_endpoint"] == f"{base_url}/oauth/token"
    assert document["jwks_uri"] == f"{base_url}/oauth/jwks"
    assert document["grant_types_supported"] == ["client_credentials", "authorization_code", "refresh_token"]
    assert document["token_endpoint_auth_methods_supported"] == ["client_secret_basic", "client_secret_post", "none"]
    assert document["id_token_signing_alg_values_supported"] == ["ES256"]


def test_a_client_gets_a_token_that_the_graphql_api_accepts(
    base_url: str, settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    client = create_client(
        settings, monkeypatch, capsys, "--role", "viewer", "--role", "editor", "--scope", "trace:read", "--scope", "x"
    )
    assert f"curl -s -u '{client.client_id}:<client_secret>'" in client.output
    assert f"{base_url}/oauth/token" in client.output
    assert client.output.count(client.secret) == 1  # shown once, not repeated in the curl line

    response = request_token(base_url, client)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "scope"}
    assert (body["token_type"], body["expires_in"], body["scope"]) == (
        "Bearer",
        settings.token_ttl_seconds,
        "trace:read x",
    )
    claims = jwt.decode(body["access_token"], KeySet.import_key_set(httpx.get(f"{base_url}/oauth/jwks").json())).claims
    assert claims["sub"] == f"client:{client.client_id}"
    assert claims["iss"] == base_url

    answer = me(base_url, body["access_token"])
    assert answer.status_code == 200
    assert answer.json() == {
        "data": {"me": {"firmId": FIRM, "roles": ["editor", "viewer"], "scopes": ["trace:read", "x"]}}
    }

    # client_secret_post, asking for less than it may
    narrower = httpx.post(
        f"{base_url}/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": client.client_id,
            "client_secret": client.secret,
            "scope": "trace:read",
        },
    )
    assert narrower.status_code == 200, narrower.text
    assert narrower.json()["scope"] == "trace:read"
    assert me(base_url, narrower.json()["access_token"]).json()["data"]["me"]["scopes"] == ["trace:read"]


def test_the_jwks_serves_public_keys_only(base_url: str) -> None:
    response = httpx.get(f"{base_url}/oauth/jwks")
    assert response.status_code == 200
    keys = response.json()["keys"]
    assert keys
    for key in keys:
        assert "d" not in key
        assert set(key) <= {"kty", "crv", "x", "y", "kid", "use", "alg"}


def test_the_client_secret_is_not_stored_in_clear(
    base_url: str, settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    client = create_client(settings, monkeypatch, capsys, "--role", "viewer", "--description", "nightly export")
    stored = sqlite3.connect(settings.state_dir / "hub.db").execute(
        "SELECT secret_hash, secret_salt, secret_kdf, firm_id, description FROM api_client WHERE client_id = ?",
        (client.client_id,),
    )
    secret_hash, salt, kdf, firm_id, description = stored.fetchone()
    assert (firm_id, description, kdf) == (FIRM, "nightly export", "scrypt:n=16384,r=8,p=1")
    assert client.secret not in (secret_hash, salt)
    assert client.secret.encode() not in (settings.state_dir / "hub.db").read_bytes()


def test_a_wrong_secret_or_an_unknown_client_is_401_invalid_client(
    base_url: str, settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    client = create_client(settings, monkeypatch, capsys, "--role", "viewer")
    wrong = Client(client_id=client.client_id, secret=client.secret[:-2] + "xy", output="")
    body = assert_oauth_error(request_token(base_url, wrong), 401, "invalid_client")
    assert "access_token" not in body
    unknown = Client(client_id="0" * 32, secret=client.secret, output="")
    assert_oauth_error(request_token(base_url, unknown), 401, "invalid_client")
    no_credentials = httpx.post(f"{base_url}/oauth/token", data={"grant_type": "client_credentials"})
    assert_oauth_error(no_credentials, 401, "invalid_client")
    bearer = httpx.post(
        f"{base_url}/oauth/token", data={"grant_type": "client_credentials"}, headers={"Authorization": "Bearer x"}
    )
    assert_oauth_error(bearer, 401, "invalid_client")


def test_an_unknown_grant_type_is_400_unsupported_grant_type(
    base_url: str, settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    client = create_client(settings, monkeypatch, capsys, "--role", "viewer")
    response = httpx.post(
        f"{base_url}/oauth/token",
        data={"grant_type": "password", "username": "a", "password": "b"},
        auth=(client.client_id, client.secret),
    )
    assert_oauth_error(response, 400, "unsupported_grant_type")
    missing = httpx.post(f"{base_url}/oauth/token", data={"scope": "x"}, auth=(client.client_id, client.secret))
    assert_oauth_error(missing, 400, "invalid_request")


def test_a_scope_the_client_was_not_granted_is_400_invalid_scope(
    base_url: str, settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    client = create_client(settings, monkeypatch, capsys, "--role", "viewer", "--scope", "trace:read")
    body = assert_oauth_error(request_token(base_url, client, scope="trace:read sales:read"), 400, "invalid_scope")
    assert "sales:read" in body["error_description"]
    assert_oauth_error(request_token(base_url, client, scope='bad"scope'), 400, "invalid_scope")


def test_malformed_token_requests_are_400_invalid_request(
    base_url: str, settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    client = create_client(settings, monkeypatch, capsys, "--role", "viewer")
    as_json = httpx.post(
        f"{base_url}/oauth/token", json={"grant_type": "client_credentials"}, auth=(client.client_id, client.secret)
    )
    assert_oauth_error(as_json, 400, "invalid_request")
    both_methods = request_token(base_url, client, client_id=client.client_id, client_secret=client.secret)
    assert_oauth_error(both_methods, 400, "invalid_request")
    repeated = httpx.post(
        f"{base_url}/oauth/token",
        content=b"grant_type=client_credentials&grant_type=client_credentials",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        auth=(client.client_id, client.secret),
    )
    assert_oauth_error(repeated, 400, "invalid_request")
    huge = request_token(base_url, client, padding="x" * 10_000)
    assert_oauth_error(huge, 400, "invalid_request")
    assert httpx.get(f"{base_url}/oauth/token").status_code == 405


def test_a_revoked_client_is_refused(
    base_url: str, settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    client = create_client(settings, monkeypatch, capsys, "--role", "viewer")
    assert request_token(base_url, client).status_code == 200
    printed = hub(settings, monkeypatch, capsys, "clients", "revoke", client.client_id)
    assert f"client {client.client_id} revoked" in printed
    assert_oauth_error(request_token(base_url, client), 401, "invalid_client")
    monkeypatch.setenv("HUB_STATE_DIR", str(settings.state_dir))
    assert hub_cli(["clients", "revoke", client.client_id]) == 1  # nothing left to revoke


def test_repeated_failures_lock_a_client_id_out_for_a_while(
    base_url: str, settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    client = create_client(settings, monkeypatch, capsys, "--role", "viewer")
    wrong = Client(client_id=client.client_id, secret="guess", output="")
    for _ in range(FailedAttempts().limit):
        assert_oauth_error(request_token(base_url, wrong), 401, "invalid_client")
    locked = request_token(base_url, client)  # even the right secret, until the window has passed
    assert locked.status_code == 429
    assert locked.json()["error"] == "invalid_client"
    assert int(locked.headers["retry-after"]) > 0


def test_failed_attempts_are_forgotten_after_the_window() -> None:
    now = [0.0]
    attempts = FailedAttempts(limit=2, window_seconds=10, max_tracked=2, clock=lambda: now[0])
    attempts.record_failure("a")
    assert attempts.retry_after("a") is None
    now[0] = 4
    attempts.record_failure("a")
    assert attempts.retry_after("a") == pytest.approx(6)
    now[0] = 10.5
    assert attempts.retry_after("a") is None  # the first failure left the window
    attempts.record_failure("b")
    attempts.record_failure("c")
    assert list(attempts._failures) == ["b", "c"]  # made-up ids do not pile up


def test_a_key_rotation_while_the_hub_runs_keeps_both_tokens_working(
    base_url: str, settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    client = create_client(settings, monkeypatch, capsys, "--role", "viewer")
    before = request_token(base_url, client).json()["access_token"]

    new_kid = hub(settings, monkeypatch, capsys, "keys", "rotate").strip()

    after = request_token(base_url, client).json()["access_token"]
    assert jws.extract_compact(after.encode()).protected["kid"] == new_kid
    assert jws.extract_compact(before.encode()).protected["kid"] != new_kid
    for token in (before, after):
        answer = me(base_url, token)
        assert answer.status_code == 200
        assert answer.json()["data"]["me"]["firmId"] == FIRM
    published = [key["kid"] for key in httpx.get(f"{base_url}/oauth/jwks").json()["keys"]]
    assert published[-1] == new_kid
    assert len(published) >= 2
    # a token from the command line, signed by the new key, is accepted at once too
    local = hub(settings, monkeypatch, capsys, "token", "--firm", FIRM, "--role", "auditor").strip()
    assert me(base_url, local).json()["data"]["me"]["roles"] == ["auditor"]


def test_with_the_issuer_switched_off_its_endpoints_are_gone_and_its_tokens_refused(
    base_url: str,
    base_url_off: str,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for path in ("/.well-known/openid-configuration", "/oauth/jwks"):
        assert httpx.get(f"{base_url_off}{path}").status_code == 404
    form = {"grant_type": "client_credentials", "client_id": "x", "client_secret": "y"}
    assert httpx.post(f"{base_url_off}/oauth/token", data=form).status_code == 404

    client = create_client(settings, monkeypatch, capsys, "--role", "viewer")
    token = request_token(base_url, client).json()["access_token"]
    assert me(base_url, token).status_code == 200  # valid where the issuer is on
    # the same issuer name and keys, but this hub does not trust its built-in issuer
    refused = me(base_url_off, token)
    assert refused.status_code == 401
    assert "data" not in refused.json()


def test_basic_credentials_are_form_urlencoded_before_base64(
    base_url: str, settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    client = create_client(settings, monkeypatch, capsys, "--role", "viewer")
    # RFC 6749 section 2.3.1: a client may percent-encode its id and secret inside the Basic credentials
    encoded = "".join(f"%{byte:02X}" for byte in client.client_id.encode())
    credentials = base64.b64encode(f"{encoded}:{client.secret}".encode()).decode()
    response = httpx.post(
        f"{base_url}/oauth/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": f"Basic {credentials}"},
    )
    assert response.status_code == 200, response.text
