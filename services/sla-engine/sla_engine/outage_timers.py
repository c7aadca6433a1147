"""The timers of the outage tracker: for each service it owns (by the partitions of the
monitoring topic) that is down, the next instant a threshold falls due, slept on by one task."""

from __future__ import annotations

import asyncio
import contextlib
import heapq

from pacta.clock import now_ms
from pacta.logs import get_logger
from sla_engine.ownership import partition_of

log = get_logger(__name__)


class OutageTimers:
    """A heap of (instant, service) with lazy deletion; `fire` re-plans what came due."""

    def __init__(self) -> None:
        self.heap: list[tuple[int, str]] = []
        self.scheduled: dict[str, int] = {}
        self.wake = asyncio.Event()
        self.owned: set[int] | None = None  # partitions of the monitoring topic; None: all
        self.partitions = 0

    async def fire(self, now: int) -> None:
        raise NotImplementedError

    def _owns(self, service: str) -> bool:
        return self.owned is None or partition_of(service, self.partitions) in self.owned

    def revoked(self, partitions: set[int], total: int) -> None:
        """Monitoring partitions went to another instance: stop timing their services."""
        self.partitions = total
        self.owned = (self.owned if self.owned is not None else set(range(total))) - partitions
        for service in [s for s in self.scheduled if not self._owns(s)]:
            del self.scheduled[service]

    def schedule(self, service: str, due: int | None) -> None:
        if due is None or not self._owns(service):
            self.scheduled.pop(service, None)
            return
        if self.scheduled.get(service) != due:
            self.scheduled[service] = due
            heapq.heappush(self.heap, (due, service))
            if self.heap[0][1] == service:
                self.wake.set()  # a new earliest instant: the timer must sleep less

    async def run_timers(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self._sleep_until_due()
                await self.fire(now_ms())
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.exception("availability timer round failed; retrying", error=repr(exc))
                await asyncio.sleep(0.2)

    async def _sleep_until_due(self) -> None:
        self.wake.clear()
        delay = 3600.0
        if self.heap:
            delay = (self.heap[0][0] - now_ms()) / 1000
            if delay <= 0:
                return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.wake.wait(), delay)
