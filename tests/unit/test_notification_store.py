"""The outbox and webhook deliveries in a real SQLite file: idempotent publish, claims that never overlap,
URL checks, signatures and backoff."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from auth.audit import create_tables
from graph_schema import notifications
from graph_schema.notifications import WebhookUrlError, check_webhook_url
from hub.notifications import backoff_seconds, signature
from hub.sql_store import create_sql_engine


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = create_sql_engine(f"sqlite:///{tmp_path / 'hub.db'}")
    create_tables(engine)
    yield engine
    engine.dispose()


def test_a_publish_with_a_key_already_published_writes_nothing(engine: Engine) -> None:
    first = notifications.publish_sync(engine, kind="RECALL_DECLARED", payload={"recallId": "r1"}, key="k1")
    again = notifications.publish_sync(engine, kind="RECALL_DECLARED", payload={"recallId": "r1"}, key="k1")
    other = notifications.publish_sync(engine, kind="RECALL_CLOSED", payload={"recallId": "r1"}, key="k2")
    assert again == first
    assert other == first + 1
    events = notifications.events_after(engine, after_id=0)
    assert [(e.id, e.kind, e.payload) for e in events] == [
        (first, "RECALL_DECLARED", {"recallId": "r1"}),
        (other, "RECALL_CLOSED", {"recallId": "r1"}),
    ]


def test_an_unknown_kind_is_refused(engine: Engine) -> None:
    with pytest.raises(ValueError, match="RECALL_EXPLODED"):
        notifications.publish_sync(engine, kind="RECALL_EXPLODED", payload={})


def _fanned_out(engine: Engine, deliveries: int) -> list[notifications.WebhookRecord]:
    event_id = notifications.publish_sync(engine, kind="RECALL_DECLARED", payload={"recallId": "r"})
    event = notifications.get_event(engine, event_id)
    assert event is not None
    hooks = [
        notifications.register_webhook(
            engine, firm_id=f"firm{i % 15}", url=f"https://example.org/{i}", events=["RECALL_DECLARED"], created_by="t"
        )
        for i in range(deliveries)
    ]
    bodies = [(h, json.dumps({"id": notifications.new_delivery_id()}).encode()) for h in hooks]
    assert notifications.claim_fanout(engine, event_id=event_id, lease_ms=60_000)
    assert not notifications.claim_fanout(engine, event_id=event_id, lease_ms=60_000)  # held by the first
    assert notifications.record_fanout(engine, event=event, bodies=bodies) == deliveries
    assert notifications.record_fanout(engine, event=event, bodies=bodies) == 0  # marked: written once
    return hooks


def test_deliveries_are_claimed_by_one_claimer_each_under_concurrency(tmp_path: Path, engine: Engine) -> None:
    _fanned_out(engine, 200)
    # four "processes": engines of their own on the same file, claiming at once in threads
    engines = [create_sql_engine(f"sqlite:///{tmp_path / 'hub.db'}") for _ in range(4)]
    claimed: list[list[str]] = [[] for _ in engines]
    start = threading.Barrier(len(engines))

    def claim(n: int) -> None:
        start.wait()
        deadline = time.monotonic() + 30
        # a claimer may come back empty-handed while others hold what it picked: it tries again, as on a poll
        while sum(len(ids) for ids in claimed) < 200 and time.monotonic() < deadline:
            claimed[n].extend(d.id for d in notifications.claim_deliveries(engines[n], limit=7, lease_ms=60_000))

    threads = [threading.Thread(target=claim, args=(n,)) for n in range(len(engines))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    every = [i for ids in claimed for i in ids]
    assert len(every) == 200
    assert len(set(every)) == 200  # no delivery went to two claimers
    for other in engines:
        other.dispose()


def test_a_delivery_is_retried_when_due_and_given_up_after_its_last_attempt(engine: Engine) -> None:
    _fanned_out(engine, 1)
    (first,) = notifications.claim_deliveries(engine, limit=10, lease_ms=60_000)
    assert first.attempts == 1
    assert notifications.claim_deliveries(engine, limit=10, lease_ms=60_000) == []  # leased
    due = notifications.next_due_ms(engine)
    assert due is not None
    assert due >= notifications.now_ms() + 59_000  # claimable again only once the lease has run out
    retry_at = notifications.now_ms() - 1
    assert notifications.finish_delivery(
        engine, delivery=first, delivered=False, status_code=503, error="HTTP 503", retry_at_ms=retry_at
    )
    assert not notifications.finish_delivery(  # a stale lease reports nothing
        engine, delivery=first, delivered=True, status_code=200, error=None, retry_at_ms=None
    )
    assert notifications.next_due_ms(engine) == retry_at
    (second,) = notifications.claim_deliveries(engine, limit=10, lease_ms=60_000)
    assert (second.id, second.attempts) == (first.id, 2)
    assert notifications.finish_delivery(
        engine, delivery=second, delivered=False, status_code=None, error="ConnectError", retry_at_ms=None
    )
    assert notifications.claim_deliveries(engine, limit=10, lease_ms=60_000) == []
    assert notifications.next_due_ms(engine) is None  # given up: nothing pending
    webhook = notifications.firm_webhooks(engine, firm_id="firm0")[0]
    (log,) = notifications.webhook_deliveries(engine, firm_id="firm0", webhook_id=webhook.id, limit=10)
    assert (log.status, log.attempts, log.last_error, log.last_status_code) == ("FAILED", 2, "ConnectError", None)
    assert notifications.webhook_deliveries(engine, firm_id="firm1", webhook_id=webhook.id, limit=10) == []


def test_deleting_a_webhook_cancels_what_it_had_not_delivered(engine: Engine) -> None:
    (hook,) = _fanned_out(engine, 1)
    assert not notifications.delete_webhook(engine, firm_id="someone-else", webhook_id=hook.id)
    assert notifications.delete_webhook(engine, firm_id=hook.firm_id, webhook_id=hook.id)
    assert notifications.claim_deliveries(engine, limit=10, lease_ms=60_000) == []
    assert notifications.firm_webhooks(engine, firm_id=hook.firm_id) == []


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "http://10.1.2.3/hook",
        "https://192.168.0.10/hook",
        "http://172.16.5.5/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://0.0.0.0/hook",
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://[fe80::1]/hook",
        "http://100.64.0.1/hook",
    ],
)
def test_a_non_public_address_is_refused_where_private_urls_are_not_allowed(url: str) -> None:
    with pytest.raises(WebhookUrlError, match="loopback, private, link-local or unspecified") as refused:
        check_webhook_url(url, allow_private=False)
    assert refused.value.field == "input.url"
    assert check_webhook_url(url, allow_private=True) == url


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://example.org/x", "http:// or https://"),
        ("file:///etc/passwd", "http:// or https://"),
        ("javascript:alert(1)", "http:// or https://"),
        ("https://user:pw@example.org/", "user name or password"),
        ("https:///nohost", "no host"),
        ("http://example.org:99999/", "not a valid URL"),
        ("https://example.org/" + "a" * 2000, "1 to 2000 characters"),
        ("", "1 to 2000 characters"),
    ],
)
def test_a_url_that_is_not_an_http_endpoint_is_refused_everywhere(url: str, message: str) -> None:
    with pytest.raises(WebhookUrlError, match=message):
        check_webhook_url(url, allow_private=True)


def test_a_public_address_is_accepted() -> None:
    assert check_webhook_url(" https://8.8.8.8/hooks/hub ", allow_private=False) == "https://8.8.8.8/hooks/hub"


def test_the_signature_is_the_hex_hmac_sha256_of_the_raw_body() -> None:
    body = '{"event":"RECALL_DECLARED","id":"delivery-1","recall":{"id":"recall-1","reason":"알레르기"}}'.encode()
    expected = hmac.new(b"whsec_k", body, hashlib.sha256).hexdigest()
    assert signature("whsec_k", body) == f"sha256={expected}"


def test_backoff_doubles_up_to_its_cap_with_a_tenth_of_jitter_at_most() -> None:
    waits = [backoff_seconds(n, base=10, cap=300, jitter=lambda: 0.0) for n in range(1, 8)]
    assert waits == [10, 20, 40, 80, 160, 300, 300]
    assert backoff_seconds(1, base=10, cap=300, jitter=lambda: 1.0) == pytest.approx(11.0)
