"""Trusted issuers: tokens checked against a JWKS found by discovery, served in-process by httpx's MockTransport."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet, OKPKey, RSAKey
from pydantic import ValidationError

from auth.federation import JWS_REGISTRY, FederatedIssuer, KeysUnavailable, TrustedIssuer
from auth.issuer import MAX_TOKEN_BYTES, BuiltinIssuer, InvalidToken
from auth.members import MemberFirms
from auth.principal import Principal, Role
from auth.verifier import VERIFIED_TTL_SECONDS, TokenVerifier
from graph_schema.db import Graph
from hub.settings import Settings

ISSUER = "https://idp.oem1.example"
AUDIENCE = "food-cluster-hub"
SigningKey = RSAKey | ECKey | OKPKey


def rsa_key(kid: str) -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": kid, "use": "sig"}, private=True)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def claims_for(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "app-1",
        "iat": now,
        "exp": now + 300,
        "firm_id": "oem1",
        "roles": ["editor"],
        "scope": "trace:read inventory:read",
    }
    claims.update(overrides)
    return {name: value for name, value in claims.items() if value is not None}


def sign(key: SigningKey, claims: dict[str, Any], *, alg: str = "RS256", **header: Any) -> str:
    # the hub's registry only for EdDSA (joserfc's own warns on that name); others may sign with any algorithm
    registry = JWS_REGISTRY if alg == "EdDSA" else None
    return jwt.encode({"alg": alg, "kid": key.kid, **header}, claims, key, algorithms=[alg], registry=registry)


def unsigned(header: dict[str, Any], claims: object, signature: bytes = b"") -> str:
    """A token as an attacker writes it by hand: any header, any claims, any signature."""
    return ".".join([b64(json.dumps(header).encode()), b64(json.dumps(claims).encode()), b64(signature)])


def sign_raw(key: SigningKey, header: dict[str, Any], claims: dict[str, Any], *, alg: str = "RS256") -> str:
    """A token with a header joserfc would refuse to write, signed by joserfc's own algorithm."""
    signing_input = (
        f"{b64(json.dumps({'alg': alg, 'kid': key.kid, **header}).encode())}.{b64(json.dumps(claims).encode())}"
    )
    return f"{signing_input}.{b64(JWS_REGISTRY.get_alg(alg).sign(signing_input.encode(), key))}"


@dataclass
class FakeIdP:
    """Discovery and a JWK set over httpx's MockTransport; records every URL asked for."""

    keys: list[SigningKey]
    issuer: str = ISSUER
    discovery_issuer: str | None = None
    down: bool = False
    requests: list[str] = field(default_factory=list)
    extra_documents: dict[str, dict[str, Any]] = field(default_factory=dict)

    def handle(self, request: httpx.Request) -> httpx.Response:
        url = str(request.url)
        self.requests.append(url)
        if self.down:
            return httpx.Response(503)
        if url == f"{self.issuer}/.well-known/openid-configuration":
            return httpx.Response(
                200, json={"issuer": self.discovery_issuer or self.issuer, "jwks_uri": f"{self.issuer}/jwks"}
            )
        if url == f"{self.issuer}/jwks":
            return httpx.Response(200, json=KeySet(list(self.keys)).as_dict(private=False))
        if url in self.extra_documents:
            return httpx.Response(200, json=self.extra_documents[url])
        return httpx.Response(404)

    @property
    def jwks_fetches(self) -> int:
        return self.requests.count(f"{self.issuer}/jwks")


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def key() -> RSAKey:
    return rsa_key("k1")


@pytest.fixture
def idp(key: RSAKey) -> FakeIdP:
    return FakeIdP(keys=[key])


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def make_issuer(idp: FakeIdP, clock: FakeClock) -> Callable[..., FederatedIssuer]:
    def make(**config: Any) -> FederatedIssuer:
        settings: dict[str, Any] = {"issuer": ISSUER, "audience": AUDIENCE, **config}
        return FederatedIssuer.create(
            TrustedIssuer.model_validate(settings),
            http=httpx.AsyncClient(transport=httpx.MockTransport(idp.handle)),
            clock=clock,
            jwks_ttl_seconds=600,
            refetch_interval_seconds=30,
        )

    return make


