"""People signing in at the built-in issuer over real HTTP: accounts from ``hub users``, the authorization code
flow with PKCE through the server-rendered form, and everything a hostile or careless caller may try on it."""

from __future__ import annotations

import base64
import hashlib
import html
import io
import re
import secrets
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pyotp
import pytest
from joserfc import jwt
from joserfc.jwk import KeySet

from graph_schema import parties
from graph_schema.db import Graph
from graph_schema.records import FirmRecord
from hub.app import create_app
from hub.cli import main as hub_cli
from hub.server import free_port, serve_in_thread
from hub.settings import Environment, Settings
from tests.e2e.hub_settings import hub_settings

pytestmark = pytest.mark.neo4j

FIRM = "bean-plant"
OTHER_FIRM = "bean-farm"
PASSWORD = "quiet harbour lantern 1987"
CLIENT_ID = "portal"
CALLBACK = "/auth/callback"
SLOW_MACHINE = 30.0  # a fresh hub's first answer on a busy shared machine; not a limit under test
ME = "{ me { firmId roles } }"


@pytest.fixture(scope="module")
def settings(neo4j_server: tuple[str, str, str], tmp_path_factory: pytest.TempPathFactory) -> Settings:
    port = free_port()
    return hub_settings(
        neo4j_server,
        tmp_path_factory.mktemp("state"),
        env=Environment.TEST,
        port=port,
        issuer_url=f"http://127.0.0.1:{port}",
        sign_in_lockout_failures=3,
        # cheap Argon2 for the tests' many sign-ins; a test below raises it to see the rehash
        password_hash_time_cost=1,
        password_hash_memory_kib=8192,
    )


@pytest.fixture(scope="module")
def base_url(settings: Settings) -> Iterator[str]:
    with serve_in_thread(create_app(settings), port=settings.port) as url:
        yield url


@pytest.fixture(autouse=True)
async def member_firms(graph: Graph) -> None:
    await parties.upsert_firms(
        graph,
        [
            FirmRecord(id=FIRM, name="Bean Plant", roles=["PLANT"]),
            FirmRecord(id=OTHER_FIRM, name="Bean Farm", roles=["FARM"]),
        ],
    )


def hub(settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str) -> str:
    """Run the ``hub`` command as an operator would on the hub's machine; returns what it printed."""
    monkeypatch.setenv("HUB_STATE_DIR", str(settings.state_dir))
    monkeypatch.setenv("HUB_PORT", str(settings.port))
    monkeypatch.setenv("HUB_PASSWORD_HASH_TIME_COST", str(settings.password_hash_time_cost))
    monkeypatch.setenv("HUB_PASSWORD_HASH_MEMORY_KIB", str(settings.password_hash_memory_kib))
    capsys.readouterr()
    status = hub_cli(list(args))
    out, err = capsys.readouterr()
    assert status == 0, err
    return out


def new_person(
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    *,
    role: str = "editor",
    firm: str = FIRM,
) -> str:
    """A new account made by ``hub users create --password-stdin``; its username."""
    username = f"person-{secrets.token_hex(4)}"
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    output = hub(
        settings, monkeypatch, capsys, "users", "create", "--firm", firm, "--role", role, "--username", username,
        "--password-stdin",
    )  # fmt: skip
    assert f"account {username} made for firm {firm}" in output
    return username


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def authorization_params(base_url: str, challenge: str, **extra: str) -> dict[str, str]:
    return {
        "response_type": "code",
        "client_id": CLIENT_ID,
        "redirect_uri": f"{base_url}{CALLBACK}",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "state": "st-" + secrets.token_hex(4),
        "nonce": "n-" + secrets.token_hex(8),
        "scope": "openid",
        "ui_locales": "en",
        **extra,
    }


HIDDEN = re.compile(r'<input type="hidden" name="([^"]*)" value="([^"]*)">')


