"""The per-key token bucket, driven by a fake clock."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.ratelimit import RateLimiter, SharedRateLimiter, retry_after_header


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_burst_then_refusal_with_the_wait_until_the_next_token() -> None:
    clock = FakeClock()
    limiter = RateLimiter(rate=5, burst=5, clock=clock)
    assert [limiter.acquire("k") for _ in range(5)] == [0.0] * 5
    assert limiter.acquire("k") == pytest.approx(0.2)
    clock.now += 0.1
    assert limiter.acquire("k") == pytest.approx(0.1)  # half a token saved up, half to go
    clock.now += 0.1
    assert limiter.acquire("k") == 0.0
    assert limiter.acquire("k") == pytest.approx(0.2)


def test_refusals_do_not_consume_tokens() -> None:
    clock = FakeClock()
    limiter = RateLimiter(rate=1, burst=1, clock=clock)
    assert limiter.acquire("k") == 0.0
    for _ in range(100):  # a client hammering while limited does not push its turn further out
        assert limiter.acquire("k") > 0
    clock.now += 1.0
    assert limiter.acquire("k") == 0.0


def test_keys_have_their_own_buckets() -> None:
    clock = FakeClock()
    limiter = RateLimiter(rate=1, burst=2, clock=clock)
    assert limiter.acquire("a") == limiter.acquire("a") == 0.0
    assert limiter.acquire("a") > 0
    assert limiter.acquire("b") == 0.0


def test_idle_time_saves_up_at_most_the_burst() -> None:
    clock = FakeClock()
    limiter = RateLimiter(rate=10, burst=3, clock=clock)
    limiter.acquire("k")
    clock.now += 3600
    assert [limiter.acquire("k") for _ in range(3)] == [0.0] * 3
    assert limiter.acquire("k") > 0


def test_rate_zero_turns_the_limit_off() -> None:
    limiter = RateLimiter(rate=0, burst=1, clock=FakeClock())
    assert all(limiter.acquire("k") == 0.0 for _ in range(10_000))


@pytest.mark.parametrize(
    ("wait", "header"), [(0.001, "1"), (0.2, "1"), (1.0, "1"), (1.01, "2"), (59.5, "60")]
)
def test_retry_after_rounds_up_to_whole_seconds_of_at_least_one(wait: float, header: str) -> None:
    assert retry_after_header(wait) == header


def test_limiters_on_one_file_share_each_keys_bucket(tmp_path: Path) -> None:
    """Two workers' limiters: the burst is spent once between them, not once each."""
    clock = FakeClock()
    path = str(tmp_path / "buckets")
    one, two = (SharedRateLimiter(path, ["k", "j"], rate=5, burst=4, clock=clock) for _ in "12")
    try:
        assert [one.acquire("k"), two.acquire("k"), one.acquire("k"), two.acquire("k")] == [0.0] * 4
        assert two.acquire("k") == pytest.approx(0.2)
        assert one.acquire("k") == pytest.approx(0.2)
        assert one.acquire("j") == 0.0  # another key, its own bucket
        clock.now += 0.2
        assert two.acquire("k") == 0.0
        assert one.acquire("k") == pytest.approx(0.2)
        assert one.acquire("unknown") == 0.0  # not a configured key: a local bucket
    finally:
        one.close()
        two.close()
