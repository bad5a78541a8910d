"""Forged, stolen and bent tokens against the running hub: each one gets 401 and no data, for its own reason.

The trusted issuers are a tiny Starlette app on a loopback port serving discovery and key sets for issuers A
(pinned to firm-a, RS256), B (pinned to firm-b, ES256) and S (a shared IdP naming the firm in a claim, EdDSA);
it also serves an untrusted issuer's keys and an attacker's key set, and records every request it gets.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet, OKPKey, RSAKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from auth.federation import JWS_REGISTRY, TrustedIssuer
from auth.issuer import MAX_TOKEN_BYTES
from graph_schema.db import Graph
from hub.app import create_app
from hub.server import free_port, serve_in_thread
from tests.e2e.hub_settings import hub_settings
from tests.factories import register_firms

pytestmark = pytest.mark.neo4j

AUDIENCE = "food-cluster-hub"
SigningKey = RSAKey | ECKey | OKPKey


def serving(app: Starlette, port: int) -> AbstractContextManager[str]:
    """An ASGI app in uvicorn on a thread; yields its base URL."""
    return serve_in_thread(app, port=port)


@dataclass
class Issuer:
    """One issuer the test signs for: its URL, key and algorithm."""

    url: str
    key: SigningKey
    alg: str

    def claims(self, **overrides: Any) -> dict[str, Any]:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.url,
            "aud": AUDIENCE,
            "sub": "app-1",
            "iat": now,
            "nbf": now,
            "exp": now + 300,
            "roles": ["viewer"],
            "scope": "trace:read",
        }
        claims.update(overrides)
        return {name: value for name, value in claims.items() if value is not None}

    def sign(self, claims: dict[str, Any] | None = None, *, key: SigningKey | None = None, **header: Any) -> str:
        signer = key or self.key
        alg = header.pop("alg", self.alg)
        # the hub's own registry knows every algorithm used here, and lets EdDSA pass without joserfc's warning
        return jwt.encode(
            {"alg": alg, "kid": signer.kid, **header}, claims or self.claims(), signer, registry=JWS_REGISTRY
        )


@dataclass
class IdPs:
    """The identity providers of this module, and what was asked of them."""

    base: str
    a: Issuer
    b: Issuer
    shared: Issuer
    untrusted: Issuer
    attacker_key: RSAKey
    builtin_issuer: str = ""  # the hub's own issuer, known once the hub runs
    requests: list[str] = field(default_factory=list)

    @property
    def attacker_jwks_url(self) -> str:
        return f"{self.base}/attacker/jwks"


def rsa(kid: str) -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": kid, "use": "sig"}, private=True)


@pytest.fixture(scope="module")
def idps() -> Iterator[IdPs]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    found = IdPs(
        base=base,
        a=Issuer(f"{base}/a", rsa("a-1"), "RS256"),
        b=Issuer(f"{base}/b", ECKey.generate_key("P-256", parameters={"kid": "b-1"}, private=True), "ES256"),
        shared=Issuer(f"{base}/s", OKPKey.generate_key("Ed25519", parameters={"kid": "s-1"}, private=True), "EdDSA"),
        untrusted=Issuer(f"{base}/evil", rsa("evil-1"), "RS256"),
        attacker_key=rsa("attacker-1"),
    )
    keys_of = {"a": found.a.key, "b": found.b.key, "s": found.shared.key, "evil": found.untrusted.key}
    keys_of["attacker"] = found.attacker_key

    async def discovery(request: Request) -> JSONResponse:
        found.requests.append(request.url.path)
        name = request.path_params["name"]
        return JSONResponse({"issuer": f"{base}/{name}", "jwks_uri": f"{base}/{name}/jwks"})

    async def jwks(request: Request) -> JSONResponse:
        found.requests.append(request.url.path)
        key = keys_of.get(request.path_params["name"])
        if key is None:
            return JSONResponse({"error": "no such issuer"}, status_code=404)
        return JSONResponse(KeySet([key]).as_dict(private=False))

    app = Starlette(
        routes=[
            Route("/{name}/.well-known/openid-configuration", discovery),
            Route("/{name}/jwks", jwks),
        ]
    )
    with serving(app, port):
        yield found


@pytest.fixture(scope="module")
def hub(neo4j_server: tuple[str, str, str], idps: IdPs, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    settings = hub_settings(
        neo4j_server,
        tmp_path_factory.mktemp("state"),
        trusted_issuers=[
            TrustedIssuer(issuer=idps.a.url, audience=AUDIENCE, firm_id="firm-a"),
            TrustedIssuer(issuer=idps.b.url, audience=AUDIENCE, firm_id="firm-b"),
            TrustedIssuer(issuer=idps.shared.url, audience=AUDIENCE, firm_claim="org"),
        ],
    )
    idps.builtin_issuer = settings.issuer
    with serving(create_app(settings), settings.port) as base_url:
        yield base_url


@pytest.fixture(autouse=True)
async def members(graph: Graph) -> None:
    """Every firm any token here names is a member, so no attack is refused merely for naming a stranger."""
    await register_firms(graph, ["firm-a", "firm-b", "farm-s"])


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def by_hand(header: dict[str, Any], claims: dict[str, Any], signature: bytes = b"") -> str:
    return f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}.{b64(signature)}"


def hs256_keyed_with_public_pem(issuer: Issuer) -> str:
    # the key-confusion forgery: the issuer's public key, as published, used as an HMAC secret. joserfc
    # refuses to do this, so the attacker computes the MAC by hand
    assert isinstance(issuer.key, RSAKey)
    header = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": issuer.key.kid}).encode())
    payload = b64(json.dumps(issuer.claims()).encode())
    mac = hmac.new(issuer.key.as_pem(private=False), f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{b64(mac)}"


def embedded_jwk_forgery(idps: IdPs) -> str:
    # the attacker's own public key in the header, under the issuer's key id: only published keys count
    forger = rsa(str(idps.a.key.kid))
    return idps.a.sign(key=forger, jwk=dict(forger.as_dict(private=False)))


def builtin_issuer_forgery(idps: IdPs) -> str:
    # the hub's own issuer URL, with a key the attacker made in the built-in issuer's algorithm
    key = ECKey.generate_key("P-256", parameters={"kid": "hub-key"}, private=True)
    claims = idps.a.claims(iss=idps.builtin_issuer, firm_id="firm-a")
    return jwt.encode({"alg": "ES256", "kid": "hub-key"}, claims, key)


@dataclass(frozen=True)
class Attack:
    forge: Callable[[IdPs], str]
    reason: str  # what the hub's log must say, so each case is refused for its own reason


ATTACKS: dict[str, Attack] = {
    "alg none": Attack(lambda i: by_hand({"alg": "none", "typ": "JWT"}, i.a.claims()), "algorithm 'none'"),
    "HS256 keyed with the public key PEM": Attack(lambda i: hs256_keyed_with_public_pem(i.a), "algorithm 'HS256'"),
    "expired": Attack(lambda i: i.a.sign(i.a.claims(exp=int(time.time()) - 120)), "expired"),
    "not yet valid, beyond leeway": Attack(lambda i: i.a.sign(i.a.claims(nbf=int(time.time()) + 300)), "not yet valid"),
    "wrong audience": Attack(lambda i: i.a.sign(i.a.claims(aud="another-api")), "aud"),
    "untrusted issuer, with working discovery": Attack(lambda i: i.untrusted.sign(), "is not trusted"),
    "trusted iss, right kid, wrong key": Attack(lambda i: i.a.sign(key=rsa(str(i.a.key.kid))), "bad_signature"),
    "unknown kid": Attack(lambda i: i.a.sign(key=rsa("never-published")), "'never-published' is not among the keys"),
    "missing sub": Attack(lambda i: i.a.sign(i.a.claims(sub=None)), "sub"),
    "issuer A claiming issuer B's pinned firm": Attack(
        lambda i: i.a.sign(i.a.claims(firm_id="firm-b")), "speaks for firm 'firm-a'"
    ),
    "shared issuer naming a pinned firm": Attack(
        lambda i: i.shared.sign(i.shared.claims(org="firm-a")), "signs in only through its own issuer"
    ),
    "malformed base64": Attack(lambda i: "eyJ!!!.%%%.***", "not a compact JWS"),
    "oversized": Attack(lambda i: i.a.sign(i.a.claims(pad="x" * MAX_TOKEN_BYTES)), "too large"),
    "jku to an attacker key set": Attack(
        lambda i: i.a.sign(key=i.attacker_key, jku=i.attacker_jwks_url), "'attacker-1' is not among the keys"
    ),
    "x5u to an attacker key set": Attack(
        lambda i: i.a.sign(key=i.attacker_key, x5u=i.attacker_jwks_url), "'attacker-1' is not among the keys"
    ),
    "embedded jwk of the attacker, issuer's kid": Attack(embedded_jwk_forgery, "bad_signature"),
    "validly signed, for a firm that is not a member": Attack(
        lambda i: i.shared.sign(i.shared.claims(org="ghost-firm")), "not a member"
    ),
    "signature stripped": Attack(lambda i: i.a.sign().rsplit(".", 1)[0] + ".", "bad_signature"),
    "built-in issuer's iss, attacker's key": Attack(builtin_issuer_forgery, "token rejected"),
    "two dots only": Attack(lambda i: "..", "not a compact JWS"),
}


def assert_refused(response: httpx.Response) -> None:
    assert response.status_code == 401, response.text
    body = response.json()
    assert body["code"] == "UNAUTHENTICATED"
    assert "data" not in body


def ask(hub: str, authorization: str) -> httpx.Response:
    return httpx.post(f"{hub}/graphql", json={"query": "{ me { firmId } }"}, headers={"Authorization": authorization})


@pytest.mark.parametrize("issuer_name", ["a", "b", "shared"])
def test_positive_control_a_valid_token_of_each_trusted_issuer_is_accepted(
    hub: str, idps: IdPs, issuer_name: str
) -> None:
    issuer: Issuer = getattr(idps, issuer_name)
    firm = {"a": "firm-a", "b": "firm-b", "shared": "farm-s"}[issuer_name]
    response = ask(hub, f"Bearer {issuer.sign(issuer.claims(org=firm))}")
    assert response.status_code == 200, response.text
    assert response.json() == {"data": {"me": {"firmId": firm}}}


@pytest.mark.parametrize("name", list(ATTACKS))
def test_attack_is_refused(hub: str, idps: IdPs, caplog: pytest.LogCaptureFixture, name: str) -> None:
    attack = ATTACKS[name]
    caplog.set_level(logging.INFO, logger="auth.backend")
    assert_refused(ask(hub, f"Bearer {attack.forge(idps)}"))
    reasons = [record.getMessage() for record in caplog.records if record.name == "auth.backend"]
    assert any(attack.reason in reason for reason in reasons), reasons


# an empty bearer: HTTP clients and servers drop the trailing space of "Bearer ", so this is what arrives
@pytest.mark.parametrize("authorization", ["Bearer", "bearer", "Bearer ..", "Bearer a b", "Token abc"])
def test_empty_and_malformed_authorization_headers_are_refused(hub: str, authorization: str) -> None:
    assert_refused(ask(hub, authorization))


def test_key_urls_in_headers_are_never_fetched(hub: str, idps: IdPs) -> None:
    for token in (
        idps.a.sign(key=idps.attacker_key, jku=idps.attacker_jwks_url),
        idps.a.sign(key=idps.attacker_key, x5u=idps.attacker_jwks_url),
    ):
        assert_refused(ask(hub, f"Bearer {token}"))
    assert "/attacker/jwks" not in idps.requests
    assert "/evil/jwks" not in idps.requests  # nor the keys of an issuer nobody trusts