def hidden_fields(page: str) -> dict[str, str]:
    return {html.unescape(name): html.unescape(value) for name, value in HIDDEN.findall(page)}


@dataclass
class Browser:
    """A person's browser: cookies kept, redirects not followed (the test looks at each)."""

    base_url: str
    http: httpx.Client

    def open_form(self, params: dict[str, str]) -> httpx.Response:
        return self.http.get(f"{self.base_url}/oauth/authorize", params=params)

    def submit(self, page: httpx.Response, **fields: str) -> httpx.Response:
        return self.http.post(f"{self.base_url}/oauth/authorize", data={**hidden_fields(page.text), **fields})


@pytest.fixture
def browser(base_url: str) -> Iterator[Browser]:
    with httpx.Client(timeout=SLOW_MACHINE, follow_redirects=False) as http:
        yield Browser(base_url, http)


def sign_in(browser: Browser, username: str, password: str = PASSWORD, **params: str) -> tuple[httpx.Response, str]:
    """The form opened and sent; the answer and the PKCE verifier."""
    verifier, challenge = pkce()
    form = browser.open_form(authorization_params(browser.base_url, challenge, **params))
    assert form.status_code == 200, form.text
    return browser.submit(form, username=username, password=password), verifier


def code_of(answer: httpx.Response, base_url: str) -> str:
    assert answer.status_code == 303, answer.text
    location = answer.headers["location"]
    assert location.startswith(f"{base_url}{CALLBACK}?")
    query = parse_qs(urlsplit(location).query)
    assert query["iss"] == [base_url]
    return query["code"][0]


def exchange(base_url: str, code: str, verifier: str, **form: str) -> httpx.Response:
    return httpx.post(
        f"{base_url}/oauth/token",
        data={
            "grant_type": "authorization_code",
            "client_id": CLIENT_ID,
            "code": code,
            "redirect_uri": f"{base_url}{CALLBACK}",
            "code_verifier": verifier,
            **form,
        },
        timeout=SLOW_MACHINE,
    )


def refresh(base_url: str, token: str) -> httpx.Response:
    return httpx.post(
        f"{base_url}/oauth/token",
        data={"grant_type": "refresh_token", "client_id": CLIENT_ID, "refresh_token": token},
        timeout=SLOW_MACHINE,
    )


