"""The delivery worker's backoff and the config file's checks, as plain values."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from alerting import config_file
from alerting.context import Context
from alerting.delivery import backoff_seconds, more_may_wait


def test_backoff_doubles_with_jitter_up_to_the_cap() -> None:
    rng = random.Random(7)
    delays = [backoff_seconds(n, 0.5, 8.0, None, rng) for n in range(1, 9)]
    for n, d in enumerate(delays, start=1):
        full = min(8.0, 0.5 * 2 ** (n - 1))
        assert full / 2 <= d <= full
    assert max(delays) <= 8.0


def test_a_receivers_retry_after_is_a_floor() -> None:
    assert backoff_seconds(1, 0.5, 8.0, 30.0, random.Random(1)) == 30.0


def test_a_claim_is_rung_again_only_while_rows_may_wait_for_room() -> None:
    # less than its room taken: nothing more was due; all of it (or none to give): maybe more
    assert not more_may_wait({"a": 3}, {}, 32)
    assert not more_may_wait({}, {"a": 10}, 32)
    assert more_may_wait({"a": 32}, {}, 32)
    assert more_may_wait({"a": 10}, {"a": 10}, 32)
    assert more_may_wait({}, {"a": 0}, 32)


def test_a_commit_wakes_the_timers_only_for_what_they_would_take_up_late() -> None:
    ctx = Context(engine=None, settings=None, live=None, link_secret=b"")  # type: ignore[arg-type]
    assert ctx.dispatcher_late_for(5_000)  # running a round: it may not have seen it
    ctx.dispatch_asleep_until_ms = 10_000
    assert ctx.dispatcher_late_for(9_999)
    assert not ctx.dispatcher_late_for(10_000)
    assert not ctx.dispatcher_late_for(None)  # nothing left for the timers


def test_config_file_names_what_is_wrong(tmp_path: Path) -> None:
    bad = tmp_path / "a.yaml"
    bad.write_text("receivers:\n  x: {type: webhook}\n")
    with pytest.raises(ValueError, match=r"receivers\.x"):
        config_file.read(str(bad))
    bad.write_text("route:\n  receiver: x\n  group_wait: soon\n")
    with pytest.raises(ValueError, match="group_wait"):
        config_file.read(str(bad))
    good = tmp_path / "b.yaml"
    good.write_text("route: {receiver: x, group_by: ['...']}\n")
    assert config_file.read(str(good)).route is not None
