"""People's accounts without I/O: the password policy, usernames, TOTP steps, the sign-in form's tokens and the
authorization request's checks."""

from __future__ import annotations

import pyotp
import pytest

from auth.people import PasswordHashing, normalise, password_problem, totp_step, username_problem
from auth.person_tokens import is_s256_challenge, s256
from hub.sign_in import NotRedirected, RedirectedError, SignInKeys, parse_request
from seed.accounts import DEMO_ACCOUNTS

REDIRECT = "http://127.0.0.1:8000/auth/callback"
CHALLENGE = s256("a" * 43)


def test_the_demo_passwords_pass_the_policy_they_are_made_under() -> None:
    for demo in DEMO_ACCOUNTS:
        assert password_problem(demo.password, username=demo.username, firm_id=demo.firm_id) is None
        assert username_problem(demo.username) is None


@pytest.mark.parametrize(
    ("password", "problem"),
    [
        ("short", "at least 12"),
        ("x" * 257, "at most 256"),
        ("qwertyuiop123", "too easy to guess"),
        ("Kim.Minji-secret-99", "must not contain the username"),
        ("my tofu-maker plan", "must not contain the username or the firm's id"),
    ],
)
def test_weak_passwords_are_named(password: str, problem: str) -> None:
    found = password_problem(password, username="kim.minji", firm_id="tofu-maker")
    assert found is not None
    assert problem in found


def test_usernames_are_folded_and_bounded() -> None:
    assert normalise("  Ｋim.MinJi ") == "kim.minji"  # NFKC turns the full-width letter into a plain one
    assert username_problem("김민지") is None
    assert username_problem("ab") is not None
    assert username_problem("a" * 65) is not None
    assert username_problem("=cmd|' /C calc'!A0") is not None


def test_a_totp_code_is_found_in_its_step_or_one_either_side() -> None:
    secret = pyotp.random_base32()
    totp = pyotp.TOTP(secret)
    at = 1_800_000_000.0
    step = int(at) // 30
    assert totp_step(secret, totp.at(at), at=at) == step
    assert totp_step(secret, totp.at(at - 30), at=at) == step - 1
    assert totp_step(secret, totp.at(at + 30), at=at) == step + 1
    assert totp_step(secret, totp.at(at - 90), at=at) is None
    assert totp_step(secret, "12345", at=at) is None
    assert totp_step(secret, "１２３４５６", at=at) is None  # digits, but not ASCII ones


def test_the_decoy_hash_matches_no_password() -> None:
    hashing = PasswordHashing(time_cost=1, memory_kib=8192)
    assert hashing.decoy.startswith("$argon2id$v=19$m=8192,t=1,p=1$")
    assert hashing.hasher.check_needs_rehash(PasswordHashing(time_cost=2, memory_kib=8192).decoy)


def request(**params: str) -> dict[str, str]:
    return {
        "response_type": "code",
        "client_id": "portal",
        "redirect_uri": REDIRECT,
        "code_challenge": CHALLENGE,
        "code_challenge_method": "S256",
        **params,
    }


def test_an_authorization_request_is_checked_before_anything_is_shown() -> None:
    parsed = parse_request(request(state="s"), client_id="portal", redirect_uris=[REDIRECT])
    assert (parsed.redirect_uri, parsed.state, parsed.code_challenge) == (REDIRECT, "s", CHALLENGE)
    assert is_s256_challenge(CHALLENGE)
    with pytest.raises(NotRedirected, match="not one registered"):
        parse_request(request(redirect_uri=REDIRECT + "x"), client_id="portal", redirect_uris=[REDIRECT])
    with pytest.raises(NotRedirected, match="is not registered with this hub"):
        parse_request(request(client_id="other"), client_id="portal", redirect_uris=[REDIRECT])
    with pytest.raises(RedirectedError, match="plain"):
        parse_request(request(code_challenge_method="plain"), client_id="portal", redirect_uris=[REDIRECT])


def test_the_second_step_token_is_bound_to_its_browser_request_and_time() -> None:
    keys = SignInKeys(b"k" * 32)
    parsed = parse_request(request(state="s"), client_id="portal", redirect_uris=[REDIRECT])
    other = parse_request(request(state="t"), client_id="portal", redirect_uris=[REDIRECT])
    token = keys.second_step("acct", "cookie-1", parsed, now=1000.0)
    assert keys.second_step_account(token, "cookie-1", parsed, now=1100.0) == "acct"
    assert keys.second_step_account(token, "cookie-2", parsed, now=1100.0) is None
    assert keys.second_step_account(token, "cookie-1", other, now=1100.0) is None
    assert keys.second_step_account(token, "cookie-1", parsed, now=1400.0) is None
    assert keys.second_step_account(token.replace("acct", "boss"), "cookie-1", parsed, now=1100.0) is None
    assert keys.csrf_ok("cookie-1", keys.csrf("cookie-1"))
    assert not keys.csrf_ok("cookie-1", keys.csrf("cookie-2"))
    assert not keys.csrf_ok(None, keys.csrf("cookie-1"))