def graphql(base_url: str, token: str, query: str) -> dict[str, Any]:
    response = httpx.post(
        f"{base_url}/graphql", json={"query": query}, headers={"Authorization": f"Bearer {token}"}, timeout=SLOW_MACHINE
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def tokens_for(browser: Browser, username: str) -> dict[str, Any]:
    answer, verifier = sign_in(browser, username)
    response = exchange(browser.base_url, code_of(answer, browser.base_url), verifier)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_discovery_names_the_authorization_endpoint_and_pkce(base_url: str) -> None:
    document = httpx.get(f"{base_url}/.well-known/openid-configuration", timeout=SLOW_MACHINE).json()
    assert document["authorization_endpoint"] == f"{base_url}/oauth/authorize"
    assert document["revocation_endpoint"] == f"{base_url}/oauth/revoke"
    assert document["code_challenge_methods_supported"] == ["S256"]
    assert document["grant_types_supported"] == ["client_credentials", "authorization_code", "refresh_token"]
    assert document["response_types_supported"] == ["code"]


def test_a_person_signs_in_with_the_code_flow_and_pkce(
    base_url: str,
    settings: Settings,
    browser: Browser,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    username = new_person(settings, monkeypatch, capsys, role="editor")
    verifier, challenge = pkce()
    params = authorization_params(base_url, challenge)
    form = browser.open_form(params)
    assert form.status_code == 200
    assert form.headers["content-type"].startswith("text/html")
    policy = form.headers["content-security-policy"]
    assert "default-src 'none'" in policy
    assert "script-src" not in policy
    assert "unsafe-inline" not in policy
    assert "frame-ancestors 'none'" in policy
    assert "<script" not in form.text
    assert form.headers["cache-control"] == "no-store"
    cookie = form.headers["set-cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie
    assert "Path=/oauth/authorize" in cookie

    answer = browser.submit(form, username=username.upper(), password=PASSWORD)  # usernames are case-folded
    code = code_of(answer, base_url)
    assert parse_qs(urlsplit(answer.headers["location"]).query)["state"] == [params["state"]]

    response = exchange(base_url, code, verifier)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "refresh_token", "scope", "id_token"}
    assert body["scope"] == "openid"
    assert (body["token_type"], body["expires_in"]) == ("Bearer", settings.person_token_ttl_seconds)
    keys = KeySet.import_key_set(httpx.get(f"{base_url}/oauth/jwks", timeout=SLOW_MACHINE).json())
    claims = jwt.decode(body["access_token"], keys).claims
    assert re.fullmatch(r"person:[0-9a-f]{32}", claims["sub"])
    assert (claims["firm_id"], claims["roles"], claims["preferred_username"]) == (FIRM, ["editor"], username)
    assert claims["exp"] - claims["iat"] == settings.person_token_ttl_seconds
    assert graphql(base_url, body["access_token"], ME) == {"data": {"me": {"firmId": FIRM, "roles": ["editor"]}}}
    # OpenID Connect: the ID token tells the portal who signed in, with the nonce of its request
    identity = jwt.decode(body["id_token"], keys).claims
    assert (identity["aud"], identity["sub"], identity["nonce"]) == (CLIENT_ID, claims["sub"], params["nonce"])
    assert (identity["preferred_username"], identity["firm_id"], identity["roles"]) == (username, FIRM, ["editor"])
    id_token_refused = httpx.post(
        f"{base_url}/graphql",
        json={"query": ME},
        headers={"Authorization": f"Bearer {body['id_token']}"},
        timeout=SLOW_MACHINE,
    )
    assert id_token_refused.status_code == 401  # its audience is the portal, not the hub

    # the refresh token rotates: the new one works, the old one used again ends the whole sign-in
    renewed = refresh(base_url, body["refresh_token"])
    assert renewed.status_code == 200, renewed.text
    second = renewed.json()
    assert second["refresh_token"] != body["refresh_token"]
    assert jwt.decode(second["access_token"], keys).claims["sub"] == claims["sub"]
    replayed = refresh(base_url, body["refresh_token"])
    assert (replayed.status_code, replayed.json()["error"]) == (400, "invalid_grant")
    assert refresh(base_url, second["refresh_token"]).json()["error"] == "invalid_grant"


def test_sign_out_revokes_the_refresh_token(
    base_url: str,
    settings: Settings,
    browser: Browser,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    tokens = tokens_for(browser, new_person(settings, monkeypatch, capsys))
    revoked = httpx.post(
        f"{base_url}/oauth/revoke",
        data={"client_id": CLIENT_ID, "token": tokens["refresh_token"], "token_type_hint": "refresh_token"},
        timeout=SLOW_MACHINE,
    )
    assert revoked.status_code == 200
    assert refresh(base_url, tokens["refresh_token"]).json()["error"] == "invalid_grant"
    # RFC 7009: an unknown token is answered alike, so the endpoint tells nothing about tokens
    unknown = httpx.post(
        f"{base_url}/oauth/revoke", data={"client_id": CLIENT_ID, "token": "nothing"}, timeout=SLOW_MACHINE
    )
    assert unknown.status_code == 200
    other_client = httpx.post(
        f"{base_url}/oauth/revoke", data={"client_id": "someone", "token": "nothing"}, timeout=SLOW_MACHINE
    )
    assert (other_client.status_code, other_client.json()["error"]) == (401, "invalid_client")


def test_a_wrong_password_and_an_unknown_user_get_the_same_answer(
    base_url: str,
    settings: Settings,
    browser: Browser,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    username = new_person(settings, monkeypatch, capsys)
    wrong, _ = sign_in(browser, username, "not the password at all")
    unknown, _ = sign_in(browser, username + "x", "not the password at all")
    for answer in (wrong, unknown):
        assert answer.status_code == 401
        assert "location" not in answer.headers
        assert "Wrong username or password." in answer.text

    # the same page but for the username typed in again (and the request's own state, nonce and challenge)
    def page(answer: httpx.Response, typed: str) -> str:
        text = re.sub(r'<input type="hidden"[^>]*>|<p class="lang">.*?</p>', "", answer.text)
        return text.replace(f'value="{typed}"', 'value="?"')

    assert page(wrong, username) == page(unknown, username + "x")


def test_failed_sign_ins_lock_the_account_known_or_not(
    base_url: str,
    settings: Settings,
    browser: Browser,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    username = new_person(settings, monkeypatch, capsys)
    for name in (username, "nobody-" + secrets.token_hex(3)):
        for _ in range(settings.sign_in_lockout_failures):
            assert sign_in(browser, name, "wrong wrong wrong")[0].status_code == 401
        locked, _ = sign_in(browser, name, PASSWORD)  # the right password for the real account: still locked
        assert locked.status_code == 429
        assert int(locked.headers["retry-after"]) > 0
        assert "Too many failed sign-ins. Try again in 15 minutes." in locked.text
    # another account is not affected
    assert sign_in(browser, new_person(settings, monkeypatch, capsys))[0].status_code == 303


def test_a_right_password_forgets_earlier_failures(
    base_url: str,
    settings: Settings,
    browser: Browser,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    username = new_person(settings, monkeypatch, capsys)
    for _ in range(settings.sign_in_lockout_failures - 1):
        assert sign_in(browser, username, "wrong wrong wrong")[0].status_code == 401
    assert sign_in(browser, username)[0].status_code == 303
    assert sign_in(browser, username, "wrong again")[0].status_code == 401
    assert sign_in(browser, username)[0].status_code == 303


def test_a_code_is_good_once(
    base_url: str,
    settings: Settings,
    browser: Browser,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    answer, verifier = sign_in(browser, new_person(settings, monkeypatch, capsys))
    code = code_of(answer, base_url)
    first = exchange(base_url, code, verifier)
    assert first.status_code == 200
    again = exchange(base_url, code, verifier)
    assert (again.status_code, again.json()["error"]) == (400, "invalid_grant")
    assert "used already" in again.json()["error_description"]
    # the replay may be an attacker's second try: what the first exchange gave is revoked (RFC 6749 4.1.2)
    assert refresh(base_url, first.json()["refresh_token"]).json()["error"] == "invalid_grant"


def test_a_wrong_verifier_spends_the_code(
    base_url: str,
    settings: Settings,
    browser: Browser,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    username = new_person(settings, monkeypatch, capsys)
    answer, verifier = sign_in(browser, username)
    code = code_of(answer, base_url)
    wrong = exchange(base_url, code, pkce()[0])
    assert (wrong.status_code, wrong.json()["error"]) == (400, "invalid_grant")
    assert "code_verifier does not match" in wrong.json()["error_description"]
    assert exchange(base_url, code, verifier).json()["error"] == "invalid_grant"  # no second guess
    malformed = exchange(base_url, code_of(sign_in(browser, username)[0], base_url), "short")
    assert "43 to 128 characters" in malformed.json()["error_description"]


def test_a_code_is_bound_to_its_redirect_uri_and_client(
    base_url: str,
    settings: Settings,
    browser: Browser,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    username = new_person(settings, monkeypatch, capsys)
    answer, verifier = sign_in(browser, username)
    elsewhere = exchange(base_url, code_of(answer, base_url), verifier, redirect_uri=f"{base_url}/auth/silent")
    assert elsewhere.json()["error"] == "invalid_grant"
    answer, verifier = sign_in(browser, username)
    other_client = exchange(base_url, code_of(answer, base_url), verifier, client_id="another-app")
    assert (other_client.status_code, other_client.json()["error"]) == (401, "invalid_client")


@pytest.mark.parametrize(
    "redirect_uri",
    [
        "https://attacker.example/",
        "{base}/",
        "{base}/auth/callback/",
        "{base}/auth/callback?next=https://attacker.example/",
        "{base}//attacker.example/auth/callback",
        "{base}/AUTH/CALLBACK",
    ],
)
def test_an_unregistered_redirect_uri_is_never_redirected_to(
    base_url: str, browser: Browser, redirect_uri: str
) -> None:
    _, challenge = pkce()
    form = browser.open_form(authorization_params(base_url, challenge, redirect_uri=redirect_uri.format(base=base_url)))
    assert form.status_code == 400
    assert "location" not in form.headers
    assert "redirect_uri is not one registered for this client" in form.text
    unknown_client = browser.open_form(authorization_params(base_url, challenge, client_id="someone-else"))
    assert unknown_client.status_code == 400
    assert "is not registered with this hub" in unknown_client.text


@pytest.mark.parametrize(
    ("change", "error", "description"),
    [
        ({"code_challenge_method": "plain"}, "invalid_request", "the plain method is not accepted"),
        ({"code_challenge_method": ""}, "invalid_request", "must be S256"),
        ({"code_challenge": ""}, "invalid_request", "code_challenge is missing"),
        ({"code_challenge": "too-short"}, "invalid_request", "43 base64url characters"),
        ({"response_type": "token"}, "unsupported_response_type", "response_type must be code"),
        ({"scope": "admin:everything"}, "invalid_scope", "admin:everything"),
        ({"prompt": "none"}, "login_required", "asks for the password at every sign-in"),
    ],
)
def test_a_bad_request_of_the_portal_goes_back_to_it_with_an_error(
    base_url: str, browser: Browser, change: dict[str, str], error: str, description: str
) -> None:
    _, challenge = pkce()
    params = authorization_params(base_url, challenge, **change)
    answer = browser.open_form(params)
    assert answer.status_code == 303
    location = answer.headers["location"]
    assert location.startswith(f"{base_url}{CALLBACK}?")
    query = parse_qs(urlsplit(location).query)
    assert query["error"] == [error]
    assert description in query["error_description"][0]
    assert query["state"] == [params["state"]]
    assert "code" not in query


def test_the_form_needs_its_csrf_token_and_cookie(
    base_url: str,
    settings: Settings,
    browser: Browser,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    username = new_person(settings, monkeypatch, capsys)
    _, challenge = pkce()
    form = browser.open_form(authorization_params(base_url, challenge))
    fields = {**hidden_fields(form.text), "username": username, "password": PASSWORD}
    missing = browser.http.post(f"{base_url}/oauth/authorize", data={k: v for k, v in fields.items() if k != "csrf"})
    forged = browser.http.post(f"{base_url}/oauth/authorize", data={**fields, "csrf": "0" * 64})
    # another site's page posting the form: the browser sends no SameSite=Strict cookie with it
    with httpx.Client(timeout=SLOW_MACHINE) as elsewhere:
        cookieless = elsewhere.post(f"{base_url}/oauth/authorize", data=fields)
    for answer in (missing, forged, cookieless):
        assert answer.status_code == 403
        assert "location" not in answer.headers
        assert "The sign-in form has expired or was not sent from this page." in answer.text
    assert browser.http.post(f"{base_url}/oauth/authorize", data=fields).status_code == 303  # the real one works


def test_totp_is_asked_when_enrolled(
    base_url: str,
    settings: Settings,
    browser: Browser,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    username = new_person(settings, monkeypatch, capsys)
    uri = hub(settings, monkeypatch, capsys, "users", "totp", username).strip()
    assert uri.startswith(f"otpauth://totp/Food%20cluster%20hub:{username}?secret=")
    totp = pyotp.parse_uri(uri)
    assert isinstance(totp, pyotp.TOTP)

    second_step, verifier = sign_in(browser, username)
    assert second_step.status_code == 200
    assert 'autocomplete="one-time-code"' in second_step.text
    assert "location" not in second_step.headers
    wrong = browser.submit(second_step, totp=f"{(int(totp.now()) + 1) % 1_000_000:06d}")
    assert wrong.status_code == 401
    assert "The code is wrong or was used already." in wrong.text
    code = totp.now()
    right = browser.submit(wrong, totp=code)
    assert exchange(base_url, code_of(right, base_url), verifier).status_code == 200

    # the same code again, in a new sign-in: refused (a code is good once)
    again, _ = sign_in(browser, username)
    replayed = browser.submit(again, totp=code)
    assert replayed.status_code == 401
    # the second step's token is bound to the password's check: a made-up one starts again
    forged = browser.submit(again, step="0" * 32 + ".9999999999.ab", totp=totp.now())
    assert forged.status_code == 400
    assert "The sign-in took too long. Sign in again." in forged.text


def test_huge_or_odd_input_is_refused_at_once(
    base_url: str,
    settings: Settings,
    browser: Browser,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    username = new_person(settings, monkeypatch, capsys)
    too_long, _ = sign_in(browser, username, "p" * 300)
    assert too_long.status_code == 400
    assert "a password at most 256" in too_long.text
    long_name, _ = sign_in(browser, "u" * 65, PASSWORD)
    assert long_name.status_code == 400
    huge, _ = sign_in(browser, "u" * 100_000, PASSWORD)
    assert huge.status_code in (400, 413)
    assert "location" not in huge.headers
    formula, _ = sign_in(browser, '=HYPERLINK("http://x")<script>alert(1)</script>', PASSWORD)
    assert formula.status_code == 401
    assert "<script>alert" not in formula.text  # typed back escaped
    repeated = browser.http.post(
        f"{base_url}/oauth/authorize",
        content=f"client_id={CLIENT_ID}&client_id=x",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert repeated.status_code == 400
    assert "given more than once" in repeated.text
    # none of this counted against the real account
    assert sign_in(browser, username)[0].status_code == 303


def test_a_disabled_account_cannot_sign_in_nor_refresh(
    base_url: str,
    settings: Settings,
    browser: Browser,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    username = new_person(settings, monkeypatch, capsys)
    tokens = tokens_for(browser, username)
    output = hub(settings, monkeypatch, capsys, "users", "disable", username)
    assert f"account {username} disabled; 1 sign-in(s) ended" in output
    answer, _ = sign_in(browser, username)
    assert answer.status_code == 403
    assert "This account is disabled." in answer.text
    wrong, _ = sign_in(browser, username, "not the password at all")
    assert wrong.status_code == 401  # only the right password learns that the account is disabled
    assert refresh(base_url, tokens["refresh_token"]).json()["error"] == "invalid_grant"
    listed = hub(settings, monkeypatch, capsys, "users", "list", "--firm", FIRM)
    assert any(line.startswith(f"{username}\t{FIRM}\teditor\tpassword only\tdisabled") for line in listed.splitlines())


def test_a_persons_token_is_refused_what_the_role_may_not_do(
    base_url: str,
    settings: Settings,
    browser: Browser,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    viewer = tokens_for(browser, new_person(settings, monkeypatch, capsys, role="viewer"))["access_token"]
    grant = f'mutation {{ grantSharing(input: {{scope: TRACE, level: DETAIL, toFirmId: "{OTHER_FIRM}"}}) {{ id }} }}'
    refused = graphql(base_url, viewer, grant)
    assert refused["data"] is None
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    admin = tokens_for(browser, new_person(settings, monkeypatch, capsys, role="admin"))["access_token"]
    assert graphql(base_url, admin, grant)["data"]["grantSharing"]["id"]
    # a person of a firm that is not a member of the cluster is refused like any other token
    outsider = tokens_for(browser, new_person(settings, monkeypatch, capsys, firm="not-a-member"))["access_token"]
    response = httpx.post(
        f"{base_url}/graphql",
        json={"query": ME},
        headers={"Authorization": f"Bearer {outsider}"},
        timeout=SLOW_MACHINE,
    )
    assert response.status_code == 401


def test_the_form_speaks_korean_by_default(base_url: str, browser: Browser) -> None:
    _, challenge = pkce()
    params = authorization_params(base_url, challenge)
    del params["ui_locales"]
    korean = browser.open_form(params)
    assert '<html lang="ko">' in korean.text
    for label in ("아이디", "비밀번호", "로그인"):
        assert label in korean.text
    english = browser.http.get(
        f"{base_url}/oauth/authorize", params=params, headers={"Accept-Language": "en-US,en;q=0.9"}
    )
    assert '<html lang="en">' in english.text
    assert "Username" in english.text


def test_weak_passwords_and_device_accounts_are_refused(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HUB_STATE_DIR", str(settings.state_dir))
    for password, reason in (
        ("short", "at least 12 characters"),
        ("password1234", "too easy to guess"),
        ("weakling-" + FIRM, "must not contain the username or the firm's id"),
    ):
        monkeypatch.setattr("sys.stdin", io.StringIO(password + "\n"))
        capsys.readouterr()
        status = hub_cli(
            ["users", "create", "--firm", FIRM, "--role", "viewer", "--username", "weakling", "--password-stdin"]
        )
        assert status == 2
        assert reason in capsys.readouterr().err
    with pytest.raises(SystemExit):
        hub_cli(["users", "create", "--firm", FIRM, "--role", "device", "--username", "gateway", "--password-stdin"])


def test_a_raised_hash_cost_rehashes_at_the_next_sign_in(
    neo4j_server: tuple[str, str, str],
    settings: Settings,
    browser: Browser,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    username = new_person(settings, monkeypatch, capsys)

    def stored_hash() -> str:
        with sqlite3.connect(settings.state_dir / "hub.db") as db:
            (value,) = db.execute("SELECT password_hash FROM person_account WHERE username = ?", (username,)).fetchone()
        return str(value)

    assert "$argon2id$v=19$m=8192,t=1,p=1$" in stored_hash()
    raised = settings.model_copy(update={"port": free_port(), "password_hash_time_cost": 2})
    with serve_in_thread(create_app(raised), port=raised.port) as other_hub:
        # the same issuer (and so the same registered redirect URI) served by a second process
        answer, _ = sign_in(Browser(other_hub, browser.http), username, redirect_uri=f"{settings.issuer}{CALLBACK}")
        assert answer.status_code == 303
    assert "$argon2id$v=19$m=8192,t=2,p=1$" in stored_hash()
    assert sign_in(browser, username)[0].status_code == 303  # the new hash still takes the same password


def test_failed_sign_ins_on_two_hub_processes_add_up(
    settings: Settings,
    base_url: str,
    browser: Browser,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    username = new_person(settings, monkeypatch, capsys)
    second = settings.model_copy(update={"port": free_port()})  # the same SQL store and issuer
    with serve_in_thread(create_app(second), port=second.port) as other_hub:
        hubs = [browser, Browser(other_hub, browser.http)]
        for attempt in range(settings.sign_in_lockout_failures):  # spread over both processes
            answer, _ = sign_in(hubs[attempt % 2], username, "wrong wrong wrong", redirect_uri=f"{base_url}{CALLBACK}")
            assert answer.status_code == 401
        for hub_browser in hubs:
            locked, _ = sign_in(hub_browser, username, redirect_uri=f"{base_url}{CALLBACK}")
            assert locked.status_code == 429
