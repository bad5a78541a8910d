"""The built-in issuer's signing keys: rotation without downtime, retirement, and a JWKS without private parts."""

from __future__ import annotations

import dataclasses
import json
import stat
import time
from pathlib import Path

import pytest
from joserfc import jws
from joserfc.jwk import KeySet

import auth.issuer as issuer_module
from auth.issuer import BuiltinIssuer, InvalidToken, read_key_file, rotate_keys
from auth.principal import Role

ISSUER = "http://127.0.0.1:8000"
AUDIENCE = "food-cluster-hub"
TTL = 600
LEEWAY = 30
PUBLIC_EC_MEMBERS = {"kty", "crv", "x", "y", "kid", "use", "alg"}


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    return tmp_path / "issuer" / "signing-keys.json"


def open_issuer(key_file: Path, *, reload_interval_seconds: float = 0.0) -> BuiltinIssuer:
    """An issuer as the hub opens it; by default it looks at the key file on every use."""
    loaded = BuiltinIssuer.load(key_file=key_file, issuer=ISSUER, audience=AUDIENCE, ttl_seconds=TTL)
    return dataclasses.replace(loaded, leeway_seconds=LEEWAY, reload_interval_seconds=reload_interval_seconds)


def mint(issuer: BuiltinIssuer, firm_id: str = "anchor") -> str:
    return issuer.mint(subject=f"test:{firm_id}", firm_id=firm_id, roles=[Role.VIEWER], scopes=["trace:read"])


def kid_of(token: str) -> str:
    return str(jws.extract_compact(token.encode()).protected["kid"])


def public_kids(issuer: BuiltinIssuer) -> list[str]:
    return [key["kid"] for key in issuer.jwks()["keys"]]


def test_the_first_key_is_made_on_first_use_and_kept_owner_only(key_file: Path) -> None:
    issuer = open_issuer(key_file)
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert public_kids(issuer) == [issuer.signing_kid]
    assert open_issuer(key_file).signing_kid == issuer.signing_kid  # the next start reads the same key


def test_after_a_rotation_new_tokens_use_the_new_key_and_old_tokens_still_verify(key_file: Path) -> None:
    running = open_issuer(key_file)
    before = mint(running)
    old_kid = kid_of(before)

    new_kid = rotate_keys(key_file, retire_after_seconds=TTL + LEEWAY)

    assert new_kid != old_kid
    after = mint(running)  # the same, still running issuer: no restart
    assert kid_of(after) == new_kid == running.signing_kid
    for issuer in (running, open_issuer(key_file)):
        assert issuer.verify(before).firm_id == "anchor"
        assert issuer.verify(after).scopes == frozenset({"trace:read"})
        assert public_kids(issuer) == [old_kid, new_kid]


def test_a_token_of_a_key_rotated_in_since_the_last_look_is_verified_at_once(key_file: Path) -> None:
    # this issuer would look at the file again only in an hour, were it not for the token's unknown kid
    lazy = open_issuer(key_file, reload_interval_seconds=3600)
    lazy.verify(mint(lazy))
    rotate_keys(key_file)
    other_process = open_issuer(key_file)
    assert lazy.verify(mint(other_process)).subject == "test:anchor"


def test_keys_whose_tokens_have_all_expired_are_dropped_on_load(key_file: Path) -> None:
    first = open_issuer(key_file)
    old_token = mint(first)
    old_kid = kid_of(old_token)
    # a rotation long enough ago that every token the old key signed has expired
    new_kid = rotate_keys(key_file, retire_after_seconds=TTL + LEEWAY, now=time.time() - TTL - LEEWAY - 5)

    reopened = open_issuer(key_file)
    assert public_kids(reopened) == [new_kid]
    assert [key.kid for key in read_key_file(key_file).keys] == [new_kid]
    with pytest.raises(InvalidToken):
        reopened.verify(old_token)
    # the issuer that was running all along drops it too
    assert public_kids(first) == [new_kid]
    with pytest.raises(InvalidToken):
        first.verify(old_token)
    # and the next rotation leaves it out of the file
    rotate_keys(key_file)
    assert old_kid not in json.dumps(json.loads(key_file.read_text()))


class ShiftedClock:
    """The wall clock moved forward, for the issuer module only (joserfc still checks exp on the real one)."""

    def __init__(self, shift: float) -> None:
        self.shift = shift

    def time(self) -> float:
        return time.time() + self.shift

    def monotonic(self) -> float:
        return time.monotonic() + self.shift


def test_a_running_issuer_drops_a_retired_key_when_its_last_tokens_expire(
    key_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    running = open_issuer(key_file)
    old_token = mint(running)
    new_kid = rotate_keys(key_file, retire_after_seconds=TTL + LEEWAY)
    new_token = mint(running)

    monkeypatch.setattr(issuer_module, "time", ShiftedClock(TTL + LEEWAY - 5))
    assert running.verify(old_token).firm_id == "anchor"  # still within its lifetime plus leeway
    assert len(public_kids(running)) == 2

    monkeypatch.setattr(issuer_module, "time", ShiftedClock(TTL + LEEWAY + 1))
    # the token's own exp has not passed on the real clock: it is refused because its key is gone
    with pytest.raises(InvalidToken, match="kid"):
        running.verify(old_token)
    assert public_kids(running) == [new_kid]
    assert running.verify(new_token).firm_id == "anchor"


def test_the_jwks_never_has_private_key_material(key_file: Path) -> None:
    issuer = open_issuer(key_file)
    for _ in range(3):
        rotate_keys(key_file)
    published = issuer.jwks()
    assert len(published["keys"]) == 4
    for key in published["keys"]:
        assert "d" not in key
        assert set(key) <= PUBLIC_EC_MEMBERS
        assert (key["kty"], key["crv"], key["alg"], key["use"]) == ("EC", "P-256", "ES256", "sig")
    # the file itself keeps the private parts, owner-only
    assert all("d" in key for key in json.loads(key_file.read_text())["keys"])
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


def test_the_key_file_stays_a_plain_jwk_set_for_older_readers(key_file: Path) -> None:
    open_issuer(key_file)
    rotate_keys(key_file)
    assert len(KeySet.import_key_set(json.loads(key_file.read_text())).keys) == 2
    retirement = json.loads(key_file.read_text())["retirement"]
    (entry,) = retirement.values()
    assert entry["not_after"] - entry["retired_at"] == 3600 + 30  # the defaults: token lifetime plus leeway


def test_a_key_file_from_before_rotation_existed_still_loads(key_file: Path) -> None:
    issuer = open_issuer(key_file)
    token = mint(issuer)
    data = json.loads(key_file.read_text())
    key_file.write_text(json.dumps({"keys": data["keys"]}))  # what the first version of the hub wrote
    assert open_issuer(key_file).verify(token).firm_id == "anchor"


def test_a_broken_key_file_does_not_stop_a_running_issuer(key_file: Path, caplog: pytest.LogCaptureFixture) -> None:
    running = open_issuer(key_file)
    token = mint(running)
    key_file.write_text("{not json")
    assert running.verify(token).firm_id == "anchor"
    assert kid_of(mint(running)) == kid_of(token)
    assert "could not read the key file" in caplog.text


def test_an_issuer_without_a_key_file_keeps_its_keys(key_file: Path) -> None:
    loaded = open_issuer(key_file)
    fixed = BuiltinIssuer(issuer=ISSUER, audience=AUDIENCE, keys=loaded.keys)
    token = mint(fixed)
    rotate_keys(key_file)
    assert kid_of(mint(fixed)) == kid_of(token)
    assert fixed.verify(token).firm_id == "anchor"
