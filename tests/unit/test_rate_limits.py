"""Token buckets: a burst, then the rate; a request counts in every bucket or in none."""

from __future__ import annotations

from hub.rate_limits import InProcessBuckets, Rate


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_then_the_rate() -> None:
    clock = Clock()
    buckets = InProcessBuckets(clock=clock)
    rate = Rate(per_second=2, burst=3)
    assert [buckets.take([("client:a", rate)]) for _ in range(3)] == [0, 0, 0]
    assert buckets.take([("client:a", rate)]) == 0.5  # one token comes back every half second
    clock.now = 0.5
    assert buckets.take([("client:a", rate)]) == 0
    assert buckets.take([("client:b", rate)]) == 0  # another key has its own bucket


def test_a_refused_request_takes_from_no_bucket() -> None:
    clock = Clock()
    buckets = InProcessBuckets(clock=clock)
    client, firm = Rate(per_second=1, burst=5), Rate(per_second=1, burst=1)
    assert buckets.take([("client:a", client), ("firm:f", firm)]) == 0
    assert buckets.take([("client:a", client), ("firm:f", firm)]) == 1.0  # the firm's bucket is empty
    # the client's bucket was not charged for the refused request: 4 left for another firm's work
    assert [buckets.take([("client:a", client)]) for _ in range(5)] == [0, 0, 0, 0, 1.0]


def test_a_rate_of_zero_is_no_limit_and_keys_are_bounded() -> None:
    buckets = InProcessBuckets(clock=Clock(), max_tracked=100)
    assert all(buckets.take([("client:a", Rate(0, 1))]) == 0 for _ in range(1_000))
    for index in range(1_000):
        buckets.take([(f"client:{index}", Rate(1, 1))])
    assert len(buckets._levels) == 100
