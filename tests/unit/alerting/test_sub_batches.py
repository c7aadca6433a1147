"""A consumed batch's lanes and parts: every alert in one lane, parts small first and growing,
every signal once and in order."""

from __future__ import annotations

from typing import Any, cast

import pytest

from alerting.consumer import lanes, sub_batches
from alerting.domain.alerts import alert_key
from pacta.events import Signal


@pytest.mark.parametrize(
    ("n", "sizes"),
    [
        (0, []),
        (1, [1]),
        (64, [64]),
        (100, [100]),
        (128, [64, 64]),
        (1000, [64, 128, 256, 552]),
        (2000, [64, 128, 256, 512, 512, 528]),
    ],
)
def test_parts_grow_and_keep_every_signal_in_order(n: int, sizes: list[int]) -> None:
    signals = cast(list[Signal], list(range(n)))
    parts = sub_batches(signals)
    assert [len(p) for p in parts] == sizes
    assert [s for p in parts for s in cast(list[Any], p)] == list(range(n))


def _signal(sid: str, ticket: str, kind: str = "breach") -> Signal:
    return Signal.model_validate(
        {
            "signal_id": sid,
            "kind": kind,
            "service": "checkout",
            "metric": "response",
            "ticket_id": ticket,
            "priority": "P1",
            "policy": "gold",
            "labels": {},
            "occurred_at": "2026-03-02T09:00:00Z",
            "detected_at": "2026-03-02T09:00:01Z",
        }
    )


@pytest.mark.parametrize("n", [1, 2, 3])
def test_lanes_keep_each_alert_in_one_lane_in_order(n: int) -> None:
    signals = [
        _signal(f"s{k}", f"INC-{k % 7}", "breach" if k < 7 else "stopped") for k in range(40)
    ]
    split = lanes(signals, n)
    assert 1 <= len(split) <= n
    assert all(split)
    assert sorted(s.signal_id for lane in split for s in lane) == sorted(
        s.signal_id for s in signals
    )
    for lane in split:
        # the consumed order within a lane
        assert lane == [s for s in signals if s in lane]
    # every alert's signals in one lane
    homes = {alert_key(s): k for k, lane in enumerate(split) for s in lane}
    assert all(homes[alert_key(s)] == k for k, lane in enumerate(split) for s in lane)
    if n > 1:
        assert len(split) > 1  # seven alerts spread over more than one lane


def test_no_lane_for_no_signal() -> None:
    assert lanes([], 2) == []
    one = [_signal("a", "INC-1")]
    assert lanes(one, 2) == [one]
