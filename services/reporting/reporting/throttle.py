"""Failed sign-ins counted per client address over a sliding window: past the limit, `/login`
answers 429 until the window has moved on (guessing keys through the form is slow)."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

WINDOW_S = 60.0
LIMIT = 5
"""Failed attempts one address may make per window."""
MAX_ADDRESSES = 10_000
"""Addresses tracked at most; the oldest is forgotten first (memory stays bounded)."""


@dataclass(slots=True)
class Throttle:
    window_s: float = WINDOW_S
    limit: int = LIMIT
    failures: dict[str, deque[float]] = field(default_factory=dict)

    def _recent(self, address: str, now_s: float) -> deque[float]:
        found = self.failures.get(address)
        if found is None:
            return deque()
        while found and found[0] <= now_s - self.window_s:
            found.popleft()
        if not found:
            del self.failures[address]
        return found

    def retry_after(self, address: str, now_s: float) -> int | None:
        """Seconds to wait before the next attempt, or None when one is allowed now."""
        recent = self._recent(address, now_s)
        if len(recent) < self.limit:
            return None
        return max(1, int(recent[0] + self.window_s - now_s + 0.999))

    def failed(self, address: str, now_s: float) -> None:
        if address not in self.failures and len(self.failures) >= MAX_ADDRESSES:
            del self.failures[next(iter(self.failures))]
        self.failures.setdefault(address, deque()).append(now_s)
