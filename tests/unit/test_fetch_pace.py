"""`FetchPace`: a consumer's fetch sizes apply while its polls bring several records; after a
poll of one record or none its next fetch is answered at the first record."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from pacta.kafka import FETCH_MAX_WAIT_MS, FetchPace


def consumer(min_bytes: int, max_wait_ms: int) -> Any:
    fetcher = SimpleNamespace(_fetch_min_bytes=min_bytes, _fetch_max_wait_ms=max_wait_ms)
    return SimpleNamespace(_fetcher=fetcher)


def sizes(c: Any) -> tuple[int, int]:
    return c._fetcher._fetch_min_bytes, c._fetcher._fetch_max_wait_ms


def test_a_stream_is_fetched_with_the_consumers_sizes() -> None:
    c = consumer(65536, 20)
    pace = FetchPace(65536, 20)
    pace.polled(c, 25)
    assert sizes(c) == (65536, 20)


def test_a_quiet_poll_answers_the_next_fetch_at_its_first_record() -> None:
    c = consumer(65536, 20)
    pace = FetchPace(65536, 20)
    for quiet in (0, 1):
        pace.polled(c, quiet)
        assert sizes(c) == (1, FETCH_MAX_WAIT_MS)
        pace.polled(c, 2)
        assert sizes(c) == (65536, 20)


def test_records_in_bursts_with_gaps_are_fetched_as_they_come() -> None:
    c = consumer(65536, 20)
    pace = FetchPace(65536, 20)
    pace.polled(c, 100, waited_s=0.1)  # a batch of events, 100 ms after the one before
    assert sizes(c) == (1, FETCH_MAX_WAIT_MS)
    pace.polled(c, 25, waited_s=0.02)  # a steady stream: the poll came with one fetch's wait
    assert sizes(c) == (65536, 20)