async def test_a_valid_token_becomes_the_principal_it_names(
    make_issuer: Callable[..., FederatedIssuer], key: RSAKey
) -> None:
    token = sign(key, claims_for(roles=["editor", "auditor", "superuser"]))
    principal = await make_issuer().verify(token)
    assert principal.issuer == ISSUER
    assert principal.subject == "app-1"
    assert principal.firm_id == "oem1"
    assert principal.roles == {Role.EDITOR, Role.AUDITOR}  # "superuser" is no role of the hub: ignored
    assert principal.scopes == {"trace:read", "inventory:read"}


@pytest.mark.parametrize(
    ("alg", "new_key"),
    [
        ("RS256", lambda: rsa_key("rsa")),
        ("PS256", lambda: rsa_key("pss")),
        ("ES256", lambda: ECKey.generate_key("P-256", parameters={"kid": "ec"}, private=True)),
        ("EdDSA", lambda: OKPKey.generate_key("Ed25519", parameters={"kid": "ed"}, private=True)),
    ],
)
async def test_each_accepted_algorithm_verifies(
    make_issuer: Callable[..., FederatedIssuer], idp: FakeIdP, alg: str, new_key: Callable[[], SigningKey]
) -> None:
    signing_key = new_key()
    idp.keys = [signing_key]
    principal = await make_issuer().verify(sign(signing_key, claims_for(), alg=alg))
    assert principal.firm_id == "oem1"


async def test_roles_default_when_the_claim_is_absent_and_may_be_space_separated(
    make_issuer: Callable[..., FederatedIssuer], key: RSAKey
) -> None:
    issuer = make_issuer(default_roles=["viewer", "auditor"], roles_claim="groups", scope_claim="scp")
    without_roles = await issuer.verify(sign(key, claims_for(scp=["trace:read"])))
    assert without_roles.roles == {Role.VIEWER, Role.AUDITOR}
    assert without_roles.scopes == {"trace:read"}
    spaced = await issuer.verify(sign(key, claims_for(groups="admin editor")))
    assert spaced.roles == {Role.ADMIN, Role.EDITOR}


async def test_a_pinned_issuer_speaks_for_its_firm_and_refuses_tokens_naming_another(
    make_issuer: Callable[..., FederatedIssuer], key: RSAKey
) -> None:
    issuer = make_issuer(firm_id="oem1")
    assert (await issuer.verify(sign(key, claims_for(firm_id=None)))).firm_id == "oem1"
    assert (await issuer.verify(sign(key, claims_for(firm_id="oem1")))).firm_id == "oem1"
    with pytest.raises(InvalidToken, match="speaks for firm 'oem1'"):
        await issuer.verify(sign(key, claims_for(firm_id="anchor")))


async def test_a_shared_issuer_needs_the_firm_claim(make_issuer: Callable[..., FederatedIssuer], key: RSAKey) -> None:
    issuer = make_issuer(firm_claim="org")
    assert (await issuer.verify(sign(key, claims_for(org="farm7")))).firm_id == "farm7"
    with pytest.raises(InvalidToken, match="no org claim"):
        await issuer.verify(sign(key, claims_for()))


