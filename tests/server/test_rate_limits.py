"""Token buckets: bursts, refill, the wait they report, and bounded memory."""

import pytest

from plaudit.errors import TooManyRequests
from plaudit.server.rate_limits import Buckets, Rate, RateLimits


def test_a_burst_then_the_sustained_rate() -> None:
    buckets = Buckets(Rate(per_second=2, burst=3))
    assert [buckets.take("a", now=0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.take("a", now=0.0) == pytest.approx(0.5)
    assert buckets.take("a", now=0.5) == 0.0  # one request came back after 1/rate seconds
    assert buckets.take("b", now=0.5) == 0.0  # other keys have their own bucket


def test_a_zero_rate_limits_nothing() -> None:
    buckets = Buckets(Rate(per_second=0, burst=0))
    assert all(buckets.take("a", now=0.0) == 0.0 for _ in range(1000))
    assert len(buckets) == 0


def test_memory_is_bounded_least_recently_used_first() -> None:
    buckets = Buckets(Rate(per_second=1, burst=1), max_buckets=2)
    buckets.take("old", now=0.0)
    buckets.take("kept", now=0.0)
    buckets.take("kept", now=0.1)
    buckets.take("new", now=0.1)
    assert len(buckets) == 2
    assert buckets.take("kept", now=0.2) > 0  # still remembered: its bucket is empty
    assert buckets.take("old", now=0.2) == 0.0  # forgotten: a full bucket again


def test_the_refusal_names_the_limit_and_when_to_retry() -> None:
    limits = RateLimits(Rate(1, 1), Rate(100, 100))
    limits.check("pk:1", "10.0.0.1")
    with pytest.raises(TooManyRequests) as raised:
        limits.check("pk:1", "10.0.0.1")
    assert raised.value.retry_after == 1
    assert "browser token" in raised.value.detail
