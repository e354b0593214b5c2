"""The per-client token bucket shared by HTTP and NATS writes."""

from __future__ import annotations

import pytest

from accountd.ratelimit import RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_burst_then_refusal_with_the_wait_then_refill() -> None:
    clock = Clock()
    limiter = RateLimiter(2.0, 3, clock=clock)
    assert [limiter.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.take("a") == pytest.approx(0.5)
    assert limiter.take("b") == 0.0  # another client is still served
    clock.now += 0.5
    assert limiter.take("a") == 0.0
    assert limiter.refused == 1


def test_zero_rate_means_no_limit() -> None:
    limiter = RateLimiter(0, 1)
    assert not limiter.enabled
    assert all(limiter.take("a") == 0.0 for _ in range(100))


def test_memory_is_bounded_by_forgetting_the_least_recent_client() -> None:
    clock = Clock()
    limiter = RateLimiter(1.0, 1, max_clients=2, clock=clock)
    limiter.take("a")
    limiter.take("b")
    limiter.take("a")  # refused; a is now the most recent
    limiter.take("c")  # forgets b
    assert len(limiter) == 2
    assert limiter.take("b") == 0.0  # b starts again with a full bucket
    assert limiter.take("c") > 0.0