def hs256_with_public_key(key: RSAKey, claims: dict[str, Any]) -> str:
    # the classic key-confusion forgery: joserfc refuses to make a PEM an HMAC key, so the attacker does it by hand
    header = b64(json.dumps({"alg": "HS256", "kid": key.kid}).encode())
    payload = b64(json.dumps(claims).encode())
    mac = hmac.new(key.as_pem(private=False), f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{b64(mac)}"


@pytest.mark.parametrize(
    "forge",
    [
        pytest.param(lambda key: unsigned({"alg": "none"}, claims_for()), id="alg none"),
        pytest.param(lambda key: unsigned({"alg": "None", "kid": key.kid}, claims_for()), id="alg None"),
        pytest.param(lambda key: hs256_with_public_key(key, claims_for()), id="HS256 with the public key"),
        pytest.param(lambda key: sign(key, claims_for(), alg="RS512"), id="RS512 not accepted"),
        pytest.param(lambda key: "x" * (MAX_TOKEN_BYTES + 1), id="oversized"),
        pytest.param(lambda key: "a.b", id="two parts"),
        pytest.param(lambda key: "..", id="two dots"),
        pytest.param(lambda key: "!!!.@@@.###", id="malformed base64"),
        pytest.param(lambda key: unsigned({"alg": "RS256"}, ["not", "an", "object"]), id="payload not an object"),
    ],
)
async def test_forgeries_are_refused_before_any_key_is_fetched(
    make_issuer: Callable[..., FederatedIssuer], idp: FakeIdP, key: RSAKey, forge: Callable[[RSAKey], str]
) -> None:
    with pytest.raises(InvalidToken):
        await make_issuer().verify(forge(key))
    assert idp.requests == []


# overrides of the claims, given the time the test runs (not when it was collected: a long suite would skew it)
@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        pytest.param(lambda now: {"exp": now - 60}, "expired", id="expired beyond leeway"),
        pytest.param(lambda now: {"nbf": now + 120}, "not yet valid", id="nbf beyond leeway"),
        pytest.param(lambda now: {"iat": now + 120}, "issued in the future", id="issued in the future"),
        pytest.param(lambda now: {"aud": "another-api"}, "aud", id="wrong audience"),
        pytest.param(lambda now: {"aud": ["another-api", "a-third"]}, "aud", id="wrong audience list"),
        pytest.param(lambda now: {"iss": "https://evil.example"}, "iss", id="wrong issuer"),
        pytest.param(lambda now: {"sub": None}, "sub", id="no subject"),
        pytest.param(lambda now: {"sub": ""}, "sub", id="empty subject"),
        pytest.param(lambda now: {"exp": None}, "exp", id="no expiry"),
        pytest.param(lambda now: {"aud": None}, "aud", id="no audience"),
        pytest.param(lambda now: {"exp": "tomorrow"}, "exp", id="expiry not a number"),
    ],
)
async def test_claims_are_checked(
    make_issuer: Callable[..., FederatedIssuer],
    key: RSAKey,
    overrides: Callable[[int], dict[str, Any]],
    reason: str,
) -> None:
    claims = claims_for(**overrides(int(time.time())))
    with pytest.raises(InvalidToken, match=reason):
        await make_issuer().verify(sign(key, claims))


async def test_leeway_tolerates_small_clock_skew(make_issuer: Callable[..., FederatedIssuer], key: RSAKey) -> None:
    now = int(time.time())
    skewed = claims_for(iat=now + 10, nbf=now + 10, exp=now - 10, aud=["another-api", AUDIENCE])
    assert (await make_issuer().verify(sign(key, skewed))).subject == "app-1"
    strict = FederatedIssuer(config=make_issuer().config, keys=make_issuer().keys, leeway_seconds=0)
    with pytest.raises(InvalidToken, match="in the future"):
        await strict.verify(sign(key, skewed))


async def test_a_token_signed_by_another_key_with_the_right_kid_fails(
    make_issuer: Callable[..., FederatedIssuer], key: RSAKey
) -> None:
    impostor = rsa_key(str(key.kid))
    with pytest.raises(InvalidToken, match="rejected"):
        await make_issuer().verify(sign(impostor, claims_for()))


@pytest.mark.parametrize("header", ["jku", "x5u"])
async def test_key_url_headers_are_never_followed(
    make_issuer: Callable[..., FederatedIssuer], idp: FakeIdP, header: str
) -> None:
    attacker = rsa_key("attacker")
    attacker_url = f"{ISSUER}/attacker-keys"  # even on the issuer's own host
    idp.extra_documents[attacker_url] = dict(KeySet([attacker]).as_dict(private=False))
    with pytest.raises(InvalidToken, match="'attacker' is not among the keys"):
        await make_issuer().verify(sign(attacker, claims_for(), **{header: attacker_url}))
    assert attacker_url not in idp.requests


async def test_an_embedded_jwk_header_is_never_used(make_issuer: Callable[..., FederatedIssuer], key: RSAKey) -> None:
    attacker = rsa_key(str(key.kid))
    embedded = attacker.as_dict(private=False)
    with pytest.raises(InvalidToken):
        await make_issuer().verify(sign(attacker, claims_for(), jwk=embedded))


