"""A token bucket per API key: fair, O(1), and generous by default (Alertmanager drops on 429).

With several workers on one port the buckets live in a small file every worker maps, one slot
per configured key under a byte-range lock, so the limit holds for the service as a whole, not
per worker (a sender's connections land on any of them).
"""

from __future__ import annotations

import fcntl
import math
import mmap
import os
import struct
import time
from collections.abc import Callable, Iterable


def refill(
    tokens: float, last: float, now: float, *, rate: float, burst: int, cost: float
) -> tuple[float, float]:
    """(tokens left, seconds to wait): take `cost` tokens if the bucket holds them."""
    tokens = min(float(burst), tokens + max(0.0, now - last) * rate)
    if tokens >= cost:
        return tokens - cost, 0.0
    return tokens, max(0.001, (cost - tokens) / rate)


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
        tokens, wait = refill(tokens, last, now, rate=self.rate, burst=self.burst, cost=cost)
        self._buckets[key] = (tokens, now)
        return wait


_SLOT = struct.Struct("dd")  # tokens, last refill (CLOCK_MONOTONIC: one clock for all processes)


class SharedRateLimiter(RateLimiter):
    """The same buckets, shared by the processes that map `path` (keys outside `keys`, which
    authentication never lets through, fall back to this process's own buckets)."""

    def __init__(
        self,
        path: str,
        keys: Iterable[str],
        rate: float,
        burst: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(rate, burst, clock)
        self.slots = {key: i * _SLOT.size for i, key in enumerate(sorted(set(keys)))}
        size = max(1, len(self.slots)) * _SLOT.size
        self.fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        if os.fstat(self.fd).st_size < size:
            os.ftruncate(self.fd, size)  # zero-filled: a zero `last` marks a full bucket
        self.map = mmap.mmap(self.fd, size)

    def acquire(self, key: str, cost: float = 1.0) -> float:
        offset = self.slots.get(key)
        if self.rate <= 0 or offset is None:
            return super().acquire(key, cost)
        fcntl.lockf(self.fd, fcntl.LOCK_EX, _SLOT.size, offset)
        try:
            now = self.clock()
            tokens, last = _SLOT.unpack_from(self.map, offset)
            if last == 0.0:
                tokens, last = float(self.burst), now
            tokens, wait = refill(tokens, last, now, rate=self.rate, burst=self.burst, cost=cost)
            _SLOT.pack_into(self.map, offset, tokens, now)
        finally:
            fcntl.lockf(self.fd, fcntl.LOCK_UN, _SLOT.size, offset)
        return wait

    def close(self) -> None:
        self.map.close()
        os.close(self.fd)


def retry_after_header(wait: float) -> str:
    return str(max(1, math.ceil(wait)))
