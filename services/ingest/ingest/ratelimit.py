"""A token bucket per API key: fair, O(1), and generous by default (Alertmanager drops on 429)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable


class RateLimiter:
    """`rate` tokens a second, at most `burst` saved up; `rate` 0 turns the limit off."""

    def __init__(
        self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate, self.burst, self.clock = rate, burst, clock
        self._buckets: dict[str, tuple[float, float]] = {}

    def acquire(self, key: str, cost: float = 1.0) -> float:
        """Take `cost` tokens; return 0 when allowed, else the seconds to wait before retrying."""
        if self.rate <= 0:
            return 0.0
        now = self.clock()
        tokens, last = self._buckets.get(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - last) * self.rate)
        if tokens >= cost:
            self._buckets[key] = (tokens - cost, now)
            return 0.0
        self._buckets[key] = (tokens, now)
        return max(0.001, (cost - tokens) / self.rate)


def retry_after_header(wait: float) -> str:
    return str(max(1, math.ceil(wait)))