async def test_unknown_headers_are_tolerated_but_unknown_critical_ones_are_not(
    make_issuer: Callable[..., FederatedIssuer], key: RSAKey
) -> None:
    assert (await make_issuer().verify(sign_raw(key, {"typ": "at+jwt", "x-trace": 1}, claims_for()))).firm_id == "oem1"
    with pytest.raises(InvalidToken, match="x-trace"):
        await make_issuer().verify(sign_raw(key, {"crit": ["x-trace"], "x-trace": 1}, claims_for()))


async def test_keys_are_cached_and_refetched_once_for_an_unknown_kid(
    make_issuer: Callable[..., FederatedIssuer], idp: FakeIdP, key: RSAKey, clock: FakeClock
) -> None:
    issuer = make_issuer()
    for _ in range(3):
        await issuer.verify(sign(key, claims_for()))
    assert idp.jwks_fetches == 1

    rotated = rsa_key("k2")
    idp.keys = [rotated]
    clock.now += 1
    assert (await issuer.verify(sign(rotated, claims_for()))).subject == "app-1"
    assert idp.jwks_fetches == 2

    # a flood of made-up key ids costs the IdP nothing until the pause is over
    for n in range(20):
        with pytest.raises(InvalidToken, match="not among the keys"):
            await issuer.verify(sign(rotated, claims_for(), kid=f"bogus{n}"))
    assert idp.jwks_fetches == 2
    clock.now += 30
    with pytest.raises(InvalidToken, match="not among the keys"):
        await issuer.verify(sign(rotated, claims_for(), kid="bogus-later"))
    assert idp.jwks_fetches == 3

    # the old key left the set: its tokens no longer pass
    with pytest.raises(InvalidToken, match="'k1' is not among the keys"):
        await issuer.verify(sign(key, claims_for()))


async def test_keys_are_fetched_again_after_their_ttl(
    make_issuer: Callable[..., FederatedIssuer], idp: FakeIdP, key: RSAKey, clock: FakeClock
) -> None:
    issuer = make_issuer()
    await issuer.verify(sign(key, claims_for()))
    clock.now += 601
    await issuer.verify(sign(key, claims_for()))
    assert idp.jwks_fetches == 2


async def test_cached_keys_keep_working_while_the_idp_is_down(
    make_issuer: Callable[..., FederatedIssuer], idp: FakeIdP, key: RSAKey, clock: FakeClock
) -> None:
    issuer = make_issuer()
    await issuer.verify(sign(key, claims_for()))
    idp.down = True
    clock.now += 601
    for _ in range(5):
        assert (await issuer.verify(sign(key, claims_for()))).firm_id == "oem1"
    assert len(idp.requests) == 3  # discovery + keys, then one failed attempt; the next waits for the pause


async def test_an_unreachable_idp_is_not_asked_on_every_token(
    make_issuer: Callable[..., FederatedIssuer], idp: FakeIdP, key: RSAKey, clock: FakeClock
) -> None:
    idp.down = True
    issuer = make_issuer()
    for _ in range(5):
        with pytest.raises(KeysUnavailable):
            await issuer.verify(sign(key, claims_for()))
    assert len(idp.requests) == 1
    idp.down = False
    clock.now += 30
    assert (await issuer.verify(sign(key, claims_for()))).subject == "app-1"


async def test_discovery_for_another_issuer_is_refused(
    make_issuer: Callable[..., FederatedIssuer], idp: FakeIdP, key: RSAKey
) -> None:
    idp.discovery_issuer = "https://evil.example"
    with pytest.raises(KeysUnavailable, match="describes issuer"):
        await make_issuer().verify(sign(key, claims_for()))
    assert idp.jwks_fetches == 0


async def test_a_configured_jwks_uri_skips_discovery(
    make_issuer: Callable[..., FederatedIssuer], idp: FakeIdP, key: RSAKey
) -> None:
    await make_issuer(jwks_uri=f"{ISSUER}/jwks").verify(sign(key, claims_for()))
    assert idp.requests == [f"{ISSUER}/jwks"]


