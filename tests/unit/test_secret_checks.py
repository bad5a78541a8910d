"""The token endpoint's hashing budget and its memory of proved secrets, on a clock the test moves."""

from __future__ import annotations

import anyio
import pytest

from hub.oauth import FailedAttempts, SecretChecks, VerifiedSecrets


def test_the_budget_allows_a_seconds_worth_then_refills_at_its_rate() -> None:
    now = [0.0]
    checks = SecretChecks(per_second=4, clock=lambda: now[0])
    assert [checks.refusal() for _ in range(4)] == [None] * 4
    assert checks.refusal() == pytest.approx(0.25)  # the next token in a quarter of a second
    now[0] = 0.5
    assert [checks.refusal() for _ in range(3)] == [None, None, pytest.approx(0.25)]


async def test_past_the_wait_list_a_check_is_refused_at_once() -> None:
    checks = SecretChecks(concurrent=1, per_second=1000, max_waiting=2)
    release = anyio.Event()
    entered = 0

    async def check() -> None:
        nonlocal entered
        async with checks.slot():
            entered += 1
            await release.wait()

    async with anyio.create_task_group() as group:
        for _ in range(3):  # one hashing, two waiting
            group.start_soon(check)
        await anyio.sleep(0.05)
        assert entered == 1
        assert checks.refusal() == 1.0
        release.set()
    assert entered == 3
    assert checks.refusal() is None  # nobody waits any more


def test_a_proved_secret_is_known_for_a_while_and_only_that_secret() -> None:
    now = [0.0]
    verified = VerifiedSecrets(ttl_seconds=300, clock=lambda: now[0])
    verified.remember("client", "right")
    assert verified.knows("client", "right")
    assert not verified.knows("client", "wrong")
    assert not verified.knows("other", "right")
    now[0] = 301
    assert not verified.knows("client", "right")
    verified.remember("client", "right")
    verified.forget("client")
    assert not verified.knows("client", "right")


def test_lockout_keys_are_independent() -> None:
    attempts = FailedAttempts(limit=2, window_seconds=60, clock=lambda: 0.0)
    for _ in range(2):
        attempts.record_failure("client\x00192.0.2.7")
    assert attempts.retry_after("client\x00192.0.2.7") == pytest.approx(60)
    assert attempts.retry_after("client\x00198.51.100.1") is None
