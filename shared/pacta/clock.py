"""The wall clock, read in one place: the shell of every service asks here for "now" and hands
it to the pure domain code as an argument (epoch milliseconds, as every instant in Pacta)."""

from __future__ import annotations

import time


def now_ms() -> int:
    """The wall clock as integer epoch milliseconds (UTC)."""
    return time.time_ns() // 1_000_000