async def test_a_token_without_kid_needs_a_single_key(
    make_issuer: Callable[..., FederatedIssuer], idp: FakeIdP, key: RSAKey
) -> None:
    token = jwt.encode({"alg": "RS256"}, claims_for(), key, registry=JWS_REGISTRY)
    assert (await make_issuer().verify(token)).subject == "app-1"
    idp.keys = [key, rsa_key("k2")]
    with pytest.raises(InvalidToken, match="no key id"):
        await make_issuer().verify(token)


async def test_symmetric_and_weak_keys_in_the_jwks_are_skipped(
    make_issuer: Callable[..., FederatedIssuer], idp: FakeIdP, key: RSAKey
) -> None:
    jwks: dict[str, Any] = dict(KeySet([key]).as_dict(private=False))
    jwks["keys"].append({"kty": "oct", "kid": "shared", "k": b64(b"a-shared-secret-of-32-bytes-long")})
    idp.extra_documents[f"{ISSUER}/keys-with-oct"] = jwks
    issuer = make_issuer(jwks_uri=f"{ISSUER}/keys-with-oct")
    forged = unsigned({"alg": "HS256", "kid": "shared"}, claims_for())
    with pytest.raises(InvalidToken, match="HS256"):
        await issuer.verify(forged)
    assert (await issuer.verify(sign(key, claims_for()))).subject == "app-1"
    assert "shared" not in issuer.keys._by_kid


