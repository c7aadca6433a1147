"""A consumed batch's parts: small first, growing, every signal once and in order."""

from __future__ import annotations

from typing import Any, cast

import pytest

from alerting.consumer import sub_batches
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