@pytest.mark.parametrize(
    "config",
    [
        {"issuer": "http://idp.example", "audience": AUDIENCE},
        {"issuer": "ftp://idp.example", "audience": AUDIENCE},
        {"issuer": "https://idp.example?tenant=1", "audience": AUDIENCE},
        {"issuer": ISSUER, "audience": ""},
        {"issuer": ISSUER, "audience": AUDIENCE, "default_roles": ["root"]},
        {"issuer": ISSUER, "audience": AUDIENCE, "firm_id": ""},
        {"issuer": ISSUER, "audience": AUDIENCE, "jwks_uri": "http://keys.example/jwks"},
        {"issuer": ISSUER, "audience": AUDIENCE, "unknown": 1},
    ],
)
def test_bad_trusted_issuer_settings_fail_at_start(config: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        TrustedIssuer.model_validate(config)


def test_trusted_issuers_come_from_the_environment_as_json(monkeypatch: pytest.MonkeyPatch) -> None:
    trusted = [
        {"issuer": ISSUER, "audience": AUDIENCE, "firm_id": "oem1"},
        {"issuer": "http://127.0.0.1:9", "audience": AUDIENCE},
    ]
    monkeypatch.setenv("HUB_TRUSTED_ISSUERS", json.dumps(trusted))
    monkeypatch.setenv("HUB_TOKEN_LEEWAY_SECONDS", "5")
    settings = Settings()
    assert [(t.issuer, t.firm_id, t.default_roles) for t in settings.trusted_issuers] == [
        (ISSUER, "oem1", [Role.VIEWER]),
        ("http://127.0.0.1:9", None, [Role.VIEWER]),
    ]
    assert settings.trusted_issuers[0].discovery_url == f"{ISSUER}/.well-known/openid-configuration"
    assert settings.token_leeway_seconds == 5


# --- routing: the built-in issuer, or the trusted issuer the token names ---


SHARED = "https://login.cluster.example"


@pytest.fixture
def builtin() -> BuiltinIssuer:
    key = ECKey.generate_key("P-256", parameters={"kid": "hub1", "use": "sig", "alg": "ES256"}, private=True)
    return BuiltinIssuer(issuer="http://127.0.0.1:8000", audience=AUDIENCE, keys=KeySet([key]))


@pytest.fixture
def shared_key() -> RSAKey:
    return rsa_key("s1")


@pytest.fixture
def verifier(builtin: BuiltinIssuer, key: RSAKey, shared_key: RSAKey) -> TokenVerifier:
    idps = {ISSUER: FakeIdP(keys=[key]), SHARED: FakeIdP(keys=[shared_key], issuer=SHARED)}

    def handle(request: httpx.Request) -> httpx.Response:
        origin = f"{request.url.scheme}://{request.url.host}"
        return idps[origin].handle(request)

    trusted = [
        TrustedIssuer(issuer=ISSUER, audience=AUDIENCE, firm_id="oem1"),
        TrustedIssuer(issuer=SHARED, audience=AUDIENCE),
    ]
    return TokenVerifier.create(
        builtin=builtin, trusted=trusted, http=httpx.AsyncClient(transport=httpx.MockTransport(handle))
    )


async def test_tokens_go_to_the_issuer_they_name(
    verifier: TokenVerifier, builtin: BuiltinIssuer, key: RSAKey, shared_key: RSAKey
) -> None:
    own = await verifier.verify(builtin.mint(subject="cli", firm_id="anchor", roles=[Role.ADMIN]))
    assert (own.issuer, own.firm_id) == (builtin.issuer, "anchor")
    assert own.roles == {Role.ADMIN}
    federated = await verifier.verify(sign(key, claims_for()))
    assert (federated.issuer, federated.firm_id) == (ISSUER, "oem1")
    shared = await verifier.verify(sign(shared_key, claims_for(iss=SHARED, firm_id="farm7")))
    assert (shared.issuer, shared.firm_id) == (SHARED, "farm7")


async def test_an_untrusted_or_missing_issuer_is_refused(verifier: TokenVerifier, key: RSAKey) -> None:
    with pytest.raises(InvalidToken, match="not trusted"):
        await verifier.verify(sign(key, claims_for(iss="https://evil.example")))
    with pytest.raises(InvalidToken, match="no iss claim"):
        await verifier.verify(sign(key, claims_for(iss=None)))


async def test_one_issuer_cannot_speak_for_a_firm_pinned_to_another(
    verifier: TokenVerifier, key: RSAKey, shared_key: RSAKey
) -> None:
    with pytest.raises(InvalidToken, match="signs in only through its own issuer"):
        await verifier.verify(sign(shared_key, claims_for(iss=SHARED, firm_id="oem1")))
    with pytest.raises(InvalidToken, match="speaks for firm 'oem1'"):
        await verifier.verify(sign(key, claims_for(firm_id="farm7")))


async def test_the_built_in_issuer_can_be_switched_off(builtin: BuiltinIssuer) -> None:
    verifier = TokenVerifier(builtin=None)
    with pytest.raises(InvalidToken, match="not trusted"):
        await verifier.verify(builtin.mint(subject="cli", firm_id="anchor", roles=[]))


def test_ambiguous_issuer_lists_fail_at_start(builtin: BuiltinIssuer) -> None:
    http = httpx.AsyncClient()
    twice = [TrustedIssuer(issuer=ISSUER, audience=AUDIENCE)] * 2
    with pytest.raises(ValueError, match="listed twice"):
        TokenVerifier.create(builtin=None, trusted=twice, http=http)
    with pytest.raises(ValueError, match="built-in issuer"):
        TokenVerifier.create(
            builtin=builtin, trusted=[TrustedIssuer(issuer=builtin.issuer, audience=AUDIENCE)], http=http
        )


# --- membership: a verified token counts only for a member firm ---


async def test_members_are_remembered_for_a_while_and_strangers_never(clock: FakeClock) -> None:
    members = {"oem1"}
    lookups: list[str] = []

    async def lookup(graph: Graph, firm_id: str) -> bool:
        lookups.append(firm_id)
        return firm_id in members

    cache = MemberFirms(ttl_seconds=30, lookup=lookup, clock=clock)
    graph: Graph = None  # type: ignore[assignment]  # the fake lookup never touches it
    assert [await cache.is_member(graph, "oem1") for _ in range(3)] == [True, True, True]
    assert [await cache.is_member(graph, "farm7") for _ in range(2)] == [False, False]
    assert lookups == ["oem1", "farm7", "farm7"]
    members.add("farm7")  # admitted: no wait for a cached "no"
    assert await cache.is_member(graph, "farm7")
    members.discard("oem1")
    clock.now += 31
    assert not await cache.is_member(graph, "oem1")


# --- verified tokens are remembered while their issuer's keys stay the same ---


class CountingIssuer(BuiltinIssuer):
    """The built-in issuer, counting the signatures it checks."""

    checked: int = 0

    def verify(self, token: str) -> Principal:
        object.__setattr__(self, "checked", self.checked + 1)
        return super().verify(token)


@pytest.fixture
def counting() -> CountingIssuer:
    key = ECKey.generate_key("P-256", parameters={"kid": "hub1", "use": "sig", "alg": "ES256"}, private=True)
    return CountingIssuer(issuer="http://127.0.0.1:8000", audience=AUDIENCE, keys=KeySet([key]))


async def test_a_token_sent_again_is_not_checked_again_while_its_keys_stand(
    counting: CountingIssuer, clock: FakeClock
) -> None:
    verifier = TokenVerifier(builtin=counting, clock=clock)
    token = counting.mint(subject="app", firm_id="anchor", roles=[Role.VIEWER])
    first = await verifier.verify(token)
    assert [await verifier.verify(token) for _ in range(3)] == [first] * 3
    assert counting.checked == 1
    clock.now += VERIFIED_TTL_SECONDS + 1  # remembered for a while only
    assert await verifier.verify(token) == first
    assert counting.checked == 2


async def test_a_remembered_token_is_refused_once_its_key_is_rotated_out(
    counting: CountingIssuer, clock: FakeClock
) -> None:
    verifier = TokenVerifier(builtin=counting, clock=clock)
    token = counting.mint(subject="app", firm_id="anchor", roles=[Role.VIEWER])
    await verifier.verify(token)
    new_key = ECKey.generate_key("P-256", parameters={"kid": "hub2", "use": "sig", "alg": "ES256"}, private=True)
    object.__setattr__(counting, "keys", KeySet([new_key]))  # what a changed key file does (BuiltinIssuer.key_set)
    with pytest.raises(InvalidToken, match="hub1"):
        await verifier.verify(token)


async def test_a_remembered_token_of_an_idp_is_refused_once_its_key_set_was_fetched_without_it(
    idp: FakeIdP, key: RSAKey, clock: FakeClock
) -> None:
    verifier = TokenVerifier.create(
        builtin=None,
        trusted=[TrustedIssuer(issuer=ISSUER, audience=AUDIENCE)],
        http=httpx.AsyncClient(transport=httpx.MockTransport(idp.handle)),
        clock=clock,
    )
    old = sign(key, claims_for())
    assert (await verifier.verify(old)).firm_id == "oem1"
    rotated = rsa_key("k2")
    idp.keys = [rotated]
    assert (await verifier.verify(sign(rotated, claims_for()))).firm_id == "oem1"  # an unknown kid: fetched again
    with pytest.raises(InvalidToken, match="'k1' is not among the keys"):
        await verifier.verify(old)


async def test_a_token_is_not_remembered_past_its_expiry_and_a_refused_one_never(
    counting: CountingIssuer, clock: FakeClock
) -> None:
    now = time.time()
    verifier = TokenVerifier(builtin=counting, clock=clock, leeway_seconds=0, wall_clock=lambda: now + 120)
    token = counting.mint(subject="app", firm_id="anchor", roles=[], ttl_seconds=60)  # expired at the wall clock
    await verifier.verify(token)  # its signature and exp are still good for the issuer's own (real) clock
    await verifier.verify(token)
    assert counting.checked == 2
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    for _ in range(2):
        with pytest.raises(InvalidToken):
            await verifier.verify(forged)
    assert counting.checked == 4


async def test_at_most_so_many_verified_tokens_are_remembered(
    counting: CountingIssuer, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("auth.verifier.VERIFIED_MAX_TOKENS", 3)
    verifier = TokenVerifier(builtin=counting, clock=clock)
    tokens = [counting.mint(subject=f"app{n}", firm_id="anchor", roles=[]) for n in range(5)]
    for token in tokens:
        await verifier.verify(token)
    await verifier.verify(tokens[-1])
    assert counting.checked == 5  # the newest is remembered
    await verifier.verify(tokens[0])
    assert counting.checked == 6  # the oldest was forgotten, and is checked again
